import type { Session, Viewer } from '../../auth/session.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { ChannelType } from '../../generated/prisma/enums.js';
import { badInput, forbidden, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { Database } from '../../db/database.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import { appendToLog, prismaRunner } from '../events/event-log.js';
import type { LoggedChange } from '../events/organization-events.js';
import { ChannelFactsCache } from '../access/channel-facts-cache.js';
import { assertReadable, canRead, type ChannelFacts } from '../access/channel-rules.js';
import { channelVisibleSql, loadChannelFacts, visibleChannelsWhere } from '../access/channel-visibility.js';

export interface CreateChannelInput {
  name: string;
  description?: string | null;
  channelType: ChannelType;
  memberIds?: readonly string[] | null;
}

export interface UpdateChannelInput {
  id: string;
  name?: string | null;
  description?: string | null;
  channelType?: ChannelType | null;
}

/** What ChannelService is built from. */
export interface ChannelServiceDeps {
  db: Database;
  stream: OrganizationStream;
}

type ChannelChangeDraft = Extract<LoggedChange, { type: 'channel' }>;

export class ChannelService {
  private readonly factsCache: ChannelFactsCache;

  constructor(private readonly deps: ChannelServiceDeps) {
    this.factsCache = new ChannelFactsCache({ pool: deps.db.pool, stream: deps.stream });
  }

  /** The Prisma filter for the channels the viewer may see. */
  listWhere(session: Session): Prisma.ChannelWhereInput {
    return visibleChannelsWhere(session.viewer);
  }

  /**
   * The ids of a page of the channels the viewer may see, latest activity first: by their newest message (in
   * the organization's order), then those without messages, newest first. `afterId` is the last channel of the
   * previous page; null when it is not a channel the viewer may see (its cursor was not issued for this list).
   * One statement: one index step per visible channel for its newest message.
   */
  async idsByActivity(session: Session, page: { afterId: string | null; take: number }): Promise<string[] | null> {
    const viewer = session.viewer;
    const { rows } = await this.deps.db.pool.query<{ id: string | null }>(
      `WITH visible AS (
         SELECT c.id, c.created_at,
                COALESCE((SELECT m.created_seq FROM messages m WHERE m.channel_id = c.id
                          ORDER BY m.channel_seq DESC LIMIT 1), 0) AS active_seq
         FROM channels c
         WHERE c.organization_id = $1 AND ${channelVisibleSql('c.id', '$2::uuid', '$3::text')}
       ), after AS (SELECT * FROM visible WHERE id = $4::uuid)
       SELECT v.id FROM (
         SELECT v.id, v.active_seq, v.created_at FROM visible v
         WHERE $4::uuid IS NULL
            OR (v.active_seq, v.created_at, v.id) < (SELECT a.active_seq, a.created_at, a.id FROM after a)
         ORDER BY v.active_seq DESC, v.created_at DESC, v.id DESC LIMIT $5
       ) v
       UNION ALL
       SELECT NULL WHERE $4::uuid IS NOT NULL AND NOT EXISTS (SELECT 1 FROM after)`,
      [viewer.organizationId, viewer.id, viewer.role, page.afterId, page.take],
    );
    if (rows.some((row) => row.id === null)) return null;
    return rows.map((row) => row.id!);
  }

  /** A channel the viewer may see, or null: another organization's channel is no different from none. */
  async find(session: Session, id: string, query: PrismaSelection = {}) {
    return this.deps.db.prisma.channel.findFirst({ ...query, where: { id, ...visibleChannelsWhere(session.viewer) } });
  }

  facts(viewer: Viewer, channelId: string): Promise<ChannelFacts | null> {
    return loadChannelFacts(this.deps.db.pool, viewer, channelId);
  }

  /** The same facts from this instance's cache, kept current by access events: for sending messages. */
  cachedFacts(viewer: Viewer, channelId: string): Promise<ChannelFacts | null> {
    return this.factsCache.get(viewer, channelId);
  }

  close(): void {
    this.factsCache.close();
  }

  async create(session: Session, input: CreateChannelInput, query: PrismaSelection = {}) {
    const viewer = session.assertStaff(session.organizationId);
    if (input.channelType === 'DIRECT')
      throw badInput('input.channelType', 'direct channels are opened with openDirectChannel');
    const memberIds = [...new Set([viewer.id, ...(input.memberIds ?? [])])];
    await this.assertStaffMembers(viewer, memberIds, 'input.memberIds');
    return this.changing(viewer, async (tx) => {
      const channel = await tx.channel.create({
        ...query,
        data: {
          organizationId: viewer.organizationId,
          name: input.name,
          description: input.description ?? null,
          channelType: input.channelType,
          createdBy: viewer.id,
          members: { create: memberIds.map((userId) => ({ userId, organizationId: viewer.organizationId })) },
        },
      });
      const change: ChannelChangeDraft = {
        type: 'channel',
        change: 'created',
        channelId: channel.id,
        channelType: channel.channelType,
        memberIds,
      };
      return { result: channel, changes: [change] };
    });
  }

  /** Admins and the channel's creator may rename it, describe it, or switch it between public and private. */
  async update(session: Session, input: UpdateChannelInput, query: PrismaSelection = {}) {
    const viewer = session.assertStaff(session.organizationId);
    const channel = await this.readableChannel(viewer, input.id);
    if (viewer.role !== 'ADMIN' && channel.createdBy !== viewer.id) {
      throw forbidden('Only an admin or the channel creator may change it');
    }
    if (channel.channelType === 'DIRECT' || input.channelType === 'DIRECT') {
      throw badInput('input.channelType', 'direct channels cannot change type');
    }
    return this.changing(viewer, async (tx) => {
      const updated = await tx.channel.update({
        ...query,
        where: { id: channel.id },
        data: {
          ...(input.name != null ? { name: input.name } : {}),
          ...(input.description !== undefined ? { description: input.description } : {}),
          ...(input.channelType != null ? { channelType: input.channelType } : {}),
        },
      });
      const change: ChannelChangeDraft = {
        type: 'channel',
        change: 'updated',
        channelId: channel.id,
        channelType: updated.channelType,
        previousType: channel.channelType,
      };
      return { result: updated, changes: [change] };
    });
  }

  /** Admins, and members of the channel, add staff to public and private channels. */
  async addMembers(
    session: Session,
    input: { channelId: string; userIds: readonly string[] },
    query: PrismaSelection = {},
  ) {
    const viewer = session.assertStaff(session.organizationId);
    const facts = assertReadable(viewer, await this.facts(viewer, input.channelId));
    if (facts.channelType === 'DIRECT')
      throw badInput('input.channelId', 'direct channels have exactly their two people');
    if (viewer.role !== 'ADMIN' && !facts.isMember) throw forbidden('Only members may add people to this channel');
    const userIds = [...new Set(input.userIds)];
    await this.assertStaffMembers(viewer, userIds, 'input.userIds');
    return this.changing(viewer, async (tx) => {
      const added = await tx.channelMember.createManyAndReturn({
        data: userIds.map((userId) => ({ channelId: input.channelId, userId, organizationId: viewer.organizationId })),
        skipDuplicates: true,
        select: { userId: true },
      });
      const channel = await tx.channel.findUniqueOrThrow({ ...query, where: { id: input.channelId } });
      const changes: ChannelChangeDraft[] =
        added.length > 0
          ? [
              {
                type: 'channel',
                change: 'members-added',
                channelId: input.channelId,
                userIds: added.map((member) => member.userId),
              },
            ]
          : [];
      return { result: channel, changes };
    });
  }

  /** Admins and the channel's creator remove people; anyone may leave. A client's place is its assignment. */
  async removeMember(session: Session, input: { channelId: string; userId: string }, query: PrismaSelection = {}) {
    const viewer = session.assertStaff(session.organizationId);
    const channel = await this.readableChannel(viewer, input.channelId);
    if (channel.channelType === 'DIRECT')
      throw badInput('input.channelId', 'direct channels have exactly their two people');
    if (viewer.role !== 'ADMIN' && channel.createdBy !== viewer.id && input.userId !== viewer.id) {
      throw forbidden('Only an admin or the channel creator may remove others');
    }
    const assigned = await this.deps.db.prisma.clientChannelAssignment.findFirst({
      where: { clientUserId: input.userId, channelId: channel.id, isActive: true },
    });
    if (assigned) throw badInput('input.userId', 'a client leaves a channel by being assigned to another');
    return this.changing(viewer, async (tx) => {
      const removed = await tx.channelMember.deleteMany({ where: { channelId: channel.id, userId: input.userId } });
      if (removed.count === 0) throw notFound('Channel member');
      const result = await tx.channel.findUniqueOrThrow({ ...query, where: { id: channel.id } });
      const change: ChannelChangeDraft = {
        type: 'channel',
        change: 'member-removed',
        channelId: channel.id,
        userId: input.userId,
      };
      return { result, changes: [change] };
    });
  }

  /**
   * The one direct channel of two staff members, created on first use. Two people opening it at the same
   * moment get the same channel: the unique (organization, pair) key lets only one insert win.
   */
  async openDirect(session: Session, userId: string, query: PrismaSelection = {}) {
    const viewer = session.assertStaff(session.organizationId);
    await this.assertStaffMembers(viewer, [userId], 'userId');
    const pair = [...new Set([viewer.id, userId])].sort();
    const directKey = pair.join(':');
    const { prisma } = this.deps.db;
    const where = { organizationId_directKey: { organizationId: viewer.organizationId, directKey } };
    const existing = await prisma.channel.findUnique({ ...query, where });
    if (existing) return existing;
    await this.changing(viewer, async (tx) => {
      const inserted = await tx.channel.createManyAndReturn({
        data: [{ organizationId: viewer.organizationId, channelType: 'DIRECT', createdBy: viewer.id, directKey }],
        skipDuplicates: true,
        select: { id: true },
      });
      if (inserted.length === 0) return { result: undefined, changes: [] };
      const channelId = inserted[0]!.id;
      await tx.channelMember.createMany({
        data: pair.map((memberId) => ({ channelId, userId: memberId, organizationId: viewer.organizationId })),
      });
      const change: ChannelChangeDraft = {
        type: 'channel',
        change: 'created',
        channelId,
        channelType: 'DIRECT',
        memberIds: pair,
      };
      return { result: channelId, changes: [change] };
    });
    return prisma.channel.findUniqueOrThrow({ ...query, where });
  }

  /**
   * Staff who post in a public channel become members (as when joining by speaking), so that the channel
   * counts their unread messages from then on.
   */
  async joinOnPost(viewer: Viewer, facts: ChannelFacts): Promise<void> {
    if (facts.isMember || viewer.role === 'CLIENT' || facts.channelType !== 'PUBLIC') return;
    await this.changing(viewer, async (tx) => {
      const added = await tx.channelMember.createMany({
        data: [{ channelId: facts.channelId, userId: viewer.id, organizationId: viewer.organizationId }],
        skipDuplicates: true,
      });
      const changes: ChannelChangeDraft[] =
        added.count > 0
          ? [{ type: 'channel', change: 'members-added', channelId: facts.channelId, userIds: [viewer.id] }]
          : [];
      return { result: undefined, changes };
    });
  }

  /**
   * Runs a change to channels in one transaction that also logs it (numbered in the organization's sequence),
   * then publishes what was logged, once committed.
   */
  private async changing<T>(
    viewer: Viewer,
    change: (tx: Prisma.TransactionClient) => Promise<{ result: T; changes: ChannelChangeDraft[] }>,
  ): Promise<T> {
    const { result, logged } = await this.deps.db.prisma.$transaction(async (tx) => {
      const { result, changes } = await change(tx);
      return { result, logged: await appendToLog(prismaRunner(tx), viewer.organizationId, changes) };
    });
    for (const event of logged) void this.deps.stream.publish(viewer.organizationId, event);
    return result;
  }

  private async readableChannel(viewer: Viewer, channelId: string) {
    const channel = await this.deps.db.prisma.channel.findFirst({
      where: { id: channelId, organizationId: viewer.organizationId },
    });
    const facts = channel ? await this.facts(viewer, channel.id) : null;
    if (!channel || !facts || !canRead(viewer, facts)) throw notFound('Channel');
    return channel;
  }

  /** Channel members are active staff of the viewer's organization; anyone else is reported by field. */
  private async assertStaffMembers(viewer: Viewer, userIds: readonly string[], field: string): Promise<void> {
    if (userIds.length === 0) return;
    const users = await this.deps.db.prisma.user.findMany({
      where: { id: { in: [...userIds] }, organizationId: viewer.organizationId, isActive: true },
      select: { id: true, role: true },
    });
    const found = new Map(users.map((user) => [user.id, user.role]));
    const unknown = userIds.filter((id) => !found.has(id));
    if (unknown.length > 0) throw notFound(`User ${unknown.join(', ')}`);
    const clients = userIds.filter((id) => found.get(id) === 'CLIENT');
    if (clients.length > 0) throw badInput(field, 'clients are given their channel with assignClientToChannel');
  }
}
