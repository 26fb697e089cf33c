import type pg from 'pg';
import type { Session } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
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
      const changes = rows.map((row): ReactionChange => ({ emoji: row.emoji, kind: 'REMOVED' }));
      if (emoji && (await insertReaction(client, message.id, userId, emoji))) changes.push({ emoji, kind: 'ADDED' });
      return changes;
    });
  }

  private async set(message: MessageRecord, userId: string, emoji: string, present: boolean): Promise<void> {
    await this.change(message, userId, async (client): Promise<ReactionChange[]> => {
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
   * Applies a change to one person's reactions on one message in a transaction and announces what really
   * changed, under a lock on that message and person held until the announcement has left for the bus. Two
   * changes made at once (two instances, two devices) are then stored one after the other and announced in
   * the same order; were the lock released at the commit, the later change's REMOVED could overtake the
   * earlier one's ADDED on its way to subscribers, who would keep a reaction that is gone.
   */
  private async change(
    message: MessageRecord,
    userId: string,
    apply: (client: pg.PoolClient) => Promise<ReactionChange[]>,
  ): Promise<void> {
    const client = await this.deps.db.pool.connect();
    const lockKey = `reaction:${message.id}:${userId}`;
    let broken: Error | undefined;
    try {
      await client.query('SELECT pg_advisory_lock(hashtextextended($1, 0))', [lockKey]);
      try {
        await client.query('BEGIN');
        const changes = await apply(client);
        await client.query('COMMIT');
        await Promise.all(changes.map((change) => this.announce(message, userId, change)));
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        // A connection that cannot say unlock may still hold the lock: it leaves the pool instead of returning.
        await client.query('SELECT pg_advisory_unlock(hashtextextended($1, 0))', [lockKey]).catch((error: Error) => {
          broken = error;
        });
      }
    } catch (error) {
      broken ??= error instanceof Error ? error : new Error(String(error));
      throw error;
    } finally {
      client.release(broken);
    }
  }

  private announce(message: MessageRecord, userId: string, change: ReactionChange): Promise<void> {
    return this.deps.stream.publish(message.organizationId, {
      type: 'reaction',
      kind: change.kind,
      channelId: message.channelId,
      messageId: message.id,
      emoji: change.emoji,
      userId,
      at: new Date(),
    });
  }

  private async reactable(session: Session, messageId: string): Promise<MessageRecord> {
    const message = await this.messages.readable(session.viewer, messageId);
    if (!acceptsResponses(message)) throw refusedResponse('input.messageId');
    return message;
  }
}

interface ReactionChange {
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
