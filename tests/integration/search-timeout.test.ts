import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { graphql } from '../gql/index.js';
import { dataOf, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

const Search = graphql(`
  query SearchTimeout($query: String!) {
    searchMessages(query: $query) {
      edges {
        node {
          content
        }
      }
    }
  }
`);

// A database of this file's own: the test holds a lock that every search waits for, which must not stall the
// other files of the run.
const database = `search_timeout_${process.pid}_${Date.now()}`;
let admin: pg.Client;
let server: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${database}`);
  const url = new URL(process.env.DATABASE_URL!);
  url.pathname = `/${database}`;
  await applyMigrations(url.toString(), createLogger({ level: 'silent' }));
  server = await startServer({ env: { DATABASE_URL: url.toString(), SEARCH_TIMEOUT_MS: '200' } });
  org = await seedOrganization(server, { users: ['Ida'] });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
  await admin.end();
});

describe('searchMessages within SEARCH_TIMEOUT_MS', () => {
  it('refuses a search that cannot be answered in time as too broad, and holds nothing', async () => {
    const ida = org.users.Ida!;
    const channel = await createChannel(server, ida);
    await send(server, ida, channel.id, 'a lighthouse keeper');
    const holder = new pg.Client({ connectionString: server.config.databaseUrl! });
    await holder.connect();
    try {
      // Every search reads the channels: while this lock is held, none can finish in time.
      await holder.query('BEGIN');
      await holder.query('LOCK TABLE channels IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const refused = await gql(server.graphqlUrl, Search, { query: 'lighthouse' }, { token: ida.token });
      expect(refused.errors?.[0]).toMatchObject({
        message: expect.stringContaining('too broad'),
        extensions: { code: 'BAD_USER_INPUT', field: 'query' },
      });
      expect(Date.now() - started).toBeLessThan(2_000);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    const answered = dataOf(await gql(server.graphqlUrl, Search, { query: 'lighthouse' }, { token: ida.token }));
    expect(answered.searchMessages.edges).toEqual([{ node: { content: 'a lighthouse keeper' } }]);
  });
});
