import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { Session } from '../../src/auth/session.js';
import { signUserToken } from '../../src/auth/tokens.js';
import { loadConfig, type AppConfig } from '../../src/config.js';
import { applyMigrations } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { createBackingServices } from '../../src/backing-services.js';
import type { Database } from '../../src/db/database.js';
import { createServices, type Services } from '../../src/services.js';

export const BENCH_JWT_SECRET = 'bench-secret-bench-secret-bench-secret-0123';
export const BENCH_ENCRYPTION_KEY = 'ab'.repeat(32);

export interface BenchDatabase {
  url: string;
  name: string;
  config: AppConfig;
  db: Database;
  services: Services;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for this run, with services to seed it. */
export async function createBenchDatabase(serverUrl: string): Promise<BenchDatabase> {
  const name = `chat_bench_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  const logger = createLogger({ level: 'warn' });
  await applyMigrations(url.toString(), logger);
  const config = loadConfig({
    DATABASE_URL: url.toString(),
    JWT_SECRET: BENCH_JWT_SECRET,
    ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
    LOG_LEVEL: 'warn',
  });
  const backing = createBackingServices({ ...config, databasePoolSize: 20 }, logger);
  const { db } = backing;
  const services = createServices(backing);
  return {
    url: url.toString(),
    name,
    config,
    db,
    services,
    async drop() {
      await services.stop();
      await backing.close();
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export interface BenchUser {
  id: string;
  email: string;
  token: string;
  session: Session;
}

/** An organization with `staff` users who are all members of one public channel. */
export async function seedBenchOrganization(bench: BenchDatabase, staff: number) {
  const tag = randomBytes(3).toString('hex');
  const { organization, admin } = await bench.services.organizations.createWithAdmin({
    name: `Bench ${tag}`,
    admin: { email: `admin-${tag}@bench.test`, displayName: 'Bench Admin' },
  });
  const adminSession = Session.authenticated({ id: admin.id, organizationId: organization.id, role: 'ADMIN' });
  const users: BenchUser[] = [];
  for (let index = 0; index < staff; index++) {
    const user = await bench.services.users.create(adminSession, {
      email: `staff-${index}-${tag}@bench.test`,
      displayName: `Staff ${index}`,
      role: 'USER',
    });
    users.push({
      id: user.id,
      email: user.email,
      token: await signUserToken(bench.config.jwt, user.id, '2h'),
      session: Session.authenticated({ id: user.id, organizationId: organization.id, role: 'USER' }),
    });
  }
  const channel = await bench.services.channels.create(users[0]!.session, {
    name: 'bench',
    channelType: 'PUBLIC',
    memberIds: users.map((user) => user.id),
  });
  return { organizationId: organization.id, admin, users, channelId: channel.id };
}
