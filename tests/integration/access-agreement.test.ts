import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { Viewer } from '../../src/auth/session.js';
import type { ChannelType, UserRole } from '../../src/generated/prisma/enums.js';
import { canRead, type ChannelFacts } from '../../src/modules/access/channel-rules.js';
import {
  channelVisibleSql,
  loadChannelFacts,
  visibleChannelsWhere,
} from '../../src/modules/access/channel-visibility.js';
import { ViewerChannels } from '../../src/modules/access/viewer-channels.js';
import { startServer, type TestServer } from '../support/server.js';

// Who may read a channel is one rule (canRead) that also exists as SQL and as a Prisma filter, for statements
// over many channels. Over generated organizations (roles, channel types, memberships, assignments active or
// not, deactivated users), every way the server asks must give canRead's answer for every viewer and channel.

let server: TestServer;

beforeAll(async () => {
  server = await startServer({ redis: false });
});
afterAll(() => server.stop());

interface GeneratedOrganization {
  users: { role: UserRole; isActive: boolean }[];
  channels: ChannelType[];
  memberships: [user: number, channel: number][];
  /** A client's assignment: [client, channel, active]. */
  assignments: [user: number, channel: number, active: boolean][];
}

const organizations = fc
  .record({
    users: fc.array(
      fc.record({
        role: fc.constantFrom<UserRole>('ADMIN', 'USER', 'CLIENT'),
        isActive: fc.boolean(),
      }),
      { minLength: 1, maxLength: 6 },
    ),
    channels: fc.array(fc.constantFrom<ChannelType>('PUBLIC', 'PRIVATE', 'DIRECT'), { minLength: 1, maxLength: 6 }),
    memberships: fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 15 }),
    assignments: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 6 }),
  })
  .map(({ users, channels, memberships, assignments }): GeneratedOrganization => {
    const pairs = new Map<string, [number, number]>();
    for (const [user, channel] of memberships) {
      const pair: [number, number] = [user % users.length, channel % channels.length];
      pairs.set(pair.join(':'), pair);
    }
    // As the database allows: one assignment per client, and at most one active client per channel.
    const assigned = new Set<number>();
    const occupied = new Set<number>();
    const kept: [number, number, boolean][] = [];
    for (const [rawUser, rawChannel, wantsActive] of assignments) {
      const user = rawUser % users.length;
      const channel = rawChannel % channels.length;
      if (users[user]!.role !== 'CLIENT' || channels[channel] === 'DIRECT' || assigned.has(user)) continue;
      const active = wantsActive && !occupied.has(channel);
      assigned.add(user);
      if (active) occupied.add(channel);
      kept.push([user, channel, active]);
    }
    return { users, channels, memberships: [...pairs.values()], assignments: kept };
  });

/** Stores a generated organization; returns its id and the ids of its users and channels, in order. */
async function store(spec: GeneratedOrganization) {
  const { pool } = server.app.db;
  const organizationId = randomUUID();
  const userIds = spec.users.map(() => randomUUID());
  const channelIds = spec.channels.map(() => randomUUID());
  await pool.query(`INSERT INTO organizations (id, name) VALUES ($1, 'generated')`, [organizationId]);
  await pool.query(
    `INSERT INTO users (id, organization_id, email, display_name, role, is_active)
     SELECT id, $1, id::text || '@generated.test', 'generated', lower(role)::user_role, active
     FROM unnest($2::uuid[], $3::text[], $4::boolean[]) AS u(id, role, active)`,
    [organizationId, userIds, spec.users.map((user) => user.role), spec.users.map((user) => user.isActive)],
  );
  await pool.query(
    `INSERT INTO channels (id, organization_id, name, channel_type, created_by, direct_key)
     SELECT id, $1, 'generated', lower(type)::channel_type, $2,
            CASE WHEN type = 'DIRECT' THEN id::text END
     FROM unnest($3::uuid[], $4::text[]) AS c(id, type)`,
    [organizationId, userIds[0], channelIds, spec.channels],
  );
  await pool.query(
    `INSERT INTO channel_members (channel_id, user_id, organization_id)
     SELECT channel_id, user_id, $1 FROM unnest($2::uuid[], $3::uuid[]) AS m(channel_id, user_id)`,
    [
      organizationId,
      spec.memberships.map(([, channel]) => channelIds[channel]),
      spec.memberships.map(([user]) => userIds[user]),
    ],
  );
  await pool.query(
    `INSERT INTO client_channel_assignments (client_user_id, channel_id, assigned_by, is_active)
     SELECT client, channel, $1, active FROM unnest($2::uuid[], $3::uuid[], $4::boolean[]) AS a(client, channel, active)`,
    [
      userIds[0],
      spec.assignments.map(([user]) => userIds[user]),
      spec.assignments.map(([, channel]) => channelIds[channel]),
      spec.assignments.map(([, , active]) => active),
    ],
  );
  return { organizationId, userIds, channelIds };
}

/** canRead on facts taken from the generated organization itself, not from the database. */
function expected(spec: GeneratedOrganization, viewer: Viewer, user: number, channel: number): boolean {
  const facts: ChannelFacts = {
    channelId: '',
    channelType: spec.channels[channel]!,
    isMember: spec.memberships.some(([u, c]) => u === user && c === channel),
    isAssignedClient: spec.assignments.some(([u, c, active]) => u === user && c === channel && active),
    hasClients: spec.assignments.some(([, c, active]) => c === channel && active),
  };
  return canRead(viewer, facts);
}

describe('channel visibility', () => {
  it('canRead, its SQL, its Prisma filter and the per-subscription view agree for every viewer and channel', async () => {
    const { pool, prisma } = server.app.db;
    await fc.assert(
      fc.asyncProperty(organizations, async (spec) => {
        const { organizationId, userIds, channelIds } = await store(spec);
        for (const [user, { role }] of spec.users.entries()) {
          const viewer: Viewer = { id: userIds[user]!, organizationId, role };
          const wanted = channelIds.filter((_, channel) => expected(spec, viewer, user, channel)).sort();

          const fromFacts: string[] = [];
          for (const channelId of channelIds) {
            const facts = await loadChannelFacts(pool, viewer, channelId);
            if (facts && canRead(viewer, facts)) fromFacts.push(channelId);
          }
          const { rows } = await pool.query<{ id: string }>(
            `SELECT c.id FROM channels c
             WHERE c.organization_id = $1 AND ${channelVisibleSql('c.id', '$2::uuid', '$3::text')}`,
            [organizationId, viewer.id, role],
          );
          const fromPrisma = await prisma.channel.findMany({
            where: visibleChannelsWhere(viewer),
            select: { id: true },
          });
          const view = await ViewerChannels.load(pool, viewer);

          const label = `${role} viewer #${user} of ${JSON.stringify(spec)}`;
          expect({ label, ids: fromFacts.sort() }).toEqual({ label, ids: wanted });
          expect({ label, ids: rows.map((row) => row.id).sort() }).toEqual({ label, ids: wanted });
          expect({ label, ids: fromPrisma.map((row) => row.id).sort() }).toEqual({ label, ids: wanted });
          expect({ label, ids: channelIds.filter((id) => view.canSee(id)).sort() }).toEqual({ label, ids: wanted });
          const replayed = view.visibleChannelIds();
          expect({ label, ids: replayed === null ? [...channelIds].sort() : replayed.sort() }).toEqual({
            label,
            ids: wanted,
          });
        }
      }),
      { numRuns: 40 },
    );
  });
});
