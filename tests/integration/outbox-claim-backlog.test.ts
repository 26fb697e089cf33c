import { afterAll, beforeAll, expect, it } from '@jest/globals';
import pg from 'pg';
import { claimDueSends } from '../../src/modules/outbox/outbox-claims.js';
import { createChannel, createIntegration } from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// A backlog (Meta down for an hour, say) must not make each claim slower: a claim reads the due rows in the order
// they fell due and stops at its limit, whatever is queued behind. The backlog is written in a transaction that is
// rolled back, so no sender of another test file ever sees it; the transaction's own statistics
// (pg_stat_xact_user_tables) count the rows the claim read.

const RECIPIENTS = 60;
const PER_RECIPIENT = 300;
const LIMIT = 50;

let server: TestServer;
let org: TestOrganization;
let db: pg.Client;

beforeAll(async () => {
  server = await startServer();
  org = await seedOrganization(server);
  db = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await server?.stop();
});

/** Rows of outbound_messages read so far in this transaction, by sequential and by index scans. */
async function rowsRead(): Promise<number> {
  const { rows } = await db.query<{ read: string }>(
    `SELECT coalesce(seq_tup_read, 0) + coalesce(idx_tup_fetch, 0) AS read
     FROM pg_stat_xact_user_tables WHERE relname = 'outbound_messages'`,
  );
  return Number(rows[0]?.read ?? 0);
}

it(`claims ${LIMIT} recipients' oldest replies from ${RECIPIENTS * PER_RECIPIENT} queued, reading about ${LIMIT} rows`, async () => {
  const integration = await createIntegration(server, org, 'WHATSAPP');
  const channel = await createChannel(server, org);
  await db.query('BEGIN');
  try {
    // Recipients' replies interleaved, as staff answering many clients write them: reply n of every recipient fell
    // due before reply n + 1 of any. All fell due a day ago, before anything other test files queue.
    const { rows: links } = await db.query<{ id: string }>(
      `WITH clients AS (
         INSERT INTO users (organization_id, email, display_name, role)
         SELECT $1::uuid, 'backlog-' || k || '-' || $1::text || '@example.test', 'Client ' || k, 'client'
         FROM generate_series(1, $3::int) k RETURNING id
       )
       INSERT INTO client_platform_links (client_user_id, platform_integration_id, platform_user_id, verification_status)
       SELECT id, $2, 'backlog-' || id, 'verified' FROM clients RETURNING id`,
      [org.id, integration.id, RECIPIENTS],
    );
    await db.query(
      `WITH base AS (SELECT coalesce(max(created_seq), 0) AS seq FROM messages WHERE organization_id = $1),
       queued AS (
         SELECT gen_random_uuid() AS id, link.id AS link_id, base.seq + (n - 1) * $5::int + link.k AS seq, n
         FROM unnest($4::uuid[]) WITH ORDINALITY AS link(id, k), generate_series(1, $6::int) n, base
       ), written AS (
         INSERT INTO messages (id, organization_id, channel_id, user_id, content, event_seq, created_seq, channel_seq)
         SELECT id, $1, $2, $3, 'reply ' || n, seq, seq, seq FROM queued
       )
       INSERT INTO outbound_messages (organization_id, message_id, platform_integration_id, client_platform_link_id,
                                      message_seq, next_attempt_at)
       SELECT $1, id, $7, link_id, seq, now() - interval '1 day' + seq * interval '1 microsecond' FROM queued`,
      [org.id, channel.id, org.admin.id, links.map((link) => link.id), RECIPIENTS, PER_RECIPIENT, integration.id],
    );
    // As autovacuum would have by then: the planner knows the backlog is there.
    await db.query('ANALYZE outbound_messages');

    const before = await rowsRead();
    const claimed = await claimDueSends(db, LIMIT, 60_000);
    const read = (await rowsRead()) - before;

    // Every claim is a recipient's first reply, one per recipient.
    expect(claimed).toHaveLength(LIMIT);
    expect(new Set(claimed.map((row) => row.content))).toEqual(new Set(['reply 1']));
    expect(new Set(claimed.map((row) => row.client_user_id)).size).toBe(LIMIT);
    expect(read).toBeLessThan(10 * LIMIT);

    // The next claim takes the other recipients' first replies and nothing of those whose first is in flight. It
    // has room to spare, so it may also take a send that another test file queued meanwhile (the database is the
    // run's): only this organization's count.
    const next = (await claimDueSends(db, LIMIT, 60_000)).filter((row) => row.organization_id === org.id);
    expect(next).toHaveLength(RECIPIENTS - LIMIT);
    expect(new Set(next.map((row) => row.content))).toEqual(new Set(['reply 1']));
  } finally {
    await db.query('ROLLBACK');
  }
});
