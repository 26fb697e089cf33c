import type pg from 'pg';
import type { ChannelChange, LoggedChange, ReactionChange, StatusChange } from './organization-events.js';

/** Runs one SQL statement in the caller's transaction (a pg client's `query`, or Prisma's `$queryRawUnsafe`). */
export type SqlRunner = (text: string, values: unknown[]) => Promise<{ rows: unknown[] }>;

export const pgRunner =
  (client: Pick<pg.PoolClient, 'query'>): SqlRunner =>
  (text, values) =>
    client.query(text, values);

export const prismaRunner =
  (tx: { $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T> }): SqlRunner =>
  async (text, values) => ({ rows: await tx.$queryRawUnsafe<unknown[]>(text, ...values) });

type Logged = ReactionChange | StatusChange | ChannelChange;

/**
 * Appends changes to the organization's event log in the caller's transaction, numbered in the organization's
 * sequence. Numbering takes the organization's `message_sequences` row lock, held until the transaction ends, so
 * numbers are given in commit order, interleaved with message changes; call it last in the transaction, so the
 * lock is held briefly. Returns the changes with their numbers, to publish once the transaction has committed.
 */
export async function appendToLog<C extends LoggedChange>(
  run: SqlRunner,
  organizationId: string,
  changes: C[],
): Promise<(C & { seq: bigint })[]> {
  if (changes.length === 0) return [];
  const { rows } = await run(
    `WITH numbered AS (
       INSERT INTO message_sequences AS s (organization_id, last_seq) VALUES ($1::uuid, $2::bigint)
       ON CONFLICT (organization_id) DO UPDATE SET last_seq = s.last_seq + $2::bigint
       RETURNING s.last_seq - $2::bigint AS base
     )
     INSERT INTO organization_events (organization_id, seq, type, channel_id, payload)
     SELECT $1::uuid, numbered.base + e.ord, e.type::organization_event_type, e.channel_id, e.payload
     FROM numbered, unnest($3::text[], $4::uuid[], $5::jsonb[]) WITH ORDINALITY AS e(type, channel_id, payload, ord)
     RETURNING seq::text AS seq`,
    [
      organizationId,
      changes.length,
      changes.map((change) => change.type),
      changes.map(channelIdOf),
      changes.map((change) => JSON.stringify(payloadOf(change))),
    ],
  );
  const seqs = (rows as { seq: string }[]).map((row) => BigInt(row.seq)).sort((a, b) => (a < b ? -1 : 1));
  return changes.map((change, index) => ({ ...change, seq: seqs[index]! }));
}

/**
 * Logged changes of an organization numbered in (after, upTo] (no bound: up to now), in order: all of them, or
 * those of some channels plus every channel change (a viewer is told of channels they lost, too).
 */
export async function readLog(
  db: pg.Pool,
  organizationId: string,
  range: { after: bigint; upTo?: bigint; channelIds?: string[] | null; types?: Logged['type'][]; limit: number },
): Promise<Logged[]> {
  const { rows } = await db.query<{ seq: string; type: Logged['type']; payload: Record<string, unknown> }>(
    `SELECT e.seq::text AS seq, e.type::text AS type, e.payload FROM organization_events e
     WHERE e.organization_id = $1 AND e.seq > $2 AND ($3::bigint IS NULL OR e.seq <= $3)
       AND ($4::uuid[] IS NULL OR e.channel_id = ANY($4::uuid[]) OR e.type = 'channel')
       AND ($5::organization_event_type[] IS NULL OR e.type = ANY($5::organization_event_type[]))
     ORDER BY e.seq LIMIT $6`,
    [
      organizationId,
      range.after.toString(),
      range.upTo?.toString() ?? null,
      range.channelIds ?? null,
      range.types ?? null,
      range.limit,
    ],
  );
  return rows.map((row) => fromPayload(row.type, BigInt(row.seq), row.payload));
}

/**
 * Forgets logged changes older than `olderThan`, a batch at a time, and moves each organization's
 * `retained_from_seq` past them: a cursor before it can no longer be resumed. Returns how many were pruned.
 */
export async function pruneLog(db: pg.Pool, olderThan: Date, batch: number): Promise<number> {
  const { rows } = await db.query<{ pruned: number }>(
    `WITH doomed AS (
       SELECT organization_id, seq FROM organization_events WHERE created_at < $1
       ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED
     ), deleted AS (
       DELETE FROM organization_events e USING doomed
       WHERE e.organization_id = doomed.organization_id AND e.seq = doomed.seq
       RETURNING e.organization_id, e.seq
     ), moved AS (
       UPDATE message_sequences s SET retained_from_seq = GREATEST(s.retained_from_seq, d.max_seq)
       FROM (SELECT organization_id, max(seq) AS max_seq FROM deleted GROUP BY organization_id) d
       WHERE s.organization_id = d.organization_id
     )
     SELECT count(*)::int AS pruned FROM deleted`,
    [olderThan, batch],
  );
  return rows[0]?.pruned ?? 0;
}

function channelIdOf(change: LoggedChange): string | null {
  if (change.type !== 'channel') return change.channelId;
  switch (change.change) {
    // Changes of several channels are read by every subscriber, who sees what they concern (channelsOf).
    case 'role-changed':
    case 'client-assigned':
      return null;
    default:
      return change.channelId;
  }
}

function payloadOf(change: LoggedChange): Record<string, unknown> {
  const { type: _type, ...payload } = change;
  return payload;
}

function fromPayload(type: Logged['type'], seq: bigint, payload: Record<string, unknown>): Logged {
  if (type === 'channel') return { ...payload, type, seq } as ChannelChange;
  const at = new Date(payload.at as string);
  if (type === 'reaction') return { ...(payload as Omit<ReactionChange, 'type' | 'seq' | 'at'>), type, seq, at };
  return { ...(payload as Omit<StatusChange, 'type' | 'seq' | 'at'>), type, seq, at };
}
