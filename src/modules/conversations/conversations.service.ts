import type pg from 'pg';
import type { Session, Viewer } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import { withTransaction } from '../../db/transaction.js';
import type { ConversationStatus, Platform, UserRole } from '../../generated/prisma/enums.js';
import { badInput, notFound } from '../../lib/errors.js';
import { assertConversationManageable, type ChannelFacts, canRead, seesStaffOnly } from '../access/channel-rules.js';
import { channelVisibleSql, loadChannelFacts } from '../access/channel-visibility.js';
import { appendToLog, pgRunner } from '../events/event-log.js';
import type { ChannelChange } from '../events/organization-events.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import { CHOSEN_LINK_ORDER } from '../outbox/chosen-link.js';
import { type ConversationCursor, decodeConversationCursor, encodeConversationCursor } from './conversation-cursor.js';

/** One client conversation as the inbox lists it. */
export interface ConversationRow {
  channelId: string;
  clientUserId: string;
  /** The platform the client last wrote from (where replies go); null while the client has no verified link. */
  platform: Platform | null;
  status: ConversationStatus;
  assigneeId: string | null;
  /** The last message in the channel, or the client's assignment when nobody wrote yet. */
  lastActivityAt: Date;
  cursor: string;
}

export interface InboxPage {
  conversations: ConversationRow[];
  hasNextPage: boolean;
}

export interface InboxFilter {
  status?: ConversationStatus | null;
  assigneeId?: string | null;
  first: number;
  after?: string | null;
}

/** What ConversationService is built from. */
export interface ConversationServiceDeps {
  db: Database;
  stream: OrganizationStream;
  /** Who may do what in a channel, as cached for sending messages. */
  channels: { cachedFacts(viewer: Viewer, channelId: string): Promise<ChannelFacts | null> };
}

type ConversationChangeDraft =
  { kind: 'status'; status: ConversationStatus } | { kind: 'assignee'; assigneeId: string | null };

const toDb = (status: ConversationStatus) => status.toLowerCase();

/**
 * Client conversations as a support team works them: the inbox of client channels by latest activity, and
 * their status and assignee. Every change is one row of the conversation's timeline (conversation_changes)
 * and one channel change in the organization's event log, written in one transaction and announced after it.
 */
export class ConversationService {
  constructor(private readonly deps: ConversationServiceDeps) {}

  /** The client conversations the viewer (staff) may read, latest activity first, a page at a time. */
  async inbox(session: Session, filter: InboxFilter): Promise<InboxPage> {
    const viewer = session.assertStaff(session.organizationId);
    let position: ConversationCursor | null = null;
    if (filter.after != null) {
      position = decodeConversationCursor(filter.after);
      if (!position) throw badInput('after', 'is not a cursor this server issued');
    }
    const { rows } = await this.deps.db.pool.query<Omit<ConversationRow, 'cursor'> & { activityUs: string }>(
      `SELECT c.id AS "channelId", a.client_user_id AS "clientUserId", upper(chosen.platform::text) AS platform,
              upper(c.conversation_status::text) AS status, c.assignee_id AS "assigneeId",
              activity.at AS "lastActivityAt", (extract(epoch FROM activity.at) * 1000000)::bigint::text AS "activityUs"
       FROM client_channel_assignments a
       JOIN channels c ON c.id = a.channel_id AND c.organization_id = $1
       CROSS JOIN LATERAL (
         SELECT GREATEST(a.assigned_at, (SELECT m.created_at FROM messages m WHERE m.channel_id = c.id
                                         ORDER BY m.created_at DESC LIMIT 1)) AS at
       ) activity
       LEFT JOIN LATERAL (
         SELECT i.platform FROM client_platform_links l
         JOIN platform_integrations i ON i.id = l.platform_integration_id AND i.organization_id = $1 AND i.is_active
         WHERE l.client_user_id = a.client_user_id AND l.verification_status = 'verified'
         ORDER BY ${CHOSEN_LINK_ORDER} LIMIT 1
       ) chosen ON true
       WHERE a.is_active
         AND ($4::conversation_status IS NULL OR c.conversation_status = $4::conversation_status)
         AND ($5::uuid IS NULL OR c.assignee_id = $5::uuid)
         AND ($6::bigint IS NULL
              OR (activity.at, c.id) < ('epoch'::timestamptz + $6::bigint * interval '1 microsecond', $7::uuid))
         AND ${channelVisibleSql('c.id', '$2::uuid', '$3::text')}
       ORDER BY activity.at DESC, c.id DESC
       LIMIT $8`,
      [
        viewer.organizationId,
        viewer.id,
        viewer.role,
        filter.status ? toDb(filter.status) : null,
        filter.assigneeId ?? null,
        position?.activityUs ?? null,
        position?.channelId ?? null,
        filter.first + 1,
      ],
    );
    return {
      conversations: rows.slice(0, filter.first).map(({ activityUs, ...row }) => ({
        ...row,
        cursor: encodeConversationCursor({ activityUs, channelId: row.channelId }),
      })),
      hasNextPage: rows.length > filter.first,
    };
  }

  async setStatus(session: Session, input: { channelId: string; status: ConversationStatus }): Promise<void> {
    const viewer = session.viewer;
    assertConversationManageable(
      viewer,
      await this.deps.channels.cachedFacts(viewer, input.channelId),
      'input.channelId',
    );
    await this.change(viewer.organizationId, input.channelId, viewer.id, { kind: 'status', status: input.status });
  }

  /**
   * Hands a conversation to a colleague (null: to nobody). The assignee must already be able to read the
   * channel: BAD_USER_INPUT otherwise, rather than quietly widening who reads a customer's conversation.
   */
  async assign(session: Session, input: { channelId: string; assigneeId: string | null }): Promise<void> {
    const viewer = session.viewer;
    assertConversationManageable(
      viewer,
      await this.deps.channels.cachedFacts(viewer, input.channelId),
      'input.channelId',
    );
    if (input.assigneeId !== null)
      await this.assertAssignable(viewer.organizationId, input.channelId, input.assigneeId);
    await this.change(viewer.organizationId, input.channelId, viewer.id, {
      kind: 'assignee',
      assigneeId: input.assigneeId,
    });
  }

  /** A message from the client reopens their RESOLVED conversation (the client is the change's author). */
  async reopenOnClientMessage(organizationId: string, channelId: string, clientUserId: string): Promise<void> {
    // Every client message passes here: one plain read in the common case, the locked change only when resolved.
    const { rowCount } = await this.deps.db.pool.query(
      `SELECT 1 FROM channels WHERE id = $1 AND organization_id = $2 AND conversation_status = 'resolved'`,
      [channelId, organizationId],
    );
    if (!rowCount) return;
    await this.change(organizationId, channelId, clientUserId, { kind: 'status', status: 'OPEN' }, ['resolved']);
  }

  private async assertAssignable(organizationId: string, channelId: string, assigneeId: string): Promise<void> {
    const { rows } = await this.deps.db.pool.query<{ role: UserRole; isActive: boolean }>(
      `SELECT upper(role::text) AS role, is_active AS "isActive" FROM users WHERE id = $1 AND organization_id = $2`,
      [assigneeId, organizationId],
    );
    const assignee = rows[0];
    if (!assignee) throw notFound('User');
    if (!assignee.isActive) throw badInput('input.assigneeId', 'is deactivated');
    const asAssignee: Viewer = { id: assigneeId, organizationId, role: assignee.role };
    if (!seesStaffOnly(asAssignee)) throw badInput('input.assigneeId', 'must be a staff member, not a client');
    const facts = await loadChannelFacts(this.deps.db.pool, asAssignee, channelId);
    if (!facts || !canRead(asAssignee, facts))
      throw badInput('input.assigneeId', 'cannot read this channel; add them to its members first');
  }

  /**
   * Applies one change under the channel's row lock, unless it changes nothing (or the status is not one of
   * `onlyFrom`): the channel, a timeline row and the event log in one transaction, announced after the commit.
   */
  private async change(
    organizationId: string,
    channelId: string,
    actorId: string,
    draft: ConversationChangeDraft,
    onlyFrom?: string[],
  ): Promise<void> {
    const logged = await withTransaction(this.deps.db.pool, async (client) => {
      const { rows } = await client.query<{ status: string; assigneeId: string | null }>(
        `SELECT conversation_status::text AS status, assignee_id AS "assigneeId" FROM channels
         WHERE id = $1 AND organization_id = $2 FOR UPDATE`,
        [channelId, organizationId],
      );
      const current = rows[0];
      if (!current) throw notFound('Channel');
      if (onlyFrom && !onlyFrom.includes(current.status)) return [];
      const status = draft.kind === 'status' ? toDb(draft.status) : current.status;
      const assigneeId = draft.kind === 'assignee' ? draft.assigneeId : current.assigneeId;
      if (status === current.status && assigneeId === current.assigneeId) return [];
      await this.write(client, { organizationId, channelId, actorId, kind: draft.kind, status, assigneeId });
      return appendToLog<Omit<Extract<ChannelChange, { change: 'conversation' }>, 'seq'>>(
        pgRunner(client),
        organizationId,
        [
          {
            type: 'channel',
            change: 'conversation',
            channelId,
            status: status.toUpperCase() as ConversationStatus,
            assigneeId,
          },
        ],
      );
    });
    for (const event of logged) void this.deps.stream.publish(organizationId, event);
  }

  private async write(
    client: pg.PoolClient,
    change: {
      organizationId: string;
      channelId: string;
      actorId: string;
      kind: 'status' | 'assignee';
      status: string;
      assigneeId: string | null;
    },
  ): Promise<void> {
    await client.query(
      `WITH updated AS (
         UPDATE channels SET conversation_status = $3::conversation_status, assignee_id = $4, updated_at = now()
         WHERE id = $2
       )
       INSERT INTO conversation_changes (organization_id, channel_id, kind, actor_id, status, assignee_id)
       VALUES ($1, $2, $5::conversation_change_kind, $6, $3::conversation_status, $4)`,
      [change.organizationId, change.channelId, change.status, change.assigneeId, change.kind, change.actorId],
    );
  }
}
