import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaClient } from '../generated/prisma/client.js';
import type { Logger } from '../logger.js';

export interface Database {
  prisma: PrismaClient;
  /** The same pool Prisma uses, for the few hot paths written as single SQL statements. */
  pool: pg.Pool;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Connection settings as discrete fields: `pg` would let a connection string's parameters override them. */
export function poolConfig(url: string, max: number): pg.PoolConfig {
  const parsed = new URL(url);
  const params = parsed.searchParams;
  const sslmode = params.get('sslmode');
  return {
    host: params.get('host') ?? (decodeURIComponent(parsed.hostname) || 'localhost'),
    port: Number(params.get('port') ?? parsed.port) || 5432,
    user: decodeURIComponent(parsed.username) || params.get('user') || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : (params.get('password') ?? undefined),
    database: decodeURIComponent(parsed.pathname.slice(1)) || 'postgres',
    ssl:
      sslmode && sslmode !== 'disable' && sslmode !== 'prefer'
        ? { rejectUnauthorized: sslmode !== 'require' }
        : undefined,
    max,
    connectionTimeoutMillis: 5_000,
    idleTimeoutMillis: 30_000,
    application_name: 'chat-server',
  };
}

export function createDatabase(options: { url: string; poolSize: number; logger: Logger }): Database {
  const pool = new pg.Pool(poolConfig(options.url, options.poolSize));
  // An idle connection dropped by a database restart emits 'error' on the pool; without a listener that
  // would crash the process. The next checkout simply opens a new connection.
  const connectionLost = (error: Error) =>
    options.logger.warn({ error: error.message, code: (error as { code?: string }).code }, 'database connection lost');
  pool.on('error', connectionLost);
  // A connection dropped while checked out (mid-transaction, say) emits 'error' on the client itself; its query
  // already fails the request, and without a listener the event would crash the process.
  pool.on('connect', (client) => client.on('error', connectionLost));
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    prisma,
    pool,
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
