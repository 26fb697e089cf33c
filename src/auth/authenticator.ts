import type { UserDirectory } from '../modules/users/user-directory.js';
import { bearerToken, type TokenVerifier } from './tokens.js';
import { revokedToken } from './revocation.js';
import { Session } from './session.js';

/**
 * Turns an Authorization header (or graphql-ws connectionParams) into a Session. Users come from the
 * per-instance UserDirectory, so hot paths do not read `users` on every request; user-change events from
 * every instance evict a user at once when they are deactivated or their role changes.
 */
export class Authenticator {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly users: UserDirectory,
  ) {}

  async sessionFor(authorization: unknown, requestId?: string, clientAddress?: string): Promise<Session> {
    const token = bearerToken(authorization);
    if (token === undefined) return Session.anonymous(undefined, requestId);
    const verdict = await this.verifier.verify(token);
    if (!verdict.ok) return Session.anonymous(verdict.reason, requestId);
    const user = await this.users.get(verdict.userId);
    if (!user?.isActive) return Session.anonymous('User is unknown or inactive', requestId);
    if (revokedToken(user, verdict.issuedAt)) return Session.anonymous('Token revoked: sign in again', requestId);
    return Session.authenticated(
      {
        id: user.id,
        organizationId: user.organizationId,
        role: user.role,
        tokenIssuedAt: verdict.issuedAt,
        clientAddress,
      },
      requestId,
    );
  }
}
