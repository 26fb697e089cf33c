import type pg from 'pg';

/**
 * Deletes, up to `batch` rows of each kind, what can no longer sign anyone in: refresh tokens past their expiry
 * (they can neither be used nor tell a reuse any more), sessions left without tokens, and expired invitation and
 * reset links. Returns whether a kind filled its batch (more may remain). Plain SQL through the pool, like the
 * event log's pruning: background work at start-up must not be what first loads Prisma's query compiler.
 */
export async function pruneExpiredCredentials(pool: pg.Pool, batch: number): Promise<boolean> {
  const tokens = await pool.query(
    'DELETE FROM refresh_tokens WHERE id IN (SELECT id FROM refresh_tokens WHERE expires_at < now() LIMIT $1)',
    [batch],
  );
  // A day's grace: a session gets its first token in the statement that creates it, but keep clear of clocks.
  const sessions = await pool.query(
    `DELETE FROM auth_sessions WHERE id IN (
       SELECT s.id FROM auth_sessions s
       WHERE s.created_at < now() - interval '1 day'
         AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)
       LIMIT $1)`,
    [batch],
  );
  const links = await pool.query(
    'DELETE FROM account_links WHERE id IN (SELECT id FROM account_links WHERE expires_at < now() LIMIT $1)',
    [batch],
  );
  return [tokens, sessions, links].some((result) => result.rowCount === batch);
}
