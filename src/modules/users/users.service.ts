import type { Session } from '../../auth/session.js';
import type { UserRole } from '../../generated/prisma/enums.js';
import { conflict, forbidden, isUniqueViolation, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import { USER_CHANGES_TOPIC, type UserChangedEvent } from '../../realtime/topics.js';
import type { Database } from '../../db/database.js';
import { channelVisibleSql } from '../access/channel-visibility.js';
import { revokeSessionsOf } from '../accounts/session-revocation.js';
import { type AuditEntry, recordAudit } from '../audit/audit-log.js';
import { appendToLog, prismaRunner } from '../events/event-log.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { EventBus } from '../../realtime/event-bus.js';
import type { UserDirectory } from './user-directory.js';

export interface CreateUserInput {
  email: string;
  displayName: string;
  role: UserRole;
  avatarUrl?: string | null;
}

export interface UpdateUserInput {
  id: string;
  email?: string | null;
  displayName?: string | null;
  avatarUrl?: string | null;
  role?: UserRole | null;
  isActive?: boolean | null;
}

/** What UserService is built from. */
export interface UserServiceDeps {
  db: Database;
  bus: EventBus;
  users: UserDirectory;
  stream: OrganizationStream;
}

export class UserService {
  constructor(private readonly deps: UserServiceDeps) {}

  async viewer(session: Session, query: PrismaSelection = {}) {
    const { id, organizationId } = session.viewer;
    return this.deps.db.prisma.user.findUniqueOrThrow({ ...query, where: { id, organizationId } });
  }

  /** The organization's directory, for admins and staff; clients do not browse other users. */
  listWhere(session: Session, filter: { role?: UserRole | null }) {
    const { organizationId } = session.assertStaff(session.organizationId);
    return { organizationId, ...(filter.role ? { role: filter.role } : {}) };
  }

  async create(session: Session, input: CreateUserInput, query: PrismaSelection = {}) {
    const admin = session.assertAdmin(session.organizationId);
    const { organizationId } = admin;
    try {
      return await this.deps.db.prisma.$transaction(async (tx) => {
        const created = await tx.user.create({
          ...query,
          data: {
            organizationId,
            email: input.email,
            displayName: input.displayName,
            role: input.role,
            avatarUrl: input.avatarUrl ?? null,
          },
        });
        await recordAudit(tx, {
          organizationId,
          action: 'user-created',
          actorUserId: admin.id,
          subjectUserId: created.id,
          details: { role: input.role },
          address: admin.clientAddress ?? null,
        });
        return created;
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`A user with email ${input.email} already exists`);
      throw error;
    }
  }

  /**
   * Admins change anything about anyone in their organization; everyone else may change only their own name
   * and avatar. The last active admin cannot be demoted or deactivated, or nobody could administer the
   * organization any more.
   */
  async update(session: Session, input: UpdateUserInput, query: PrismaSelection = {}) {
    const viewer = session.assertMember(session.organizationId);
    const privileged = input.email != null || input.role != null || input.isActive != null;
    if (viewer.role !== 'ADMIN' && (privileged || input.id !== viewer.id)) {
      throw forbidden('Only an organization admin may change this');
    }
    const { prisma } = this.deps.db;
    const { updated, logged } = await prisma.$transaction(async (tx) => {
      const target = await tx.user.findFirst({ where: { id: input.id, organizationId: viewer.organizationId } });
      if (!target) throw notFound('User');
      const losesAdmin =
        target.role === 'ADMIN' &&
        target.isActive &&
        ((input.role != null && input.role !== 'ADMIN') || input.isActive === false);
      if (losesAdmin) {
        // Serialise admin changes within the organization so two admins cannot demote each other at once.
        await tx.$executeRaw`SELECT 1 FROM organizations WHERE id = ${viewer.organizationId}::uuid FOR UPDATE`;
        const otherAdmins = await tx.user.count({
          where: { organizationId: viewer.organizationId, role: 'ADMIN', isActive: true, id: { not: target.id } },
        });
        if (otherAdmins === 0) throw conflict('The organization must keep at least one active admin');
      }
      let updated;
      try {
        updated = await tx.user.update({
          ...query,
          where: { id: target.id },
          data: {
            ...(input.email != null ? { email: input.email } : {}),
            ...(input.displayName != null ? { displayName: input.displayName } : {}),
            ...(input.avatarUrl !== undefined ? { avatarUrl: input.avatarUrl } : {}),
            ...(input.role != null ? { role: input.role } : {}),
            ...(input.isActive != null ? { isActive: input.isActive } : {}),
          },
        });
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`A user with email ${input.email} already exists`);
        throw error;
      }
      // Their refresh tokens end with the account or the role they were issued for: the next sign-in decides.
      if (target.isActive && !updated.isActive) await revokeSessionsOf(tx, target.id, 'deactivated');
      else if (updated.role !== target.role) await revokeSessionsOf(tx, target.id, 'role-changed');
      const audited = { organizationId: viewer.organizationId, actorUserId: viewer.id, subjectUserId: target.id };
      const address = viewer.clientAddress ?? null;
      const entries: AuditEntry[] = [];
      if (updated.role !== target.role)
        entries.push({ ...audited, action: 'role-changed', details: { from: target.role, to: updated.role }, address });
      if (target.isActive !== updated.isActive)
        entries.push({ ...audited, action: updated.isActive ? 'user-reactivated' : 'user-deactivated', address });
      await recordAudit(tx, ...entries);
      if (updated.role === target.role) return { updated, logged: [] };
      // What the user can see changes with their role: the channels they lose and gain, logged with the change.
      const run = prismaRunner(tx);
      const { rows } = await run(
        `SELECT c.id, ${channelVisibleSql('c.id', '$2::uuid', '$3::text')} AS before,
                ${channelVisibleSql('c.id', '$2::uuid', '$4::text')} AS after
         FROM channels c WHERE c.organization_id = $1::uuid`,
        [viewer.organizationId, target.id, target.role, updated.role],
      );
      const visibility = rows as { id: string; before: boolean; after: boolean }[];
      const logged = await appendToLog(run, viewer.organizationId, [
        {
          type: 'channel',
          change: 'role-changed',
          userId: target.id,
          role: updated.role,
          lost: visibility.filter((row) => row.before && !row.after).map((row) => row.id),
          gained: visibility.filter((row) => !row.before && row.after).map((row) => row.id),
        },
      ]);
      return { updated, logged };
    });
    for (const event of logged) void this.deps.stream.publish(viewer.organizationId, event);
    this.deps.users.forget(input.id);
    const event: UserChangedEvent = { type: 'user.changed', organizationId: viewer.organizationId, userId: input.id };
    // Awaited, so that once the change is answered, every instance has been told (open connections and
    // subscriptions of a deactivated or re-roled user act on it from then on).
    await this.deps.bus.publish(USER_CHANGES_TOPIC, event);
    return updated;
  }
}
