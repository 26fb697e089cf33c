import type { Session } from '../../auth/session.js';
import { badInput, conflict, isUniqueViolation, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { Database } from '../../db/database.js';
import { appendToLog, prismaRunner } from '../events/event-log.js';
import type { OrganizationStream } from '../events/organization-stream.js';

export interface AssignClientInput {
  clientUserId: string;
  channelId: string;
}

/** What ClientAssignmentService is built from. */
export interface ClientAssignmentServiceDeps {
  db: Database;
  stream: OrganizationStream;
}

export class ClientAssignmentService {
  constructor(private readonly deps: ClientAssignmentServiceDeps) {}

  /**
   * Puts a client in one channel: platform messages from the client land there, and staff replies there go
   * back to the client's platform. Reassigning replaces the previous assignment and moves the client's channel
   * membership (which holds their read state) in the same transaction, so the client is never in two channels
   * or in none. A channel has at most one client (a partial unique index says so too): assigning a second is
   * CONFLICT, since each would read the other's conversation.
   */
  async assign(session: Session, input: AssignClientInput, query: PrismaSelection = {}) {
    const admin = session.assertAdmin(session.organizationId);
    const { organizationId } = admin;
    const channelTaken = () => conflict('This channel already has a client; a channel has at most one');
    const transaction = this.deps.db.prisma.$transaction(async (tx) => {
      // Locking the client's row serialises concurrent assignments of the same client.
      const [client] = await tx.$queryRaw<{ role: string }[]>`
        SELECT role::text AS role FROM users
        WHERE id = ${input.clientUserId}::uuid AND organization_id = ${organizationId}::uuid
        FOR UPDATE`;
      if (!client) throw notFound('User');
      if (client.role !== 'client') throw badInput('input.clientUserId', 'must be a client user');
      const channel = await tx.channel.findFirst({
        where: { id: input.channelId, organizationId },
        select: { id: true, channelType: true },
      });
      if (!channel) throw notFound('Channel');
      if (channel.channelType === 'DIRECT') throw badInput('input.channelId', 'must not be a direct channel');
      const occupant = await tx.clientChannelAssignment.findFirst({
        where: { channelId: channel.id, isActive: true, clientUserId: { not: input.clientUserId } },
        select: { id: true },
      });
      if (occupant) throw channelTaken();

      const previous = await tx.clientChannelAssignment.findUnique({
        where: { clientUserId: input.clientUserId },
        select: { channelId: true },
      });
      const assignment = await tx.clientChannelAssignment.upsert({
        ...query,
        where: { clientUserId: input.clientUserId },
        create: { clientUserId: input.clientUserId, channelId: channel.id, assignedBy: admin.id },
        update: { channelId: channel.id, assignedBy: admin.id, assignedAt: new Date(), isActive: true },
      });
      if (previous && previous.channelId !== channel.id) {
        await tx.channelMember.deleteMany({ where: { channelId: previous.channelId, userId: input.clientUserId } });
      }
      await tx.channelMember.upsert({
        where: { channelId_userId: { channelId: channel.id, userId: input.clientUserId } },
        create: { channelId: channel.id, userId: input.clientUserId, organizationId },
        update: {},
      });
      const logged = await appendToLog(prismaRunner(tx), organizationId, [
        {
          type: 'channel',
          change: 'client-assigned',
          clientUserId: input.clientUserId,
          channelId: assignment.channelId,
          previousChannelId: previous?.channelId ?? null,
        },
      ]);
      return { assignment, logged };
    });
    const { assignment, logged } = await transaction.catch((error: unknown) => {
      // Two clients assigned to the same channel at the same moment: the index lets one through.
      throw isUniqueViolation(error) ? channelTaken() : error;
    });
    // After the commit: the client's open subscriptions switch channels (the old one stops, the new one starts),
    // and cached access to both channels is forgotten on every instance.
    for (const event of logged) void this.deps.stream.publish(organizationId, event);
    return assignment;
  }
}
