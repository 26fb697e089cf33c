/**
 * Whether a token issued at `tokenIssuedAt` (ms) was revoked by the user's last "sign out everywhere" or password
 * change. The one rule for requests (Authenticator), sockets (graphql-ws) and open subscriptions.
 */
export function revokedToken(user: { sessionsRevokedAt: Date | null }, tokenIssuedAt: number | undefined): boolean {
  return user.sessionsRevokedAt !== null && (tokenIssuedAt ?? 0) < user.sessionsRevokedAt.getTime();
}
