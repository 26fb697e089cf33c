import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { AddMembers, CreateChannel, RemoveMember } from '../support/documents.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { freePort, runTs, waitFor } from '../support/process.js';
import { recordedEvents, type RecordedEvents } from '../support/recorded-events.js';
import { repeatUntilStopped } from '../support/repeat.js';
import { addUser, type TestUser } from '../support/seed.js';
import { TEST_JWT_SECRET, type TestServer } from '../support/server.js';

// What a sidebar and a conversation view need besides messages: channel events (gained, changed, lost), typing
// and presence, across two instances.

const UpdateChannel = graphql(`
  mutation LiveUpdateChannel($input: UpdateChannelInput!) {
    updateChannel(input: $input) {
      id
    }
  }
`);
const OpenDirect = graphql(`
  mutation LiveOpenDirect($userId: ID!) {
    openDirectChannel(userId: $userId) {
      id
    }
  }
`);
const AssignClient = graphql(`
  mutation LiveAssignClient($input: AssignClientToChannelInput!) {
    assignClientToChannel(input: $input) {
      id
    }
  }
`);
const UpdateUser = graphql(`
  mutation LiveUpdateUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
    }
  }
`);
const SetTyping = graphql(`
  mutation LiveSetTyping($input: SetTypingInput!) {
    setTyping(input: $input)
  }
`);
const Presence = graphql(`
  query LivePresence {
    users(first: 50) {
      edges {
        node {
          id
          presence
          lastSeenAt
        }
      }
    }
  }
`);

const { servers, org } = useFixture({
  instances: 2,
  // A crashed instance's users go OFFLINE once their claims lapse: quickly here.
  server: { env: { PRESENCE_TIMEOUT_MS: '1500' } },
  organization: { users: ['Ann', 'Ben', 'Cid', 'Deb', 'Eva', 'Fay'], clients: ['Cora'] },
});
const first = () => servers()[0]!;
const second = () => servers()[1]!;

const as = <R, V>(server: TestServer, user: TestUser, document: TypedDocumentNode<R, V>, variables: V) =>
  gql(server.graphqlUrl, document, variables, { token: user.token });

const channelEvents = (recorder: RecordedEvents) =>
  recorder.events
    .filter((event) => event.__typename === 'ChannelEvent')
    .map((event) => [event.channelKind, event.channelId]);

/** A recorder on `second`, live once a probe through `first` arrived. */
async function liveOn(user: TestUser): Promise<RecordedEvents> {
  const probeChannel = await createChannel(first(), org().admin, { members: [user] });
  const recorder = recordedEvents({ urls: [second().wsUrl], token: user.token });
  const prober = repeatUntilStopped(() => send(first(), org().admin, probeChannel.id, '(probe)'), 30);
  await recorder.waitFor((events) => events.some((event) => event.__typename === 'MessageEvent')).finally(prober.stop);
  return recorder;
}

describe('channel events', () => {
  it('say when the viewer gains a channel, sees it change, and loses it', async () => {
    const { Ann, Ben } = org().users as Record<string, TestUser>;
    const viewer = await liveOn(Ben!);
    try {
      const created = dataOf(
        await as(first(), Ann!, CreateChannel, {
          input: { name: 'ops', channelType: 'PRIVATE', memberIds: [Ben!.id] },
        }),
      ).createChannel;
      const later = dataOf(
        await as(first(), Ann!, CreateChannel, { input: { name: 'later', channelType: 'PRIVATE' } }),
      ).createChannel;
      await as(first(), Ann!, UpdateChannel, { input: { id: created.id, name: 'operations' } });
      await as(second(), Ann!, AddMembers, { input: { channelId: later.id, userIds: [Ben!.id] } });
      await as(first(), Ann!, AddMembers, { input: { channelId: created.id, userIds: [org().admin.id] } });
      await as(second(), Ann!, RemoveMember, { input: { channelId: created.id, userId: Ben!.id } });
      const direct = dataOf(await as(first(), Ann!, OpenDirect, { userId: Ben!.id })).openDirectChannel;
      const expected = [
        ['ADDED', created.id],
        ['UPDATED', created.id],
        ['ADDED', later.id],
        ['UPDATED', created.id],
        ['REMOVED', created.id],
        ['ADDED', direct.id],
      ];
      await viewer.waitFor(() => channelEvents(viewer).length >= expected.length);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(channelEvents(viewer)).toEqual(expected);
      const renamed = viewer.events.find((event) => event.channelKind === 'UPDATED');
      expect(renamed).toMatchObject({ channel: { name: 'operations' } });
    } finally {
      viewer.stop();
    }
  });

  it('tell a client of the channel they are assigned to, and staff of a channel made private without them', async () => {
    const { Ann, Cid } = org().users as Record<string, TestUser>;
    const client = org().clients.Cora!;
    const support = await createChannel(first(), org().admin, { channelType: 'PRIVATE' });
    const lounge = await createChannel(first(), Ann!, { channelType: 'PUBLIC' });
    const clientView = recordedEvents({ urls: [second().wsUrl], token: client.token });
    const staffView = await liveOn(Cid!);
    try {
      // The client's subscription is live once an event of theirs arrives: their assignment is one.
      dataOf(
        await as(first(), org().admin, AssignClient, { input: { clientUserId: client.id, channelId: support.id } }),
      );
      await clientView.waitFor((events) => events.some((event) => event.channelId === support.id));
      expect(channelEvents(clientView)).toEqual([['ADDED', support.id]]);

      await as(first(), Ann!, UpdateChannel, { input: { id: lounge.id, channelType: 'PRIVATE' } });
      await staffView.waitFor((events) => events.some((event) => event.channelId === lounge.id));
      expect(channelEvents(staffView).filter(([, id]) => id === lounge.id)).toEqual([['REMOVED', lounge.id]]);
    } finally {
      clientView.stop();
      staffView.stop();
    }
  });

  it('say which channels a role change took away, and reach an open subscription in order', async () => {
    const { Ann, Deb } = org().users as Record<string, TestUser>;
    dataOf(await as(first(), org().admin, UpdateUser, { input: { id: Deb!.id, role: 'ADMIN' } }));
    const hidden = await createChannel(first(), Ann!, { channelType: 'PRIVATE' });
    const viewer = await liveOn(Deb!);
    try {
      dataOf(await as(first(), org().admin, UpdateUser, { input: { id: Deb!.id, role: 'USER' } }));
      await send(first(), Ann!, hidden.id, 'after the demotion');
      await viewer.waitFor((events) =>
        events.some((event) => event.channelKind === 'REMOVED' && event.channelId === hidden.id),
      );
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(viewer.events.map((event) => (event.message as { content?: string } | undefined)?.content)).not.toContain(
        'after the demotion',
      );
    } finally {
      viewer.stop();
    }
  });
});

describe('typing', () => {
  it('reaches the channel’s other readers on another instance within a second, and ends by itself', async () => {
    const { Eva, Fay } = org().users as Record<string, TestUser>;
    const channel = await createChannel(first(), Eva!, { members: [Fay!] });
    const reader = await liveOn(Fay!);
    const writer = await liveOn(Eva!);
    try {
      const before = Date.now();
      expect(dataOf(await as(first(), Eva!, SetTyping, { input: { channelId: channel.id, typing: true } }))).toEqual({
        setTyping: true,
      });
      const typing = (recorder: RecordedEvents) =>
        recorder.events.filter((event) => event.__typename === 'TypingEvent' && event.channelId === channel.id);
      await reader.waitFor(() => typing(reader).length === 1, 1_000, 'typing within a second');
      expect(Date.now() - before).toBeLessThan(1_000);
      expect(typing(reader)[0]).toMatchObject({ typing: true, user: { id: Eva!.id } });
      // Refreshed many times in a burst: coalesced, not a flood.
      for (let index = 0; index < 20; index++)
        await as(second(), Eva!, SetTyping, { input: { channelId: channel.id, typing: true } });
      // Nobody refreshes: it ends by itself after six seconds.
      await reader.waitFor(() => typing(reader).some((event) => event.typing === false), 9_000, 'typing to end');
      expect(typing(reader).length).toBeLessThanOrEqual(4);
      expect(typing(writer)).toEqual([]);
    } finally {
      reader.stop();
      writer.stop();
    }
  }, 20_000);

  it('is refused where the viewer cannot post, and never replayed', async () => {
    const { Eva, Fay } = org().users as Record<string, TestUser>;
    const privateChannel = await createChannel(first(), Eva!, { channelType: 'PRIVATE' });
    expect(
      errorCodes(await as(first(), Fay!, SetTyping, { input: { channelId: privateChannel.id, typing: true } })),
    ).toEqual(['NOT_FOUND']);
    const shared = await createChannel(first(), Eva!, { members: [Fay!] });
    const message = await send(first(), Eva!, shared.id, 'before typing');
    dataOf(await as(first(), Eva!, SetTyping, { input: { channelId: shared.id, typing: true } }));
    await send(first(), Eva!, shared.id, 'after typing');
    const resumed = recordedEvents({ urls: [second().wsUrl], token: Fay!.token, after: message.cursor });
    try {
      await resumed.waitFor((events) =>
        events.some((event) => (event.message as { content?: string })?.content === 'after typing'),
      );
      expect(resumed.events.filter((event) => event.__typename === 'TypingEvent')).toEqual([]);
    } finally {
      resumed.stop();
    }
  });
});

describe('presence', () => {
  const presenceOf = async (userId: string) => {
    const users = dataOf(await as(first(), org().admin, Presence, {})).users.edges.map((edge) => edge.node);
    return users.find((user) => user.id === userId)!;
  };
  const presenceEvents = (recorder: RecordedEvents, userId: string) =>
    recorder.events
      .filter((event) => event.__typename === 'PresenceEvent' && (event.user as { id: string }).id === userId)
      .map((event) => event.presence);

  it('is ONLINE while the user holds a socket on any instance, then OFFLINE with the time last seen', async () => {
    const watcher = await liveOn(org().admin);
    const user = await addUser(first(), org(), 'Gus', 'USER');
    try {
      expect(await presenceOf(user.id)).toMatchObject({ presence: 'OFFLINE', lastSeenAt: null });
      const connection = recordedEvents({ urls: [first().wsUrl], token: user.token });
      await watcher.waitFor(() => presenceEvents(watcher, user.id).includes('ONLINE'));
      expect(await presenceOf(user.id)).toMatchObject({ presence: 'ONLINE' });
      connection.stop();
      await watcher.waitFor(() => presenceEvents(watcher, user.id).includes('OFFLINE'));
      const offline = await presenceOf(user.id);
      expect(offline.presence).toBe('OFFLINE');
      expect(new Date(offline.lastSeenAt as string).getTime()).toBeGreaterThan(Date.now() - 10_000);
    } finally {
      watcher.stop();
    }
  });

  it('turns OFFLINE within seconds when the instance holding the socket crashes', async () => {
    const watcher = await liveOn(org().admin);
    const user = await addUser(first(), org(), 'Hal', 'USER');
    const port = await freePort();
    const instance = runTs('src/main.ts', [], {
      NODE_ENV: 'test',
      PORT: String(port),
      HOST: '127.0.0.1',
      DATABASE_URL: first().config.databaseUrl,
      MIGRATE_ON_START: 'false',
      REDIS_URL: process.env.REDIS_URL,
      REDIS_PREFIX: first().config.redisPrefix,
      JWT_SECRET: TEST_JWT_SECRET,
      PRESENCE_TIMEOUT_MS: '1500',
      OUTBOX_WORKER_ENABLED: 'false',
      LOG_LEVEL: 'warn',
    });
    try {
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined),
        60_000,
        () => `the instance to start (${instance.output()})`,
        instance,
      );
      const connection = recordedEvents({ urls: [`ws://127.0.0.1:${port}/graphql`], token: user.token });
      await watcher.waitFor(() => presenceEvents(watcher, user.id).includes('ONLINE'), 10_000, 'ONLINE');
      instance.child.kill('SIGKILL');
      const crashedAt = Date.now();
      await watcher.waitFor(() => presenceEvents(watcher, user.id).includes('OFFLINE'), 10_000, 'OFFLINE');
      expect(Date.now() - crashedAt).toBeLessThan(5_000);
      connection.stop();
    } finally {
      instance.child.kill('SIGKILL');
      await instance.exited;
      watcher.stop();
    }
  }, 90_000);
});
