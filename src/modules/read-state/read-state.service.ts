import DataLoader from 'dataloader';
import type { Session, Viewer } from '../../auth/session.js';
import type { MessageStatus } from '../../generated/prisma/enums.js';
import { notFound } from '../../lib/errors.js';
import type { Database } from '../../db/database.js';
import { assertReadable, seesStaffOnly } from '../access/channel-rules.js';
import { channelVisibleSql, loadChannelFacts, messageVisibleSql } from '../access/channel-visibility.js';
import type { ChannelService } from '../channels/channels.service.js';
import { withTransaction } from '../../db/transaction.js';
import { pgRunner } from '../events/event-log.js';
import type { StatusEvents } from './status-events.js';
import { statusUpsertSql } from './status-transitions.js';

/** A viewer's read state in a channel they are a member of. */
export interface Membership {
  unreadCount: number;
  /** Unread messages that mention the viewer. */
  mentionCount: number;
}

/** One recipient's status of a message. */
export interface RecipientStatus {
  userId: string;
  status: MessageStatus;
  timestamp: Date;
  /** The platform's reason, when a delivery FAILED. */
  errorCode: string | null;
  errorTitle: string | null;
}

/** What ReadStateService is built from. */
export interface ReadStateServiceDeps {
  db: Database;
  statuses: StatusEvents;
}

export class ReadStateService {
  constructor(
    private readonly deps: ReadStateServiceDeps,
    private readonly channels: ChannelService,
  ) {}

  /**
   * Marks everything in the channel up to a message (default: the newest) as read by the viewer, in one
   * statement however many messages that covers: the member's read position moves forward, and each message
   * between the old and the new position that others wrote gets the viewer's READ status. Reading a public
   * channel joins it, as posting does; that is where the read position lives.
   */
  async markRead(session: Session, input: { channelId: string; upToMessageId?: string | null }): Promise<string[]> {
    const viewer = session.viewer;
    const facts = assertReadable(viewer, await loadChannelFacts(this.deps.db.pool, viewer, input.channelId));
    await this.channels.joinOnPost(viewer, facts);
    const { messageIds, logged } = await withTransaction(this.deps.db.pool, async (client) => {
      const { rows } = await client.query<{ messageId: string; missing: boolean; internal: boolean }>(
        `WITH target AS (
         SELECT m.id, m.created_at, m.channel_seq FROM messages m
         WHERE m.channel_id = $1 AND ($3::uuid IS NULL OR m.id = $3) AND ${messageVisibleSql(viewer)}
         ORDER BY m.created_at DESC, m.id DESC LIMIT 1
       ), member AS (
         SELECT cm.last_read_at, cm.last_read_message_id, cm.joined_at
         FROM channel_members cm WHERE cm.channel_id = $1 AND cm.user_id = $2 FOR UPDATE
       ), moved AS (
         UPDATE channel_members cm
         SET last_read_at = t.created_at, last_read_message_id = t.id, last_read_seq = t.channel_seq
         FROM target t
         WHERE cm.channel_id = $1 AND cm.user_id = $2
           AND (cm.last_read_at IS NULL OR (cm.last_read_at, cm.last_read_message_id) < (t.created_at, t.id))
       ), marked AS (
         ${statusUpsertSql(`
           SELECT m.id, $2::uuid, 'read'::message_status, clock_timestamp(), NULL, NULL
           FROM messages m, target t, member p
           WHERE m.channel_id = $1 AND m.user_id <> $2 AND m.deleted_at IS NULL AND ${messageVisibleSql(viewer)}
             AND (m.created_at, m.id) <= (t.created_at, t.id)
             AND (m.created_at, m.id) > (COALESCE(p.last_read_at, p.joined_at), COALESCE(p.last_read_message_id, '00000000-0000-0000-0000-000000000000'::uuid))`)}
       )
       SELECT message_id AS "messageId", false AS missing,
              EXISTS (SELECT 1 FROM messages mi WHERE mi.id = marked.message_id AND mi.internal) AS internal
       FROM marked
       UNION ALL
       SELECT NULL, true, false WHERE $3::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM target)`,
        [input.channelId, viewer.id, input.upToMessageId ?? null],
      );
      if (rows.some((row) => row.missing)) throw notFound('Message');
      const messageIds = rows.map((row) => row.messageId);
      const at = new Date();
      const read = (internal: boolean) => ({
        channelId: input.channelId,
        userId: viewer.id,
        status: 'READ' as const,
        messageIds: rows.filter((row) => row.internal === internal).map((row) => row.messageId),
        at,
        // Reads of internal notes are a change of their own, which the client is never told of.
        ...(internal ? { internal } : {}),
      });
      const logged = await this.deps.statuses.log(pgRunner(client), viewer.organizationId, [read(false), read(true)]);
      return { messageIds, logged };
    });
    this.deps.statuses.publish(viewer.organizationId, logged);
    return messageIds;
  }

  /**
   * Marks messages as delivered to the viewer's device, in one statement. Every id must be a message the
   * viewer may see; otherwise nothing changes and the answer is NOT_FOUND, as for any unknown id.
   */
  async markDelivered(session: Session, messageIds: readonly string[]): Promise<string[]> {
    const viewer = session.viewer;
    const ids = [...new Set(messageIds)];
    const { delivered, logged } = await withTransaction(this.deps.db.pool, async (client) => {
      const { rows } = await client.query<{
        messageId: string | null;
        channelId: string;
        visible: number;
        internal: boolean;
      }>(
        `WITH wanted AS (
         SELECT m.id, m.channel_id, m.user_id, m.internal FROM messages m
         WHERE m.id = ANY($1::uuid[]) AND m.organization_id = $3 AND ${messageVisibleSql(viewer)}
           AND ${channelVisibleSql('m.channel_id', '$2::uuid', '$4::text')}
       ), marked AS (
         ${statusUpsertSql(`
           SELECT w.id, $2::uuid, 'delivered'::message_status, clock_timestamp(), NULL, NULL FROM wanted w
           WHERE w.user_id <> $2 AND (SELECT count(*) FROM wanted) = cardinality($1::uuid[])`)}
       )
       SELECT w.id AS "messageId", w.channel_id AS "channelId", (SELECT count(*) FROM wanted)::int AS visible,
              w.internal
       FROM wanted w JOIN marked ON marked.message_id = w.id
       UNION ALL
       SELECT NULL, NULL, (SELECT count(*) FROM wanted)::int, false`,
        [ids, viewer.id, viewer.organizationId, viewer.role],
      );
      if ((rows.at(-1)?.visible ?? 0) !== ids.length) throw notFound('Message');
      // One change per channel, and internal notes' deliveries apart (the client is never told of them).
      const byChannel = new Map<string, string[]>();
      for (const row of rows) {
        if (!row.messageId) continue;
        const key = `${row.channelId}:${row.internal}`;
        byChannel.set(key, [...(byChannel.get(key) ?? []), row.messageId]);
      }
      const at = new Date();
      const logged = await this.deps.statuses.log(
        pgRunner(client),
        viewer.organizationId,
        [...byChannel].map(([key, changed]) => ({
          channelId: key.slice(0, key.indexOf(':')),
          userId: viewer.id,
          status: 'DELIVERED' as const,
          messageIds: changed,
          at,
          ...(key.endsWith(':true') ? { internal: true } : {}),
        })),
      );
      return { delivered: rows.flatMap((row) => (row.messageId ? [row.messageId] : [])), logged };
    });
    this.deps.statuses.publish(viewer.organizationId, logged);
    return delivered;
  }

  /**
   * A platform's report about our message to a client (WhatsApp sent/delivered/read/failed), applied
   * forward only. Returns whether the status changed.
   */
  async applyPlatformStatus(input: {
    organizationId: string;
    channelId: string;
    messageId: string;
    userId: string;
    status: MessageStatus;
    at: Date;
    errorCode?: string | null;
    errorTitle?: string | null;
  }): Promise<boolean> {
    const logged = await withTransaction(this.deps.db.pool, async (client) => {
      const result = await client.query(
        statusUpsertSql('VALUES ($1::uuid, $2::uuid, lower($3)::message_status, $4::timestamptz, $5, $6)'),
        [input.messageId, input.userId, input.status, input.at, input.errorCode ?? null, input.errorTitle ?? null],
      );
      if ((result.rowCount ?? 0) === 0) return [];
      return this.deps.statuses.log(pgRunner(client), input.organizationId, [
        {
          channelId: input.channelId,
          userId: input.userId,
          status: input.status,
          messageIds: [input.messageId],
          at: input.at,
        },
      ]);
    });
    this.deps.statuses.publish(input.organizationId, logged);
    return logged.length > 0;
  }

  /**
   * A page of a message's recipient statuses (who it was sent, delivered or read to, or failed for, and when),
   * for its author and admins only: null for anyone else. Keyset pages by recipient id, so that a status moving
   * forward never moves its row between pages.
   */
  async recipientStatuses(
    viewer: Viewer,
    message: { id: string; userId: string },
    page: { first: number; afterUserId: string | null },
  ): Promise<{ statuses: RecipientStatus[]; hasNextPage: boolean } | null> {
    if (viewer.role !== 'ADMIN' && viewer.id !== message.userId) return null;
    const { rows } = await this.deps.db.pool.query<RecipientStatus>(
      `SELECT user_id AS "userId", upper(status::text) AS status, timestamp, error_code AS "errorCode",
              error_title AS "errorTitle"
       FROM message_user_status
       WHERE message_id = $1 AND ($2::uuid IS NULL OR user_id > $2::uuid)
       ORDER BY user_id LIMIT $3`,
      [message.id, page.afterUserId, page.first + 1],
    );
    return { statuses: rows.slice(0, page.first), hasNextPage: rows.length > page.first };
  }

  /**
   * The viewer's membership of each channel with its unread count and unread mentions, for a page of channels in
   * one statement.
   * Unread are the messages from others after the read position (after joining when nothing was read yet).
   * The count costs a few index steps however many are unread: see unreadSql.
   */
  membershipLoader(viewer: Viewer): DataLoader<string, Membership | null> {
    return new DataLoader(async (channelIds) => {
      const { rows } = await this.deps.db.pool.query<Membership & { channelId: string }>(
        `SELECT cm.channel_id AS "channelId", ${unreadSql(viewer)} AS "unreadCount",
                ${unreadMentionsSql(viewer)} AS "mentionCount"
         FROM channel_members cm ${READ_POSITION_SQL}
         WHERE cm.user_id = $1 AND cm.channel_id = ANY($2::uuid[])`,
        [viewer.id, channelIds],
      );
      const byChannel = new Map(
        rows.map((row) => [row.channelId, { unreadCount: row.unreadCount, mentionCount: row.mentionCount }]),
      );
      return channelIds.map((id) => byChannel.get(id) ?? null);
    });
  }
}

/**
 * Joined to `channel_members cm` (whose user is $1): `read_position.seq`, the channel number (messages.channel_seq)
 * of the last message the member has read, or, when they have read nothing yet, of the last one before they
 * joined (0 for none). One index step either way.
 */
const READ_POSITION_SQL = `CROSS JOIN LATERAL (
  SELECT COALESCE(cm.last_read_seq,
                  (SELECT j.channel_seq FROM messages j WHERE j.channel_id = cm.channel_id AND j.created_at < cm.joined_at
                   ORDER BY j.created_at DESC, j.id DESC LIMIT 1),
                  0) AS seq
) read_position`;

/**
 * The member's unread messages, after READ_POSITION_SQL: channel numbers have no holes, so the messages after
 * the position are the channel's last number minus the position; less the messages after the position that do
 * not count, each read through an index of its own: the member's own (messages_channel_id_user_id_channel_seq_idx),
 * the deleted ones (the partial messages_deleted_channel_seq_idx) and, for a client, the internal notes they may
 * not see (the partial messages_internal_channel_seq_idx). The cost follows what does not count (the member's own
 * messages, deletions and notes since they last read), never the number of unread messages.
 */
const unreadSql = (viewer: Viewer) => `(
  COALESCE((SELECT l.channel_seq FROM messages l WHERE l.channel_id = cm.channel_id ORDER BY l.channel_seq DESC LIMIT 1), 0)
  - read_position.seq
  - (SELECT count(*) FROM messages own
     WHERE own.channel_id = cm.channel_id AND own.user_id = $1 AND own.channel_seq > read_position.seq)
  - (SELECT count(*) FROM messages gone
     WHERE gone.channel_id = cm.channel_id AND gone.deleted_at IS NOT NULL AND gone.user_id <> $1
       AND gone.channel_seq > read_position.seq)
  - ${
    seesStaffOnly(viewer)
      ? '0'
      : `(SELECT count(*) FROM messages note
          WHERE note.channel_id = cm.channel_id AND note.internal AND note.deleted_at IS NULL AND note.user_id <> $1
            AND note.channel_seq > read_position.seq)`
  }
)::int`;

/** The member's unread messages that mention them (one range of message_mentions: as many rows as mentions). */
const unreadMentionsSql = (viewer: Viewer) => `(
  SELECT count(*) FROM message_mentions mention JOIN messages mentioning ON mentioning.id = mention.message_id
  WHERE mention.user_id = $1 AND mention.channel_id = cm.channel_id AND mention.channel_seq > read_position.seq
    AND mentioning.deleted_at IS NULL AND mentioning.user_id <> $1 AND ${messageVisibleSql(viewer, 'mentioning')}
)::int`;
