import type pg from 'pg';
import type { Session } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import { withTransaction } from '../../db/transaction.js';
import { appendToLog, pgRunner } from '../events/event-log.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { MessageService } from '../messages/messages.service.js';
import { acceptsResponses, type MessageRecord, refusedResponse } from '../messages/message-record.js';

/** What ReactionService is built from. */
export interface ReactionServiceDeps {
  db: Database;
  stream: OrganizationStream;
}

export class ReactionService {
  constructor(
    private readonly deps: ReactionServiceDeps,
    private readonly messages: MessageService,
  ) {}

  /** Idempotent: one row per message, user and emoji; only a real change is announced. */
  async add(session: Session, input: { messageId: string; emoji: string }): Promise<MessageRecord> {
    const message = await this.reactable(session, input.messageId);
    await this.set(message, session.viewer.id, input.emoji, true);
    return message;
  }

  async remove(session: Session, input: { messageId: string; emoji: string }): Promise<MessageRecord> {
    const message = await this.reactable(session, input.messageId);
    await this.set(message, session.viewer.id, input.emoji, false);
    return message;
  }

  /**
   * The client's current reaction on a message, replaced (WhatsApp and Instagram allow one per person), or
   * taken back (null). Two changes applied at once (Meta's deliveries processed by two instances) leave one
   * reaction, not one each.
   */
  async replaceFromPlatform(message: MessageRecord, userId: string, emoji: string | null): Promise<void> {
    await this.change(message, userId, async (client) => {
      const { rows } = await client.query<{ emoji: string }>(
        'DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji IS DISTINCT FROM $3 RETURNING emoji',
        [message.id, userId, emoji],
      );
      const changes = rows.map((row): ReactionEdit => ({ emoji: row.emoji, kind: 'REMOVED' }));
      if (emoji && (await insertReaction(client, message.id, userId, emoji))) changes.push({ emoji, kind: 'ADDED' });
      return changes;
    });
  }

  private async set(message: MessageRecord, userId: string, emoji: string, present: boolean): Promise<void> {
    await this.change(message, userId, async (client): Promise<ReactionEdit[]> => {
      const changed = present
        ? await insertReaction(client, message.id, userId, emoji)
        : ((
            await client.query('DELETE FROM message_reactions WHERE message_id = $1 AND user_id = $2 AND emoji = $3', [
              message.id,
              userId,
              emoji,
            ])
          ).rowCount ?? 0) > 0;
      return changed ? [{ emoji, kind: present ? 'ADDED' : 'REMOVED' }] : [];
    });
  }

  /**
   * Applies a change to one person's reactions on one message in a transaction that also logs what really
   * changed, numbered in the organization's sequence, and announces it once committed. Changes of one person on
   * one message wait for each other (a transaction-scoped lock), so two made at once (two instances, two
   * devices) leave one consistent set of reactions; subscribers receive them in their numbers' order.
   */
  private async change(
    message: MessageRecord,
    userId: string,
    apply: (client: pg.PoolClient) => Promise<ReactionEdit[]>,
  ): Promise<void> {
    const logged = await withTransaction(this.deps.db.pool, async (client) => {
      await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`reaction:${message.id}:${userId}`]);
      const edits = await apply(client);
      const at = new Date();
      return appendToLog(
        pgRunner(client),
        message.organizationId,
        edits.map((edit) => ({
          type: 'reaction' as const,
          kind: edit.kind,
          channelId: message.channelId,
          messageId: message.id,
          emoji: edit.emoji,
          userId,
          at,
          ...(message.internal ? { internal: true } : {}),
        })),
      );
    });
    for (const event of logged) void this.deps.stream.publish(message.organizationId, event);
  }

  private async reactable(session: Session, messageId: string): Promise<MessageRecord> {
    const message = await this.messages.readable(session.viewer, messageId);
    if (!acceptsResponses(message)) throw refusedResponse('input.messageId');
    return message;
  }
}

interface ReactionEdit {
  emoji: string;
  kind: 'ADDED' | 'REMOVED';
}

/** One row per message, person and emoji: adding what is there already changes nothing. */
async function insertReaction(client: pg.PoolClient, messageId: string, userId: string, emoji: string) {
  const inserted = await client.query(
    `INSERT INTO message_reactions (message_id, user_id, emoji) VALUES ($1, $2, $3)
     ON CONFLICT (message_id, user_id, emoji) DO NOTHING`,
    [messageId, userId, emoji],
  );
  return (inserted.rowCount ?? 0) > 0;
}
