import type { Session, Viewer } from '../../auth/session.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { ChannelType } from '../../generated/prisma/enums.js';
import { badInput, forbidden, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { Database } from '../../db/database.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { AccessChange } from '../events/organization-events.js';
import { ChannelFactsCache } from '../access/channel-facts-cache.js';
import { assertReadable, canRead, type ChannelFacts } from '../access/channel-rules.js';
import { loadChannelFacts, visibleChannelsWhere } from '../access/channel-visibility.js';

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

export class ChannelService {
  private readonly factsCache: ChannelFactsCache;

  constructor(private readonly deps: ChannelServiceDeps) {
    this.factsCache = new ChannelFactsCache({ pool: deps.db.pool, stream: deps.stream });
  }

  /** The Prisma filter for the channels the viewer may see. */
  listWhere(session: Session): Prisma.ChannelWhereInput {
    return visibleChannelsWhere(session.viewer);
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
    const channel = await this.deps.db.prisma.channel.create({
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
    this.publishAccess(viewer, {
      type: 'access',
      change: 'channel',
      channelId: channel.id,
      channelType: channel.channelType,
    });
    this.publishAccess(viewer, { type: 'access', change: 'members-added', channelId: channel.id, userIds: memberIds });
    return channel;
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
    const updated = await this.deps.db.prisma.channel.update({
      ...query,
      where: { id: channel.id },
      data: {
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
        ...(input.channelType != null ? { channelType: input.channelType } : {}),
      },
    });
    if (updated.channelType !== channel.channelType) {
      this.publishAccess(viewer, {
        type: 'access',
        change: 'channel',
        channelId: channel.id,
        channelType: updated.channelType,
      });
    }
    return updated;
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
    const { prisma } = this.deps.db;
    const existing = await prisma.channelMember.findMany({
      where: { channelId: input.channelId, userId: { in: userIds } },
      select: { userId: true },
    });
    const known = new Set(existing.map((member) => member.userId));
    const added = userIds.filter((id) => !known.has(id));
    await prisma.channelMember.createMany({
      data: added.map((userId) => ({ channelId: input.channelId, userId, organizationId: viewer.organizationId })),
      skipDuplicates: true,
    });
    if (added.length > 0) {
      this.publishAccess(viewer, {
        type: 'access',
        change: 'members-added',
        channelId: input.channelId,
        userIds: added,
      });
    }
    return prisma.channel.findUniqueOrThrow({ ...query, where: { id: input.channelId } });
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
    const { prisma } = this.deps.db;
    const assigned = await prisma.clientChannelAssignment.findFirst({
      where: { clientUserId: input.userId, channelId: channel.id, isActive: true },
    });
    if (assigned) throw badInput('input.userId', 'a client leaves a channel by being assigned to another');
    const removed = await prisma.channelMember.deleteMany({ where: { channelId: channel.id, userId: input.userId } });
    if (removed.count === 0) throw notFound('Channel member');
    this.publishAccess(viewer, {
      type: 'access',
      change: 'member-removed',
      channelId: channel.id,
      userId: input.userId,
    });
    return prisma.channel.findUniqueOrThrow({ ...query, where: { id: channel.id } });
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
    const created = await prisma.$transaction(async (tx) => {
      const inserted = await tx.channel.createManyAndReturn({
        data: [{ organizationId: viewer.organizationId, channelType: 'DIRECT', createdBy: viewer.id, directKey }],
        skipDuplicates: true,
        select: { id: true },
      });
      if (inserted.length === 0) return undefined;
      await tx.channelMember.createMany({
        data: pair.map((memberId) => ({
          channelId: inserted[0]!.id,
          userId: memberId,
          organizationId: viewer.organizationId,
        })),
      });
      return inserted[0]!.id;
    });
    if (created) {
      this.publishAccess(viewer, { type: 'access', change: 'members-added', channelId: created, userIds: pair });
    }
    return prisma.channel.findUniqueOrThrow({ ...query, where });
  }

  /**
   * Staff who post in a public channel become members (as when joining by speaking), so that the channel
   * counts their unread messages from then on.
   */
  async joinOnPost(viewer: Viewer, facts: ChannelFacts): Promise<void> {
    if (facts.isMember || viewer.role === 'CLIENT' || facts.channelType !== 'PUBLIC') return;
    const added = await this.deps.db.prisma.channelMember.createMany({
      data: [{ channelId: facts.channelId, userId: viewer.id, organizationId: viewer.organizationId }],
      skipDuplicates: true,
    });
    if (added.count > 0) {
      this.publishAccess(viewer, {
        type: 'access',
        change: 'members-added',
        channelId: facts.channelId,
        userIds: [viewer.id],
      });
    }
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

  private publishAccess(viewer: Viewer, event: AccessChange): void {
    this.deps.stream.publish(viewer.organizationId, event);
  }
}
