import { randomBytes } from 'node:crypto';
import type { TestServer } from './server.js';
import type { TestUser } from './seed.js';

/** A password the rules accept, different for every call. */
export const strongPassword = () => `correct horse ${randomBytes(6).toString('hex')} staple`;

/** Gives a seeded user a password (as the operator CLI does) and returns it. */
export async function givePassword(server: TestServer, user: TestUser, organizationId: string): Promise<string> {
  const password = strongPassword();
  await server.app.services.accounts.setPassword({ id: user.id, organizationId, email: user.email }, password);
  return password;
}
