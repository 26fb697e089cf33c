import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createChannel, send } from '../support/messaging.js';
import { recordingLogger } from '../support/hostile.js';
import { firstSubscriptionResult, rawGql } from '../support/raw.js';
import { seedOrganization, type TestUser } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { seedWorld, type World } from '../support/world.js';

// Cursors are opaque: the server answers a cursor it did not issue (forged, damaged, out of the database's
// ranges, of another list or organization, or ahead of anything that happened) with BAD_USER_INPUT on `after`
// or `before`, never with INTERNAL_SERVER_ERROR, an empty page, or SERVICE_UNAVAILABLE (which would have the
// client retry forever). The cursors it issued, the `m1` ones clients already hold included, keep working.

let server: TestServer;
let world: World;
/** Another organization's message and its cursor. */
let foreign: { messageCursor: string; channelCursor: string };
const recorder = recordingLogger();

const m1 = (text: string) => Buffer.from(text).toString('base64url');
const NIL = '00000000-0000-0000-0000-000000000000';

beforeAll(async () => {
  server = await startServer({ logger: recorder.logger });
  world = await seedWorld(server);
  const other = await seedOrganization(server, { users: ['Olga'] });
  const channel = await createChannel(server, other.users.Olga!);
  const message = await send(server, other.users.Olga!, channel.id, 'elsewhere');
  const page = await rawGql(server.graphqlUrl, '{ channels(first: 1) { edges { cursor } } }', {}, other.admin.token);
  foreign = {
    messageCursor: message.cursor,
    channelCursor: (page.data as { channels: { edges: { cursor: string }[] } }).channels.edges[0]!.cursor,
  };
});
afterAll(() => server?.stop());

const ask = (query: string, variables: Record<string, unknown>, user: TestUser = world.org.admin) =>
  rawGql(server.graphqlUrl, query, variables, user.token);

const refusal = (response: { errors?: readonly { extensions?: Record<string, unknown> }[] }) => ({
  codes: (response.errors ?? []).map((error) => error.extensions?.code),
  field: response.errors?.[0]?.extensions?.field,
});
const refusedOn = (field: 'after' | 'before') => ({ codes: ['BAD_USER_INPUT'], field });

const HISTORY =
  'query($c: ID!, $after: String) { messages(channelId: $c, first: 5, after: $after) { edges { cursor } } }';
const HISTORY_BEFORE =
  'query($c: ID!, $before: String) { messages(channelId: $c, last: 5, before: $before) { edges { cursor } } }';
const REPLIES =
  'query($m: ID!, $after: String) { message(id: $m) { replies(first: 5, after: $after) { edges { cursor } } } }';
const CHANNELS = 'query($after: String) { channels(first: 5, after: $after) { edges { cursor } } }';
const USERS = 'query($after: String) { users(first: 5, after: $after) { edges { cursor } } }';
const DELIVERIES = 'query($after: String) { webhookDeliveries(first: 5, after: $after) { edges { cursor } } }';
const MEMBERS =
  'query($c: ID!, $after: String) { channel(id: $c) { members(first: 5, after: $after) { edges { cursor } } } }';
const VIEWER_EVENTS =
  'subscription($after: String) { viewerEvents(after: $after) { ... on MessageEvent { cursor message { id } } } }';
const CHANNEL_EVENTS =
  'subscription($c: ID!, $after: String) { messageEvents(channelId: $c, after: $after) { cursor message { id } } }';

/** A history cursor of a real message of the world, with one of its parts replaced. */
async function rewritten(part: 'seq' | 'createdAtUs', value: (actual: bigint) => bigint): Promise<string> {
  const row = await server.app.db.pool.query<{ id: string; createdSeq: string; eventSeq: string; us: string }>(
    `SELECT id, created_seq::text AS "createdSeq", event_seq::text AS "eventSeq",
       (extract(epoch FROM created_at) * 1000000)::bigint::text AS us
     FROM messages WHERE channel_id = $1 ORDER BY created_at LIMIT 1`,
    [world.channelId],
  );
  const { id, createdSeq, us } = row.rows[0]!;
  const seq = part === 'seq' ? value(BigInt(createdSeq)) : BigInt(createdSeq);
  const at = part === 'createdAtUs' ? value(BigInt(us)) : BigInt(us);
  return m1(`m1:${seq}:${at}:${id}`);
}

describe('forged cursors', () => {
  it('messages(after:) with a creation time beyond bigint is BAD_USER_INPUT, on history and replies', async () => {
    const forged = m1(`m1:1:9999999999999999999:${NIL}`);
    expect(refusal(await ask(HISTORY, { c: world.channelId, after: forged }))).toEqual(refusedOn('after'));
    expect(refusal(await ask(HISTORY_BEFORE, { c: world.channelId, before: forged }))).toEqual(refusedOn('before'));
    expect(refusal(await ask(REPLIES, { m: world.threadRootId, after: forged }))).toEqual(refusedOn('after'));
  });

  it('channels(first: 5, after: "R1BDOk46NQ==") is BAD_USER_INPUT, and so is any key of the wrong shape', async () => {
    const wrongShapes = ['R1BDOk46NQ==', 'GPC:S:not-a-uuid', 'GPC:O:{"id":1}', 'GPC:I:99999999999999999999'].map(
      (text, index) => (index === 0 ? text : Buffer.from(text).toString('base64')),
    );
    for (const cursor of wrongShapes) {
      for (const query of [CHANNELS, USERS, DELIVERIES]) {
        expect({ query, cursor, ...refusal(await ask(query, { after: cursor })) }).toEqual({
          query,
          cursor,
          ...refusedOn('after'),
        });
      }
      expect(refusal(await ask(MEMBERS, { c: world.channelId, after: cursor }))).toEqual(refusedOn('after'));
    }
  });

  it('a well-formed cursor that names no issued position is BAD_USER_INPUT', async () => {
    const forged = [
      await rewritten('createdAtUs', (us) => us + 1n),
      await rewritten('seq', (seq) => seq - 1n),
      await rewritten('seq', () => 2n ** 63n - 1n),
      await rewritten('seq', () => 2n ** 63n),
      m1(`m1:1:1700000000000000:${NIL}`),
      m1(`m1:1:-5:${NIL}`),
      `${world.cursors.messages}=`,
      world.cursors.messages.slice(0, -3),
    ];
    for (const cursor of forged) {
      expect({ cursor, ...refusal(await ask(HISTORY, { c: world.channelId, after: cursor })) }).toEqual({
        cursor,
        ...refusedOn('after'),
      });
    }
  });

  // A message or event cursor is a point in the organization's sequence: any channel's history (or thread) can be
  // paged after it. Another kind of list's cursor, or another organization's, is not one this server issued.
  it('a cursor of another kind of list or another organization is BAD_USER_INPUT', async () => {
    const { cursors } = world;
    const cases: [string, Record<string, unknown>][] = [
      [CHANNELS, { after: cursors.members }],
      [CHANNELS, { after: cursors.users }],
      [CHANNELS, { after: cursors.messages }],
      [CHANNELS, { after: foreign.channelCursor }],
      [USERS, { after: cursors.channels }],
      [DELIVERIES, { after: cursors.channels }],
      [MEMBERS, { c: world.channelId, after: cursors.channels }],
      [MEMBERS, { c: world.fillers.ids.channel![1], after: cursors.members }],
      [HISTORY, { c: world.channelId, after: cursors.channels }],
      [HISTORY, { c: world.channelId, after: foreign.messageCursor }],
      [REPLIES, { m: world.threadRootId, after: foreign.messageCursor }],
    ];
    for (const [query, variables] of cases) {
      expect({ query, variables, ...refusal(await ask(query, variables)) }).toEqual({
        query,
        variables,
        ...refusedOn('after'),
      });
    }
  });

  it('a resume cursor out of range or ahead of the organization is BAD_USER_INPUT, not SERVICE_UNAVAILABLE', async () => {
    const forged = [
      m1(`m1:9999999999999999999:1:${NIL}`),
      await rewritten('seq', () => 2n ** 63n - 1n),
      await rewritten('seq', (seq) => seq + 1_000_000n),
      foreign.messageCursor,
      world.cursors.channels,
    ];
    for (const after of forged) {
      for (const [query, variables] of [
        [VIEWER_EVENTS, { after }],
        [CHANNEL_EVENTS, { c: world.channelId, after }],
      ] as const) {
        const result = await firstSubscriptionResult(server.wsUrl, query, variables, world.org.admin.token);
        const answer = result === 'no event' ? { codes: ['no event'] } : refusal(result);
        expect({ after, query, ...answer }).toEqual({ after, query, ...refusedOn('after') });
      }
    }
  });
});

describe('issued cursors', () => {
  it('page every connection forwards and backwards', async () => {
    const { cursors } = world;
    const pages: [string, Record<string, unknown>][] = [
      [HISTORY, { c: world.channelId, after: cursors.messages }],
      [HISTORY_BEFORE, { c: world.channelId, before: cursors.messages }],
      [REPLIES, { m: world.threadRootId, after: cursors.replies }],
      [CHANNELS, { after: cursors.channels }],
      [USERS, { after: cursors.users }],
      [DELIVERIES, { after: cursors.deliveries }],
      [MEMBERS, { c: world.channelId, after: cursors.members }],
      [
        'query($before: String) { channels(last: 5, before: $before) { edges { cursor } } }',
        { before: cursors.channels },
      ],
    ];
    for (const [query, variables] of pages) {
      expect({ query, errors: (await ask(query, variables)).errors }).toEqual({ query, errors: undefined });
    }
  });

  it('keep working as clients hold them: a history cursor resumes a subscription, an event cursor pages history', async () => {
    const before = await send(server, world.staff, world.channelId, 'the cursor');
    const after = await send(server, world.staff, world.channelId, 'resumed');
    const resumed = await firstSubscriptionResult(
      server.wsUrl,
      CHANNEL_EVENTS,
      { c: world.channelId, after: before.cursor },
      world.staff.token,
    );
    expect(resumed).toEqual({ data: { messageEvents: { cursor: expect.any(String), message: { id: after.id } } } });
    const eventCursor = (resumed as { data: { messageEvents: { cursor: string } } }).data.messageEvents.cursor;
    const page = await ask(HISTORY_BEFORE, { c: world.channelId, before: eventCursor });
    expect(page.errors).toBeUndefined();
    const history = await ask(HISTORY, { c: world.channelId, after: eventCursor });
    expect(history).toMatchObject({ data: { messages: { edges: [] } } });
  });

  it('left nothing unexpected in the log', () => {
    expect(recorder.problems()).toEqual([]);
  });
});
