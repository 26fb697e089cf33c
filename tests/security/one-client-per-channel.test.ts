import { readdir, readFile } from 'node:fs/promises';
import { useFixture } from '../support/fixture.js';
import { seedOrganization } from '../support/seed.js';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { graphql } from '../gql/index.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel } from '../support/messaging.js';
import { projectRoot } from '../support/process.js';

// Two clients in one channel would each read the other's conversation: a channel has at most one active client.

const Assign = graphql(`
  mutation SecurityAssignClient($input: AssignClientToChannelInput!) {
    assignClientToChannel(input: $input) {
      id
      channelId
      isActive
    }
  }
`);

const { server, org } = useFixture({ organization: { clients: ['First', 'Second', 'Racer1', 'Racer2', 'Mover'] } });

const assign = (clientUserId: string, channelId: string) =>
  gql(server().graphqlUrl, Assign, { input: { clientUserId, channelId } }, { token: org().admin.token });

describe('assigning clients to channels', () => {
  it('refuses a second client in a channel that has one, with CONFLICT', async () => {
    const channel = await createChannel(server(), org().admin, { channelType: 'PRIVATE' });
    dataOf(await assign(org().clients.First!.id, channel.id));
    const second = await assign(org().clients.Second!.id, channel.id);
    expect(errorCodes(second)).toEqual(['CONFLICT']);
    expect(second.errors?.[0]?.message).toMatch(/already has a client/);
    // Reassigning the channel's own client is not a conflict.
    dataOf(await assign(org().clients.First!.id, channel.id));
  });

  it('lets exactly one of two simultaneous assignments to one channel through', async () => {
    const channel = await createChannel(server(), org().admin, { channelType: 'PRIVATE' });
    const answers = await Promise.all([
      assign(org().clients.Racer1!.id, channel.id),
      assign(org().clients.Racer2!.id, channel.id),
    ]);
    expect(answers.map((answer) => errorCodes(answer)[0] ?? 'OK').sort()).toEqual(['CONFLICT', 'OK']);
    const { rows } = await server().app.db.pool.query(
      'SELECT count(*)::int AS n FROM client_channel_assignments WHERE channel_id = $1 AND is_active',
      [channel.id],
    );
    expect(rows[0].n).toBe(1);
  });

  it('frees the channel when its client moves to another', async () => {
    const [from, to] = [
      await createChannel(server(), org().admin, { channelType: 'PRIVATE' }),
      await createChannel(server(), org().admin, { channelType: 'PRIVATE' }),
    ];
    dataOf(await assign(org().clients.Mover!.id, from.id));
    dataOf(await assign(org().clients.Mover!.id, to.id));
    const next = await seedOrganization(server(), { clients: ['Next'] });
    // Another organization's client is another organization's business: NOT_FOUND, not a conflict.
    expect(errorCodes(await assign(next.clients.Next!.id, from.id))).toEqual(['NOT_FOUND']);
  });

  it('is a database constraint, which the migration adds to databases that already hold several clients per channel', async () => {
    const migrations = path.join(projectRoot, 'prisma', 'migrations');
    const names = (await readdir(migrations)).filter((name) => /^\d+_/.test(name)).sort();
    const introducing = names.findIndex((name) => name.endsWith('_one_active_client_per_channel'));
    expect(introducing).toBeGreaterThan(0);
    const database = `one_client_${process.pid}_${Date.now()}`;
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
      for (const name of names.slice(0, introducing)) await apply(name);
      // Before the constraint: two clients active in one channel, the second assigned later.
      const { rows } = await scratch.query<{ channel: string; older: string; newer: string }>(`
        WITH o AS (INSERT INTO organizations (name) VALUES ('legacy') RETURNING id),
             u AS (INSERT INTO users (organization_id, email, display_name, role)
                   SELECT o.id, e, e, 'client' FROM o, unnest(ARRAY['a@x.test', 'b@x.test', 'admin@x.test']) e
                   RETURNING id, email),
             c AS (INSERT INTO channels (organization_id, name, channel_type, created_by)
                   SELECT o.id, 'shared', 'private', (SELECT id FROM u WHERE email = 'admin@x.test') FROM o RETURNING id),
             a AS (INSERT INTO client_channel_assignments (client_user_id, channel_id, assigned_by, assigned_at)
                   SELECT u.id, c.id, (SELECT id FROM u WHERE email = 'admin@x.test'),
                          CASE u.email WHEN 'a@x.test' THEN now() - interval '1 day' ELSE now() END
                   FROM u, c WHERE u.email <> 'admin@x.test' RETURNING id, client_user_id, assigned_at)
        SELECT (SELECT id FROM c) AS channel,
               (SELECT a.id FROM a ORDER BY assigned_at LIMIT 1) AS older,
               (SELECT a.id FROM a ORDER BY assigned_at DESC LIMIT 1) AS newer`);
      const legacy = rows[0]!;
      await apply(names[introducing]!);
      const after = await scratch.query<{ id: string; is_active: boolean }>(
        'SELECT id, is_active FROM client_channel_assignments WHERE channel_id = $1',
        [legacy.channel],
      );
      expect(Object.fromEntries(after.rows.map((row) => [row.id, row.is_active]))).toEqual({
        [legacy.older]: false,
        [legacy.newer]: true,
      });
      await expect(
        scratch.query('UPDATE client_channel_assignments SET is_active = true WHERE id = $1', [legacy.older]),
      ).rejects.toMatchObject({ code: '23505' });
    } finally {
      await scratch.end();
      await admin.query(`DROP DATABASE ${database}`);
      await admin.end();
    }
  });
});
