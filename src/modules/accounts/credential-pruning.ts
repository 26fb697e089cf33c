import type { PrismaClient } from '../../generated/prisma/client.js';

/**
 * Deletes, up to `batch` rows of each kind, what can no longer sign anyone in: refresh tokens past their expiry
 * (they can neither be used nor tell a reuse any more), sessions left without tokens, and expired invitation and
 * reset links. Returns whether a kind filled its batch (more may remain).
 */
export async function pruneExpiredCredentials(prisma: PrismaClient, batch: number): Promise<boolean> {
  const tokens = await prisma.$executeRaw`
    DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < now() LIMIT ${batch})`;
  // A day's grace: a session gets its first token just after it is created.
  const sessions = await prisma.$executeRaw`
    DELETE FROM auth_sessions WHERE id IN (
      SELECT s.id FROM auth_sessions s
      WHERE s.created_at < now() - interval '1 day'
        AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)
      LIMIT ${batch})`;
  const links = await prisma.$executeRaw`
    DELETE FROM account_links WHERE id IN (SELECT id FROM account_links WHERE expires_at < now() LIMIT ${batch})`;
  return tokens === batch || sessions === batch || links === batch;
}
