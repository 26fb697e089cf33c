import type { Prisma } from '../../generated/prisma/client.js';

/** Why a session ended, as kept in auth_sessions.revoked_reason. */
export type RevocationReason =
  'signed-out' | 'signed-out-everywhere' | 'password-changed' | 'refresh-token-reused' | 'deactivated' | 'role-changed';

/**
 * Ends every open session of the user: their refresh tokens stop working. (Access tokens run out on their own;
 * revoking those too is `sessions_revoked_at`, see SessionService.revokeEverywhere.) Inside the caller's
 * transaction, so that the change that causes it and the revocation commit together.
 */
export async function revokeSessionsOf(
  tx: Prisma.TransactionClient,
  userId: string,
  reason: RevocationReason,
): Promise<number> {
  const { count } = await tx.authSession.updateMany({
    where: { userId, revokedAt: null },
    data: { revokedAt: new Date(), revokedReason: reason },
  });
  return count;
}
