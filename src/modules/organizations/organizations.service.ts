import type { Session } from '../../auth/session.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { Database } from '../../db/database.js';

export interface CreateOrganizationInput {
  name: string;
  description?: string | null;
  admin: { email: string; displayName: string };
}

/** What OrganizationService is built from. */
export interface OrganizationServiceDeps {
  db: Database;
}

export class OrganizationService {
  constructor(private readonly deps: OrganizationServiceDeps) {}

  /** An organization with its first admin and its message clock, in one transaction (operator CLI, seed). */
  async createWithAdmin(input: CreateOrganizationInput) {
    return this.deps.db.prisma.$transaction(async (tx) => {
      const organization = await tx.organization.create({
        data: { name: input.name, description: input.description ?? null, messageSequence: { create: {} } },
      });
      const admin = await tx.user.create({
        data: {
          organizationId: organization.id,
          email: input.admin.email,
          displayName: input.admin.displayName,
          role: 'ADMIN',
        },
      });
      return { organization, admin };
    });
  }

  async current(session: Session, query: PrismaSelection = {}) {
    const { organizationId } = session;
    return this.deps.db.prisma.organization.findUniqueOrThrow({ ...query, where: { id: organizationId } });
  }

  async update(
    session: Session,
    input: { name?: string | null; description?: string | null },
    query: PrismaSelection = {},
  ) {
    const { organizationId } = session.assertAdmin(session.organizationId);
    return this.deps.db.prisma.organization.update({
      ...query,
      where: { id: organizationId },
      data: {
        ...(input.name != null ? { name: input.name } : {}),
        ...(input.description !== undefined ? { description: input.description } : {}),
      },
    });
  }
}
