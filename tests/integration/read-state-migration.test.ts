import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { projectRoot } from '../../src/lib/project-root.js';

describe('the read state migrations on a database that already holds messages', () => {
  it('number existing messages per channel, carry read positions over, and index their words', async () => {
    const migrations = path.join(projectRoot, 'prisma', 'migrations');
    const names = (await readdir(migrations)).filter((name) => /^\d+_/.test(name)).sort();
    const first = names.findIndex((name) => name.endsWith('_channel_message_numbers'));
    expect(first).toBeGreaterThan(0);
    const database = `read_state_${process.pid}_${Date.now()}`;
    const admin = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${database}`;
    const scratch = new pg.Client({ connectionString: url.toString() });
    await scratch.connect();
    try {
      const apply = async (name: string) =>
        scratch.query(await readFile(path.join(migrations, name, 'migration.sql'), 'utf8'));
      for (const name of names.slice(0, first)) await apply(name);
      // Before: two channels whose messages interleave in the organization's sequence; Bob read up to the second
      // message of the first channel, Cleo read nothing.
      const { rows } = await scratch.query<{ first: string; second: string; bob: string; ids: string[] }>(`
        WITH o AS (INSERT INTO organizations (name) VALUES ('legacy') RETURNING id),
             u AS (INSERT INTO users (organization_id, email, display_name, role)
                   SELECT o.id, e || '@x.test', e, 'user' FROM o, unnest(ARRAY['ann', 'bob', 'cleo']) e
                   RETURNING id, display_name),
             c AS (INSERT INTO channels (organization_id, name, channel_type, created_by)
                   SELECT o.id, n, 'public', (SELECT id FROM u WHERE display_name = 'ann')
                   FROM o, unnest(ARRAY['first', 'second']) n RETURNING id, name),
             m AS (INSERT INTO messages (organization_id, channel_id, user_id, content, event_seq, created_seq, created_at)
                   SELECT o.id, (SELECT id FROM c WHERE name = CASE WHEN s % 2 = 1 THEN 'first' ELSE 'second' END),
                          (SELECT id FROM u WHERE display_name = 'ann'), 'legacy words number ' || s, s, s,
                          now() + s * interval '1 second'
                   FROM o, generate_series(1, 7) s RETURNING id, channel_id, created_seq)
        SELECT (SELECT id FROM c WHERE name = 'first') AS first, (SELECT id FROM c WHERE name = 'second') AS second,
               (SELECT id FROM u WHERE display_name = 'bob') AS bob,
               (SELECT array_agg(id ORDER BY created_seq) FROM m) AS ids`);
      const legacy = rows[0]!;
      await scratch.query(
        `INSERT INTO channel_members (channel_id, user_id, organization_id, joined_at, last_read_at, last_read_message_id)
         SELECT $1, $2, organization_id, now() - interval '1 day', created_at, id FROM messages WHERE id = $3`,
        [legacy.first, legacy.bob, legacy.ids[2]],
      );
      for (const name of names.slice(first)) await apply(name);

      const numbered = await scratch.query<{ id: string; channel: string; seq: string }>(
        'SELECT id, channel_id AS channel, channel_seq::text AS seq FROM messages ORDER BY created_seq',
      );
      expect(numbered.rows.map((row) => [row.channel === legacy.first ? 'first' : 'second', Number(row.seq)])).toEqual([
        ['first', 1],
        ['second', 1],
        ['first', 2],
        ['second', 2],
        ['first', 3],
        ['second', 3],
        ['first', 4],
      ]);
      const member = await scratch.query<{ seq: string }>(
        'SELECT last_read_seq::text AS seq FROM channel_members WHERE channel_id = $1 AND user_id = $2',
        [legacy.first, legacy.bob],
      );
      expect(member.rows).toEqual([{ seq: '2' }]);
      const found = await scratch.query<{ content: string }>(
        `SELECT content FROM messages WHERE search_vector @@ websearch_to_tsquery('simple', 'NUMBER 5')`,
      );
      expect(found.rows).toEqual([{ content: 'legacy words number 5' }]);
    } finally {
      await scratch.end();
      await admin.query(`DROP DATABASE ${database}`);
      await admin.end();
    }
  });
});
