import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { seedOrganization } from '../support/seed.js';
import type { MessagesQuery } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';
import { MessageEvents, Messages, RemoveMember } from '../support/documents.js';
import { dataOf, gql, subscribe, wsClient } from '../support/graphql.js';
import { createChannel, liveMessageEvents, PROBE, send } from '../support/messaging.js';
import { repeatUntilStopped } from '../support/repeat.js';

const EditMessage = graphql(`
  mutation RealtimeEdit($input: EditMessageInput!) {
    editMessage(input: $input) {
      id
    }
  }
`);
const DeleteMessage = graphql(`
  mutation RealtimeDelete($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
    }
  }
`);
const AddReaction = graphql(`
  mutation RealtimeAddReaction($input: ReactionInput!) {
    addReaction(input: $input) {
      id
    }
  }
`);
const MarkRead = graphql(`
  mutation RealtimeMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);
const ViewerEvents = graphql(`
  subscription ViewerEvents($after: String) {
    viewerEvents(after: $after) {
      __typename
      ... on MessageEvent {
        messageKind: kind
        cursor
        message {
          id
          channelId
          content
        }
      }
      ... on ReactionEvent {
        reactionKind: kind
        messageId
        emoji
        user {
          id
        }
      }
      ... on MessageStatusEvent {
        messageId
        status
        user {
          id
        }
      }
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob', 'Dana'] } });

const liveSubscription = (token: string, channelId: string, after?: string) =>
  liveMessageEvents(server(), { token, channelId, after, prober: org().admin });

describe('resuming with after', () => {
  it('replays what was sent, edited and deleted while away, then continues live, each once', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const seen = await liveSubscription(org().users.Bob!.token, channel.id);
    const kept = await send(server(), org().users.Alice!, channel.id, 'kept');
    const toEdit = await send(server(), org().users.Alice!, channel.id, 'to edit');
    const toDelete = await send(server(), org().users.Alice!, channel.id, 'to delete');
    const before = await seen.waitForMessages(3);
    const lastCursor = before.at(-1)!.messageEvents.cursor;
    await seen.close();

    // While away: two new messages, an edit and a deletion of older ones.
    const away1 = await send(server(), org().users.Alice!, channel.id, 'while away 1');
    dataOf(
      await gql(
        server().graphqlUrl,
        EditMessage,
        { input: { messageId: toEdit.id, content: 'edited' } },
        { token: org().users.Alice!.token },
      ),
    );
    dataOf(
      await gql(server().graphqlUrl, DeleteMessage, { messageId: toDelete.id }, { token: org().users.Alice!.token }),
    );
    const away2 = await send(server(), org().users.Alice!, channel.id, 'while away 2');

    const resumed = await liveSubscription(org().users.Bob!.token, channel.id, lastCursor);
    try {
      const replayed = await resumed.events.waitForCount(4);
      expect(replayed.map((event) => [event.messageEvents.kind, event.messageEvents.message.id])).toEqual([
        ['CREATED', away1.id],
        ['UPDATED', toEdit.id],
        ['DELETED', toDelete.id],
        ['CREATED', away2.id],
      ]);
      expect(replayed[1]!.messageEvents.message.content).toBe('edited');
      const liveMessage = await send(server(), org().users.Alice!, channel.id, 'live again');
      const all = await resumed.events.waitForCount(5);
      expect(all[4]!.messageEvents.message.id).toBe(liveMessage.id);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(resumed.events.events).toHaveLength(5);
      expect(all.map((event) => event.messageEvents.message.id)).not.toContain(kept.id);
    } finally {
      await resumed.close();
    }
  });

  it('has no gap and no duplicate at the seam while messages keep arriving during a long catch-up', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const start = await send(server(), org().users.Alice!, channel.id, 'start');
    // More than one replay page (500) sent while the subscriber is away...
    const away = [];
    for (let batch = 0; batch < 13; batch++) {
      away.push(
        ...(await Promise.all(
          Array.from({ length: 50 }, (_, i) => send(server(), org().users.Alice!, channel.id, `away ${batch}.${i}`)),
        )),
      );
    }
    // ...and more sent from several senders while it catches up.
    const resumed = await liveSubscription(org().users.Bob!.token, channel.id, start.cursor);
    const during = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        send(server(), i % 2 ? org().users.Bob! : org().users.Alice!, channel.id, `during ${i}`),
      ),
    );
    try {
      const expected = [...away, ...during].map((message) => message.id);
      const received = await resumed.events.waitForCount(expected.length, 20_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const ids = resumed.events.events.map((event) => event.messageEvents.message.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort()).toEqual([...expected].sort());
      // In the order everyone sees: the channel's history order.
      const history: string[] = [];
      let after: string | null | undefined = start.cursor;
      for (;;) {
        const page: MessagesQuery = dataOf(
          await gql(
            server().graphqlUrl,
            Messages,
            { channelId: channel.id, first: 100, after },
            { token: org().users.Bob!.token },
          ),
        );
        history.push(...page.messages.edges.map((edge) => edge.node.id));
        if (!page.messages.pageInfo.hasNextPage) break;
        after = page.messages.pageInfo.endCursor;
      }
      expect(ids).toEqual(history);
      expect(received.every((event) => event.messageEvents.kind === 'CREATED')).toBe(true);
    } finally {
      await resumed.close();
    }
  }, 60_000);

  it("catches up after an absence longer than a subscriber may have queued, at the client's pace", async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const start = await send(server(), org().users.Alice!, channel.id, 'before a long absence');
    const missed: string[] = [];
    for (let batch = 0; batch < 25; batch++) {
      const sent = await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          server().app.services.sendMessage.execute(org().users.Alice!.session, {
            channelId: channel.id,
            content: `missed ${batch}.${index}`,
          }),
        ),
      );
      missed.push(...sent.map((message) => message.id));
    }
    const resumed = await liveSubscription(org().users.Bob!.token, channel.id, start.cursor);
    try {
      await resumed.events.waitForCount(missed.length, 30_000);
      const ids = resumed.events.events.map((event) => event.messageEvents.message.id);
      expect(resumed.events.errors).toEqual([]);
      expect(new Set(ids).size).toBe(missed.length);
      expect([...ids].sort()).toEqual([...missed].sort());
    } finally {
      await resumed.close();
    }
  }, 60_000);

  it('accepts a cursor from a history page', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    await send(server(), org().users.Alice!, channel.id, 'one');
    await send(server(), org().users.Alice!, channel.id, 'two');
    const page = dataOf(
      await gql(server().graphqlUrl, Messages, { channelId: channel.id, last: 1 }, { token: org().users.Bob!.token }),
    );
    const three = await send(server(), org().users.Alice!, channel.id, 'three');
    const resumed = await liveSubscription(org().users.Bob!.token, channel.id, page.messages.pageInfo.endCursor!);
    try {
      const events = await resumed.events.waitForCount(1);
      expect(events[0]!.messageEvents).toMatchObject({ kind: 'CREATED', message: { id: three.id } });
    } finally {
      await resumed.close();
    }
  });
});

describe('access', () => {
  it('stops delivering to a member removed from the channel', async () => {
    const channel = await createChannel(server(), org().users.Alice!, {
      channelType: 'PRIVATE',
      members: [org().users.Dana!],
    });
    const watcher = await liveSubscription(org().users.Dana!.token, channel.id);
    try {
      await send(server(), org().users.Alice!, channel.id, 'for Dana');
      await watcher.waitForMessages(1);
      dataOf(
        await gql(
          server().graphqlUrl,
          RemoveMember,
          { input: { channelId: channel.id, userId: org().users.Dana!.id } },
          { token: org().users.Alice!.token },
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
      await send(server(), org().users.Alice!, channel.id, 'not for Dana');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(watcher.messages().map((event) => event.messageEvents.message.content)).toEqual(['for Dana']);
    } finally {
      await watcher.close();
    }
  });

  it("moves a reassigned client's live subscription to the new channel at once", async () => {
    const seeded = await seedOrganization(server(), { users: ['Staff'], clients: ['Cleo'] });
    const [staff, cleo] = [seeded.users.Staff!, seeded.clients.Cleo!];
    const first = await createChannel(server(), staff, { channelType: 'PRIVATE' });
    const second = await createChannel(server(), staff, { channelType: 'PRIVATE' });
    const { clientAssignments } = server().app.services;
    await clientAssignments.assign(seeded.admin.session, { clientUserId: cleo.id, channelId: first.id });
    const client = wsClient(server().wsUrl, cleo.token);
    const events = subscribe(client, ViewerEvents, {});
    try {
      const prober = repeatUntilStopped(() => send(server(), staff, first.id, PROBE), 30);
      await events.waitForCount(1).finally(prober.stop);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const contents = () =>
        events.events.flatMap((event) =>
          event.viewerEvents.__typename === 'MessageEvent' && event.viewerEvents.message.content !== PROBE
            ? [event.viewerEvents.message.content]
            : [],
        );
      await clientAssignments.assign(seeded.admin.session, { clientUserId: cleo.id, channelId: second.id });
      await new Promise((resolve) => setTimeout(resolve, 100));
      await send(server(), staff, first.id, 'in the old channel');
      await send(server(), staff, second.id, 'in the new channel');
      await events.waitFor(() => contents().length >= 1);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(contents()).toEqual(['in the new channel']);
    } finally {
      events.stop();
      await client.dispose();
    }
  });

  it('refuses a channel the viewer cannot see, and the socket stays usable', async () => {
    const secret = await createChannel(server(), org().users.Alice!, { channelType: 'PRIVATE' });
    const open = await createChannel(server(), org().users.Alice!);
    const client = wsClient(server().wsUrl, org().users.Bob!.token);
    try {
      const refused = subscribe(client, MessageEvents, { channelId: secret.id });
      expect(JSON.stringify(await refused.waitForError())).toContain('NOT_FOUND');
      const allowed = subscribe(client, MessageEvents, { channelId: open.id });
      const message = await send(server(), org().users.Alice!, open.id, 'still works');
      expect((await allowed.waitForCount(1))[0]!.messageEvents.message.id).toBe(message.id);
      allowed.stop();
    } finally {
      await client.dispose();
    }
  });
});

describe('viewerEvents', () => {
  it("delivers messages, reactions and read statuses of all the viewer's channels, and nothing else", async () => {
    const shared = await createChannel(server(), org().users.Alice!, {
      channelType: 'PRIVATE',
      members: [org().users.Bob!],
    });
    const publicChannel = await createChannel(server(), org().users.Alice!);
    const hidden = await createChannel(server(), org().users.Alice!, { channelType: 'PRIVATE' });
    const client = wsClient(server().wsUrl, org().users.Bob!.token);
    const events = subscribe(client, ViewerEvents, {});
    const prober = repeatUntilStopped(() => send(server(), org().admin, shared.id, PROBE), 30);
    await events.waitForCount(1).finally(prober.stop);
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Only events about this test's own messages: probes (some sent before the subscription was live, so
    // never seen as probes) are marked read along with the first message.
    const ours = new Set<string>();
    const received = () =>
      events.events.filter((event) =>
        ours.has(
          event.viewerEvents.__typename === 'MessageEvent'
            ? event.viewerEvents.message.id
            : 'messageId' in event.viewerEvents
              ? event.viewerEvents.messageId
              : '',
        ),
      );
    try {
      const first = await send(server(), org().users.Alice!, shared.id, 'in shared');
      const inHidden = await send(server(), org().users.Alice!, hidden.id, 'hidden');
      const second = await send(server(), org().users.Alice!, publicChannel.id, 'in public');
      [first, inHidden, second].forEach((message) => ours.add(message.id));
      dataOf(
        await gql(
          server().graphqlUrl,
          AddReaction,
          { input: { messageId: first.id, emoji: '👍' } },
          { token: org().users.Alice!.token },
        ),
      );
      dataOf(
        await gql(
          server().graphqlUrl,
          MarkRead,
          { input: { channelId: shared.id, upToMessageId: first.id } },
          { token: org().users.Bob!.token },
        ),
      );
      await events.waitFor(() => received().length >= 4);
      expect(received().map((event) => event.viewerEvents.__typename)).toEqual([
        'MessageEvent',
        'MessageEvent',
        'ReactionEvent',
        'MessageStatusEvent',
      ]);
      const [created, inPublic, reaction, status] = received();
      expect(created!.viewerEvents).toMatchObject({ message: { id: first.id } });
      expect(inPublic!.viewerEvents).toMatchObject({ message: { id: second.id } });
      expect(reaction!.viewerEvents).toMatchObject({
        reactionKind: 'ADDED',
        messageId: first.id,
        emoji: '👍',
        user: { id: org().users.Alice!.id },
      });
      expect(status!.viewerEvents).toMatchObject({
        messageId: first.id,
        status: 'READ',
        user: { id: org().users.Bob!.id },
      });
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(received()).toHaveLength(4);
    } finally {
      events.stop();
      await client.dispose();
    }
  });
});

describe('server-sent events', () => {
  it('serves the same subscriptions over SSE', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const controller = new AbortController();
    const response = await fetch(server().graphqlUrl, {
      method: 'POST',
      signal: controller.signal,
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${org().users.Bob!.token}`,
      },
      body: JSON.stringify({
        query: 'subscription($c: ID!) { messageEvents(channelId: $c) { kind message { id content } } }',
        variables: { c: channel.id },
      }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    const sender = repeatUntilStopped(() => send(server(), org().users.Alice!, channel.id, 'over sse'), 50);
    try {
      while (!text.includes('over sse')) text += new TextDecoder().decode((await reader.read()).value);
    } finally {
      await sender.stop();
      controller.abort();
    }
    expect(text).toContain('"kind":"CREATED"');
  });
});
