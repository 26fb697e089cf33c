import { afterAll, beforeAll } from '@jest/globals';
import { seedOrganization, type TestOrganization } from './seed.js';
import { startServer, type TestServer } from './server.js';

type ServerOptions = Parameters<typeof startServer>[0];

export interface FixtureOptions {
  /** How the server starts (environment, Redis or not, logger). */
  server?: ServerOptions;
  /** Instances on the same database and Redis, as behind a load balancer (default 1). */
  instances?: number;
  /** The organization seeded for the file: the staff and clients it names, besides its admin. */
  organization?: { users?: string[]; clients?: string[] };
  /** How long starting may take (a dedicated database, say). */
  timeoutMs?: number;
}

/** A test file's running server(s) and seeded organization, read inside tests and hooks once started. */
export interface Fixture {
  /** The first instance. */
  server(): TestServer;
  servers(): readonly TestServer[];
  /** The file's own organization, so that files run concurrently on one database. */
  org(): TestOrganization;
}

/**
 * What most test files start with: a real server (or several) and an organization of their own, started before
 * the file's tests and stopped after them.
 */
export function useFixture(options: FixtureOptions = {}): Fixture {
  let servers: TestServer[] | undefined;
  let org: TestOrganization | undefined;
  beforeAll(async () => {
    servers = await Promise.all(Array.from({ length: options.instances ?? 1 }, () => startServer(options.server)));
    org = await seedOrganization(servers[0]!, options.organization);
  }, options.timeoutMs);
  afterAll(async () => {
    await Promise.all((servers ?? []).map((server) => server.stop()));
  });
  const started = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error('the fixture is read before its beforeAll has run');
    return value;
  };
  return {
    server: () => started(servers)[0]!,
    servers: () => started(servers),
    org: () => started(org),
  };
}
