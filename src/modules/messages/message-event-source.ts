import type pg from 'pg';
import type { MessageChange, MessageChangeKind } from '../events/organization-events.js';
import type { Sequenced, SequenceSource } from '../../realtime/sequenced-delivery.js';
import { MESSAGE_COLUMNS, type MessageRecord } from './message-record.js';

/** The kind of change a message row's latest sequence number stands for. */
export function kindOfRow(row: MessageRecord): MessageChangeKind {
  if (row.deletedAt) return 'DELETED';
  return row.eventSeq === row.createdSeq ? 'CREATED' : 'UPDATED';
}

/**
 * The messages of an organization whose latest change is numbered in (after, upTo] (no bound: up to now),
 * optionally in some channels only, in sequence order: what both the stream's gap filling and a subscription's
 * replay read.
 */
export async function readChangedMessages(
  pool: pg.Pool,
  organizationId: string,
  range: { after: bigint; upTo?: bigint; channelIds?: string[] | null; limit: number },
): Promise<MessageRecord[]> {
  const { rows } = await pool.query<MessageRecord>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
     WHERE m.organization_id = $1 AND m.event_seq > $2 AND ($3::bigint IS NULL OR m.event_seq <= $3)
       AND ($4::uuid[] IS NULL OR m.channel_id = ANY($4::uuid[]))
     ORDER BY m.event_seq LIMIT $5`,
    [organizationId, range.after.toString(), range.upTo?.toString() ?? null, range.channelIds ?? null, range.limit],
  );
  return rows;
}

/**
 * An organization's message changes read back from the database: each message row carries the number of its
 * latest change (`event_seq`), so a range of numbers is one index range; a number whose message changed again
 * since has no row and stands for nothing.
 */
export function messageEventSource(pool: pg.Pool, organizationId: string): SequenceSource<MessageChange> {
  return {
    async highWater() {
      const { rows } = await pool.query<{ seq: string }>(
        'SELECT last_seq::text AS seq FROM message_sequences WHERE organization_id = $1',
        [organizationId],
      );
      return BigInt(rows[0]?.seq ?? 0);
    },
    async read(after, upTo, limit): Promise<Sequenced<MessageChange>[]> {
      const rows = await readChangedMessages(pool, organizationId, { after, upTo, limit });
      return rows.map((row) => {
        const seq = BigInt(row.eventSeq);
        return { seq, event: { type: 'message', kind: kindOfRow(row), seq, message: row } };
      });
    },
  };
}
