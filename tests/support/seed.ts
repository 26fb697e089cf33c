import { randomBytes } from 'node:crypto';
import { signUserToken } from '../../src/auth/tokens.js';
import { Session } from '../../src/auth/session.js';
import type { UserRole } from '../../src/generated/prisma/enums.js';
import type { TestServer } from './server.js';

export interface TestUser {
  id: string;
  email: string;
  displayName: string;
  role: UserRole;
  token: string;
  session: Session;
}

export interface TestOrganization {
  id: string;
  name: string;
  admin: TestUser;
  /** Staff users by the names asked for. */
  users: Record<string, TestUser>;
  /** Client users by the names asked for. */
  clients: Record<string, TestUser>;
}

/**
 * A fresh organization of its own for one test file or test: unique names, so that tests run concurrently
 * on the same database and never need to truncate anything.
 */
export async function seedOrganization(
  server: TestServer,
  spec: { users?: string[]; clients?: string[] } = {},
): Promise<TestOrganization> {
  const { services } = server.app;
  const tag = randomBytes(4).toString('hex');
  const { organization, admin } = await services.organizations.createWithAdmin({
    name: `Test org ${tag}`,
    admin: { email: `admin-${tag}@example.test`, displayName: `Admin ${tag}` },
  });
  const asUser = (user: { id: string; email: string; displayName: string; role: UserRole }) =>
    testUser(server, organization.id, user);
  const adminUser = await asUser(admin);
  const create = async (name: string, role: UserRole) =>
    asUser(
      await services.users.create(adminUser.session, {
        email: `${name.toLowerCase()}-${tag}@example.test`,
        displayName: name,
        role,
      }),
    );
  const users: Record<string, TestUser> = {};
  for (const name of spec.users ?? []) users[name] = await create(name, 'USER');
  const clients: Record<string, TestUser> = {};
  for (const name of spec.clients ?? []) clients[name] = await create(name, 'CLIENT');
  return { id: organization.id, name: organization.name, admin: adminUser, users, clients };
}

async function testUser(
  server: TestServer,
  organizationId: string,
  user: { id: string; email: string; displayName: string; role: UserRole },
): Promise<TestUser> {
  return {
    id: user.id,
    email: user.email,
    displayName: user.displayName,
    role: user.role,
    token: await signUserToken(server.config.jwt, user.id),
    session: Session.authenticated({ id: user.id, organizationId, role: user.role }),
  };
}

/** One more user of a seeded organization, created by its admin (e.g. a client per test). */
export async function addUser(
  server: TestServer,
  org: TestOrganization,
  name: string,
  role: UserRole,
): Promise<TestUser> {
  const created = await server.app.services.users.create(org.admin.session, {
    email: `${name.toLowerCase().replace(/[^a-z0-9]/g, '-')}-${randomBytes(4).toString('hex')}@example.test`,
    displayName: name,
    role,
  });
  return testUser(server, org.id, created);
}
