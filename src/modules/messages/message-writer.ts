import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { withPipelinedTransaction, withTransaction } from '../../db/transaction.js';
import type { Logger } from '../../logger.js';
import { type MentionResolver, storeMentions } from './mentions.js';
import { MESSAGE_COLUMNS, type MessageRecord } from './message-record.js';

/** A message to write: what its author gives, before the writer numbers and timestamps it. */
export type MessageDraft = Pick<
  MessageRecord,
  'channelId' | 'userId' | 'content' | 'messageType' | 'metadata' | 'threadId' | 'messageSource'
> & {
  /** An internal note (default: no). */
  internal?: boolean;
  /** Set for platform messages; the pair is unique, so a redelivered platform message is stored once. */
  platformIntegrationId?: string | null;
  externalMessageId?: string | null;
};

export type InsertOutcome = { created: true; message: MessageRecord } | { created: false; message: MessageRecord };

/**
 * Where messages written in channels that have clients go next (the platform outbox): queued inside the
 * transaction that stores the messages, so a message is never stored without its deliveries, nor the reverse,
 * and woken once that transaction has committed.
 */
export interface PlatformDeliveries {
  /**
   * Queues the deliveries of these new messages (those in client channels have some) on the open transaction;
   * how many. The statement is issued at once, before anything is awaited (the writer pipelines it).
   */
  enqueueInTransaction(
    client: pg.PoolClient,
    messages: Pick<MessageRecord, 'id' | 'organizationId' | 'channelId' | 'userId' | 'messageSource' | 'internal'>[],
  ): Promise<number>;
  /** Called after the commit of a transaction that queued some. */
  wake(): void;
}

export type ChangeOutcome = MessageRecord | null;

const MAX_BATCH = 256;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A draft with its id and the people its content mentions, resolved before it joins a batch. */
type NumberedDraft = MessageDraft & { id: string; mentionedUserIds: string[] };

interface Pending {
  draft: NumberedDraft;
  resolve: (outcome: InsertOutcome) => void;
  reject: (error: unknown) => void;
}

/**
 * Writes messages in the order everyone will see them. Every change takes the organization's next sequence
 * number and (for new messages) a creation time later than any before it, while holding the organization's
 * `message_sequences` row lock until commit; so commit order, time order and sequence order agree, and a
 * client paging or resuming by cursor can never skip a message that committed late.
 *
 * Concurrent sends of an organization are grouped: while one transaction runs, the next requests gather
 * and go together in the following one (one lock, one multi-row INSERT, one commit for up to 256 messages,
 * sent as one pipeline: one round trip). This is what lets the serialising lock sustain a busy server: the lock
 * is held per batch, not per message, and for the database's time only, not the client's round trips.
 */
export class MessageWriter {
  private readonly queues = new Map<string, { pending: Pending[]; flushing: boolean }>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly platforms: PlatformDeliveries,
    private readonly mentions: MentionResolver,
  ) {}

  async insert(organizationId: string, draft: MessageDraft): Promise<InsertOutcome> {
    const mentionedUserIds = await this.mentions.resolve(organizationId, draft.content);
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(organizationId);
      if (!queue) this.queues.set(organizationId, (queue = { pending: [], flushing: false }));
      queue.pending.push({ draft: { ...draft, id: randomUUID(), mentionedUserIds }, resolve, reject });
      if (!queue.flushing) void this.flush(organizationId);
    });
  }

  /**
   * Changes one message under the sequence lock: `assignments` is the SET list (its parameters start at $3),
   * `conditions` an extra WHERE (e.g. the author), both over `messages m`. Returns the row after the change,
   * or null when no row matched (unknown, foreign, already deleted, or not the author's). A change of content
   * gives `content`, whose mentions then replace the message's.
   */
  async change(
    organizationId: string,
    messageId: string,
    change: { assignments: string; conditions?: string; params?: unknown[]; content?: string },
  ): Promise<ChangeOutcome> {
    const mentionedUserIds =
      change.content === undefined ? undefined : await this.mentions.resolve(organizationId, change.content);
    return this.underSequenceLock(organizationId, async (client) => {
      const { rows } = await client.query<MessageRecord>(
        `WITH next AS (
           SELECT last_seq + 1 AS seq FROM message_sequences WHERE organization_id = $1
         ), changed AS (
           UPDATE messages m SET ${change.assignments}, event_seq = next.seq, updated_at = clock_timestamp()
           FROM next
           WHERE m.id = $2 AND m.organization_id = $1 AND m.deleted_at IS NULL ${change.conditions ? `AND (${change.conditions})` : ''}
           RETURNING ${MESSAGE_COLUMNS}
         ), bump AS (
           UPDATE message_sequences SET last_seq = last_seq + 1
           WHERE organization_id = $1 AND EXISTS (SELECT 1 FROM changed)
         )
         SELECT * FROM changed`,
        [organizationId, messageId, ...(change.params ?? [])],
      );
      const changed = rows[0] ?? null;
      if (changed && mentionedUserIds) {
        await client.query('DELETE FROM message_mentions WHERE message_id = $1', [changed.id]);
        await storeMentions(
          client,
          mentionedUserIds.map((userId) => ({ messageId: changed.id, userId })),
        );
      }
      return changed;
    });
  }

  private async flush(organizationId: string): Promise<void> {
    const queue = this.queues.get(organizationId)!;
    queue.flushing = true;
    try {
      while (queue.pending.length > 0) {
        const batch = queue.pending.splice(0, MAX_BATCH);
        try {
          const outcomes = await this.insertBatch(
            organizationId,
            batch.map((item) => item.draft),
          );
          batch.forEach((item, index) => item.resolve(outcomes[index]!));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          // One bad row must not fail its neighbours: retry each alone, so only the culprit sees an error.
          this.logger.warn({ err: error, size: batch.length }, 'message batch failed; retrying one by one');
          for (const item of batch) {
            await this.insertBatch(organizationId, [item.draft]).then(
              ([outcome]) => item.resolve(outcome!),
              (itemError: unknown) => item.reject(itemError),
            );
          }
        }
      }
    } finally {
      queue.flushing = false;
      if (queue.pending.length === 0) this.queues.delete(organizationId);
      else void this.flush(organizationId);
    }
  }

  private async insertBatch(organizationId: string, drafts: NumberedDraft[]): Promise<InsertOutcome[]> {
    // A platform message delivered twice in the same batch is one message.
    const firstByExternalKey = new Map<string, string>();
    for (const draft of drafts) {
      const key = externalKey(draft);
      if (key && !firstByExternalKey.has(key)) firstByExternalKey.set(key, draft.id);
    }
    const unique = drafts.filter((draft) => {
      const key = externalKey(draft);
      return !key || firstByExternalKey.get(key) === draft.id;
    });

    // Every statement of the batch goes out at once, and COMMIT with them: one round trip. The mentions and the
    // platform deliveries are written from the drafts, joined to the rows the INSERT made just before them in
    // the same transaction; a platform message already stored has no row of this batch, so it gets neither.
    // The lock is taken in a statement before the INSERT: the INSERT's snapshot is then taken after every
    // earlier batch of this organization has committed, so its duplicate check sees their platform messages.
    const [inserted, queuedForPlatforms] = await this.underSequenceLock(
      organizationId,
      (client) =>
        Promise.all([
          client.query<MessageRecord>({
            // Prepared once per connection: this statement runs for every batch.
            name: 'insert-message-batch',
            text: INSERT_BATCH_SQL,
            values: [
              organizationId,
              unique.map((d) => d.id),
              unique.map((d) => d.channelId),
              unique.map((d) => d.userId),
              unique.map((d) => d.content),
              unique.map((d) => d.messageType.toLowerCase()),
              unique.map((d) => (d.metadata === null || d.metadata === undefined ? null : JSON.stringify(d.metadata))),
              unique.map((d) => d.threadId),
              unique.map((d) => d.platformIntegrationId ?? null),
              unique.map((d) => d.externalMessageId ?? null),
              unique.map((d) => d.messageSource.toLowerCase()),
              unique.map((d) => d.internal ?? false),
            ],
          }),
          storeMentions(
            client,
            unique.flatMap((draft) => draft.mentionedUserIds.map((userId) => ({ messageId: draft.id, userId }))),
          ),
          // Only messages written in the app can have deliveries, and those are never deduplicated: every one
          // is inserted.
          this.platforms.enqueueInTransaction(
            client,
            unique
              .filter((draft) => !externalKey(draft))
              .map((draft) => ({ ...draft, organizationId, internal: draft.internal ?? false })),
          ),
        ]).then(([{ rows }, , queued]) => [rows, queued] as const),
      { pipelined: true },
    );
    if (queuedForPlatforms > 0) this.platforms.wake();

    const byId = new Map(inserted.map((row) => [row.id, row]));
    const existing = await this.existingPlatformMessages(drafts.filter((draft) => !byId.has(draft.id)));
    return drafts.map((draft) => {
      const created = byId.get(draft.id);
      if (created) return { created: true, message: created };
      const found = existing.get(externalKey(draft) ?? '');
      if (!found) throw new Error(`message ${draft.id} was neither inserted nor found`);
      return { created: false, message: found };
    });
  }

  private async existingPlatformMessages(drafts: MessageDraft[]): Promise<Map<string, MessageRecord>> {
    const keyed = drafts.filter((draft) => externalKey(draft));
    if (keyed.length === 0) return new Map();
    const { rows } = await this.pool.query<MessageRecord>(
      `SELECT ${MESSAGE_COLUMNS} FROM messages m
       JOIN unnest($1::uuid[], $2::text[]) AS k(integration_id, external_id)
         ON m.platform_integration_id = k.integration_id AND m.external_message_id = k.external_id`,
      [keyed.map((d) => d.platformIntegrationId), keyed.map((d) => d.externalMessageId)],
    );
    return new Map(rows.map((row) => [`${row.platformIntegrationId}\u0000${row.externalMessageId}`, row]));
  }

  /**
   * Runs `work` in a transaction holding the organization's `message_sequences` row lock. The lock travels
   * with BEGIN in one round trip, as an upsert that also creates the clock of an organization made without
   * one; a multi-statement query takes no parameters, so the id is inlined, after checking it is a UUID.
   * `pipelined`: the whole transaction in one round trip (see withPipelinedTransaction for what `work` may do).
   */
  private underSequenceLock<T>(
    organizationId: string,
    work: (client: pg.PoolClient) => Promise<T>,
    options: { pipelined?: boolean } = {},
  ): Promise<T> {
    if (!UUID.test(organizationId)) throw new Error(`not an organization id: ${organizationId}`);
    const lock = `INSERT INTO message_sequences AS s (organization_id) VALUES ('${organizationId}')
      ON CONFLICT (organization_id) DO UPDATE SET last_seq = s.last_seq`;
    if (!options.pipelined) return withTransaction(this.pool, work, { firstStatement: lock });
    // The batch's prepared statements run on their plan made once per connection. Left to choose, PostgreSQL
    // plans the INSERT again on every execution (a plan for the batch's own array lengths looks cheaper than the
    // general one), and that planning cost more than the writing; the general plan uses the same indexes.
    return withPipelinedTransaction(this.pool, work, {
      firstStatement: `SET LOCAL plan_cache_mode = force_generic_plan; ${lock}`,
    });
  }
}

const externalKey = (draft: MessageDraft) =>
  draft.platformIntegrationId && draft.externalMessageId
    ? `${draft.platformIntegrationId}\u0000${draft.externalMessageId}`
    : undefined;

// New messages take consecutive sequence numbers and creation times one microsecond apart, starting after
// the organization's last ones (or at the clock, when that is later), and the next numbers of their channels.
// Platform messages already stored are skipped before numbering, so neither sequence has holes.
const INSERT_BATCH_SQL = `
  WITH input AS (
    SELECT * FROM unnest($2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::message_type[], $7::jsonb[],
                         $8::uuid[], $9::uuid[], $10::text[], $11::message_source[], $12::boolean[])
      WITH ORDINALITY AS i(id, channel_id, user_id, content, message_type, metadata, thread_id,
                           platform_integration_id, external_message_id, message_source, internal, ord)
  ), fresh AS (
    SELECT i.*, row_number() OVER (ORDER BY i.ord) AS n,
           row_number() OVER (PARTITION BY i.channel_id ORDER BY i.ord) AS channel_n
    FROM input i
    WHERE i.external_message_id IS NULL OR NOT EXISTS (
      SELECT 1 FROM messages e
      WHERE e.platform_integration_id = i.platform_integration_id AND e.external_message_id = i.external_message_id)
  ), channel_last AS (
    -- Each channel's last number so far (one index step per channel: the sequence lock keeps it current).
    SELECT c.channel_id,
           COALESCE((SELECT e.channel_seq FROM messages e WHERE e.channel_id = c.channel_id
                     ORDER BY e.channel_seq DESC LIMIT 1), 0) AS last_seq
    FROM (SELECT DISTINCT channel_id FROM fresh) c
  ), clock AS (
    SELECT last_seq, GREATEST(clock_timestamp(), last_created_at + interval '1 microsecond') AS first_at
    FROM message_sequences WHERE organization_id = $1
  ), inserted AS (
    INSERT INTO messages AS m (id, organization_id, channel_id, user_id, content, message_type, metadata, thread_id,
                               platform_integration_id, external_message_id, message_source, internal,
                               event_seq, created_seq, channel_seq, created_at, updated_at)
    SELECT f.id, $1, f.channel_id, f.user_id, f.content, f.message_type, f.metadata, f.thread_id,
           f.platform_integration_id, f.external_message_id, f.message_source, f.internal,
           clock.last_seq + f.n, clock.last_seq + f.n, channel_last.last_seq + f.channel_n,
           clock.first_at + (f.n - 1) * interval '1 microsecond', clock.first_at + (f.n - 1) * interval '1 microsecond'
    FROM fresh f CROSS JOIN clock JOIN channel_last ON channel_last.channel_id = f.channel_id
    ORDER BY f.n
    RETURNING ${MESSAGE_COLUMNS}
  ), bump AS (
    UPDATE message_sequences s
    SET last_seq = clock.last_seq + counted.total,
        last_created_at = clock.first_at + (counted.total - 1) * interval '1 microsecond'
    FROM clock, (SELECT count(*) AS total FROM fresh) counted
    WHERE s.organization_id = $1 AND counted.total > 0
  )
  SELECT * FROM inserted ORDER BY "createdSeq"::bigint`;
