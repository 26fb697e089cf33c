// PostgreSQL's share, for docs/scaling.md: bytes on disk per message (table, TOAST and every index), per event-log
// row and per read status, so that growth can be projected. Run: `npx tsx scripts/measure-postgres.ts` (uses
// BENCH_DATABASE_URL, default the local server; creates a database of its own and drops it).
import pg from 'pg';
import { createBenchDatabase, seedBenchOrganization } from '../bench/lib/setup.js';
import { fillHistory } from '../bench/scenarios/history.js';

const ROWS = 200_000;
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const bench = await createBenchDatabase(serverUrl);
const client = new pg.Client({ connectionString: bench.url });
await client.connect();
try {
  const seeded = await seedBenchOrganization(bench, 2);
  const [author, reader] = [seeded.users[0]!, seeded.users[1]!];
  // A million messages as the writer numbers them (the bench's history filler: ~30 characters of text each).
  await fillHistory(bench, seeded.organizationId, seeded.channelId, author.id);
  await client.query(
    `INSERT INTO organization_events (organization_id, seq, type, channel_id, payload)
     SELECT $1, 1000000000 + g, 'reaction', $2,
            jsonb_build_object('messageId', gen_random_uuid(), 'userId', $3::text, 'emoji', '👍', 'added', true)
     FROM generate_series(1, ${ROWS}) g`,
    [seeded.organizationId, seeded.channelId, reader.id],
  );
  await client.query(
    `INSERT INTO message_user_status (message_id, user_id, status)
     SELECT id, $1, 'read' FROM messages WHERE organization_id = $2 LIMIT ${ROWS}`,
    [reader.id, seeded.organizationId],
  );
  await client.query('VACUUM ANALYZE');
  for (const table of ['messages', 'organization_events', 'message_user_status']) {
    const { rows } = await client.query<{ rows: string; total: string; heap: string }>(
      `SELECT (SELECT count(*) FROM ${table}) AS rows, pg_total_relation_size('${table}') AS total,
              pg_relation_size('${table}') AS heap`,
    );
    const { rows: count, total, heap } = rows[0]!;
    console.log(
      `${table}: ${count} rows, ${Math.round(Number(total) / Number(count))} bytes per row on disk ` +
        `(${Math.round(Number(heap) / Number(count))} in the table itself, the rest indexes and TOAST)`,
    );
  }
} finally {
  await client.end();
  await bench.drop();
}
