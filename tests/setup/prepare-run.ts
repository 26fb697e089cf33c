import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations.js';
import { startEmbeddedPostgres } from '../../src/db/embedded-postgres.js';
import { createLogger } from '../../src/logger.js';
import { postgresAnswers, redisAnswers, TEST_POSTGRES_URL, TEST_REDIS_URL, withDatabase } from './services.js';

/**
 * Each run gets its own fresh database (created here, migrated with `prisma migrate deploy`, dropped in the
 * teardown) and its own Redis key prefix, so that runs never see each other's rows or events. Workers inherit
 * the environment set here. With CI=true, a missing PostgreSQL or Redis fails the run; elsewhere a missing
 * PostgreSQL is replaced by the embedded one.
 */
export async function prepareRun(): Promise<void> {
  const logger = createLogger({ level: 'warn' });
  const ci = process.env.CI === 'true';
  let serverUrl = TEST_POSTGRES_URL;
  if (!(await postgresAnswers(serverUrl))) {
    if (ci)
      throw new Error(`PostgreSQL is not reachable at ${redact(serverUrl)} (CI=true: tests need the real service)`);
    console.warn(`\nPostgreSQL is not reachable at ${redact(serverUrl)}: using an embedded PostgreSQL for this run`);
    const embedded = await startEmbeddedPostgres({ logger });
    (globalThis as { embeddedPostgres?: typeof embedded }).embeddedPostgres = embedded;
    serverUrl = withDatabase(embedded.url, 'postgres');
  }
  if (!(await redisAnswers(TEST_REDIS_URL))) {
    throw new Error(
      `Redis is not reachable at ${TEST_REDIS_URL}; start it (see README, "Tests") or set TEST_REDIS_URL`,
    );
  }

  const database = `chat_test_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  const databaseUrl = withDatabase(serverUrl, database);
  await applyMigrations(databaseUrl, logger);

  process.env.TEST_SERVER_DATABASE_URL = serverUrl;
  process.env.TEST_DATABASE_NAME = database;
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = TEST_REDIS_URL;
  process.env.TEST_REDIS_PREFIX = `chat-test:${database}:`;
}

const redact = (url: string) => url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
