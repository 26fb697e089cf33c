import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { customerWrites, openConversation } from '../support/conversations.js';
import { dataOf, errorCodes, gql, subscribe, wsClient } from '../support/graphql.js';
import { settledOutbound, startSendingWorld, type SendingWorld } from '../support/outbound.js';
import { seedOrganization, type TestOrganization, type TestUser } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';

// Internal notes in a client's channel: staff see them everywhere, the client nowhere (history, one message,
// thread replies, last message, unread count, live events, replays, reactions), and Meta never receives them
// (the fake Graph API records every request).

const SendNote = graphql(`
  mutation SendNote($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      internal
      cursor
    }
  }
`);

const ChannelView = graphql(`
  query NotesChannelView($id: ID!) {
    channel(id: $id) {
      unreadCount
      lastMessage {
        id
      }
    }
    messages(channelId: $id, first: 100) {
      edges {
        node {
          id
          internal
        }
      }
    }
  }
`);

const Search = graphql(`
  query NotesSearch($query: String!, $channelId: ID) {
    searchMessages(query: $query, channelId: $channelId, first: 10) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

const OneMessage = graphql(`
  query NotesOneMessage($id: ID!) {
    message(id: $id) {
      id
      replyCount
      replies(first: 10) {
        edges {
          node {
            id
          }
        }
      }
    }
  }
`);

const React = graphql(`
  mutation NotesReact($input: ReactionInput!) {
    addReaction(input: $input) {
      id
    }
  }
`);

const Events = graphql(`
  subscription NotesEvents($after: String) {
    viewerEvents(after: $after) {
      __typename
      ... on MessageEvent {
        message {
          id
        }
      }
      ... on ReactionEvent {
        messageId
      }
      ... on MessageStatusEvent {
        statusOf: messageId
        status
      }
    }
  }
`);

const MarkRead = graphql(`
  mutation NotesMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);

let world: SendingWorld;
let org: TestOrganization;

beforeAll(async () => {
  world = await startSendingWorld();
  org = await seedOrganization(world.server, { users: ['Agent'] });
}, SENDER_LOCK_WAIT_MS);
afterAll(async () => {
  await world?.stop();
});

const call = <R, V>(document: Parameters<typeof gql<R, V>>[1], variables: V, user: TestUser) =>
  gql(world.server.graphqlUrl, document, variables, { token: user.token });
const ids = (edges: { node: { id: string } }[]) => edges.map((edge) => edge.node.id);

describe('internal notes', () => {
  it('are written by staff even with the window closed, and never reach the platform', async () => {
    const conversation = await openConversation(world.server, org, 'WHATSAPP');
    // The customer never wrote: a free-form reply is refused, a note is not.
    const reply = await call(SendNote, { input: { channelId: conversation.channelId, content: 'hello' } }, org.admin);
    expect(errorCodes(reply)).toEqual(['CONFLICT']);
    const note = dataOf(
      await call(SendNote, { input: { channelId: conversation.channelId, content: 'VIP', internal: true } }, org.admin),
    ).sendMessage;
    expect(note.internal).toBe(true);

    await customerWrites(world.server, conversation);
    const visible = dataOf(
      await call(SendNote, { input: { channelId: conversation.channelId, content: 'How can I help?' } }, org.admin),
    ).sendMessage;
    await settledOutbound(world.server, visible.id);
    const secondNote = dataOf(
      await call(
        SendNote,
        { input: { channelId: conversation.channelId, content: 'noted', internal: true } },
        org.admin,
      ),
    ).sendMessage;
    // The sender has run since the second note was written: a visible message after it is sent, and only it.
    const after = dataOf(
      await call(SendNote, { input: { channelId: conversation.channelId, content: 'Anything else?' } }, org.admin),
    ).sendMessage;
    await settledOutbound(world.server, after.id);

    const texts = world
      .requestsTo(conversation.platformUserId!)
      .map((request) => (request.body.text as { body: string }).body);
    expect(texts).toEqual(['How can I help?', 'Anything else?']);
    const queued = await world.server.app.db.prisma.outboundMessage.findMany({
      where: { messageId: { in: [note.id, secondNote.id] } },
    });
    expect(queued).toEqual([]);

    const asClient = await call(
      SendNote,
      {
        input: { channelId: conversation.channelId, content: 'me too', internal: true },
      },
      conversation.client,
    );
    expect(errorCodes(asClient)).toEqual(['FORBIDDEN']);
  });

  it('are hidden from the client in history, lookups, threads, last message, unread count, events and replays', async () => {
    const server = world.server;
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const inbound = await customerWrites(server, conversation, { text: 'my order is late' });
    // Both subscribe after a message of their own: what follows reaches them even before they are live
    // (graphql-ws does not say when a subscription is in place).
    const start = dataOf(
      await call(SendNote, { input: { channelId: conversation.channelId, content: 'Hello' } }, org.admin),
    ).sendMessage;
    const clientSocket = wsClient(server.wsUrl, conversation.client.token);
    const staffSocket = wsClient(server.wsUrl, org.admin.token);
    const clientEvents = subscribe(clientSocket, Events, { after: start.cursor });
    const staffEvents = subscribe(staffSocket, Events, { after: start.cursor });
    try {
      const probe = dataOf(
        await call(SendNote, { input: { channelId: conversation.channelId, content: 'Looking into it' } }, org.admin),
      ).sendMessage;
      const seen = (id: string) => (events: typeof clientEvents.events) =>
        events.some(
          (event) => event.viewerEvents.__typename === 'MessageEvent' && event.viewerEvents.message.id === id,
        );
      await Promise.all([clientEvents.waitFor(seen(probe.id)), staffEvents.waitFor(seen(probe.id))]);

      const note = dataOf(
        await call(
          SendNote,
          { input: { channelId: conversation.channelId, content: 'refund approved?', internal: true } },
          org.admin,
        ),
      ).sendMessage;
      const threadNote = dataOf(
        await call(
          SendNote,
          {
            input: {
              channelId: conversation.channelId,
              content: 'reply in thread',
              internal: true,
              threadId: inbound.id,
            },
          },
          org.admin,
        ),
      ).sendMessage;
      dataOf(await call(React, { input: { messageId: note.id, emoji: '👍' } }, org.admin));
      const last = dataOf(
        await call(SendNote, { input: { channelId: conversation.channelId, content: 'One moment' } }, org.admin),
      ).sendMessage;
      await Promise.all([clientEvents.waitFor(seen(last.id)), staffEvents.waitFor(seen(last.id))]);

      const streamed = (events: typeof clientEvents.events) =>
        events.map((event) =>
          event.viewerEvents.__typename === 'MessageEvent'
            ? event.viewerEvents.message.id
            : event.viewerEvents.__typename === 'ReactionEvent'
              ? `reaction:${event.viewerEvents.messageId}`
              : event.viewerEvents.__typename,
        );
      expect(streamed(staffEvents.events)).toEqual(
        expect.arrayContaining([note.id, threadNote.id, `reaction:${note.id}`, last.id]),
      );
      expect(streamed(clientEvents.events).filter((id) => id !== 'MessageStatusEvent')).toEqual([probe.id, last.id]);

      // Resuming from before the notes replays what the client may see, and nothing else.
      const replaySocket = wsClient(server.wsUrl, conversation.client.token);
      const replay = subscribe(replaySocket, Events, { after: probe.cursor });
      try {
        await replay.waitFor(seen(last.id));
        expect(streamed(replay.events).filter((id) => id !== 'MessageStatusEvent')).toEqual([last.id]);
      } finally {
        replay.stop();
        await replaySocket.dispose();
      }

      const asClient = dataOf(await call(ChannelView, { id: conversation.channelId }, conversation.client));
      expect(ids(asClient.messages.edges)).toEqual([inbound.id, start.id, probe.id, last.id]);
      expect(asClient.channel).toEqual({ unreadCount: 3, lastMessage: { id: last.id } });
      // Search finds a note for staff only.
      const found = async (user: TestUser) =>
        ids(
          dataOf(await call(Search, { query: 'refund', channelId: conversation.channelId }, user)).searchMessages.edges,
        );
      expect(await found(conversation.client)).toEqual([]);
      expect(await found(org.admin)).toEqual([note.id]);
      const asStaff = dataOf(await call(ChannelView, { id: conversation.channelId }, org.admin));
      expect(asStaff.messages.edges.map((edge) => edge.node)).toEqual([
        { id: inbound.id, internal: false },
        { id: start.id, internal: false },
        { id: probe.id, internal: false },
        { id: note.id, internal: true },
        { id: threadNote.id, internal: true },
        { id: last.id, internal: false },
      ]);

      expect(dataOf(await call(OneMessage, { id: note.id }, conversation.client)).message).toBeNull();
      expect(dataOf(await call(OneMessage, { id: inbound.id }, conversation.client)).message).toEqual({
        id: inbound.id,
        replyCount: 0,
        replies: { edges: [] },
      });
      expect(dataOf(await call(OneMessage, { id: inbound.id }, org.admin)).message).toEqual({
        id: inbound.id,
        replyCount: 1,
        replies: { edges: [{ node: { id: threadNote.id } }] },
      });
      // A note cannot be reached through its id: not reacted to, not replied to.
      expect(
        errorCodes(await call(React, { input: { messageId: note.id, emoji: '👍' } }, conversation.client)),
      ).toEqual(['NOT_FOUND']);
      const reply = await call(
        SendNote,
        { input: { channelId: conversation.channelId, content: 'what note?', threadId: note.id } },
        conversation.client,
      );
      expect(errorCodes(reply)).toEqual(['BAD_USER_INPUT']);
    } finally {
      clientEvents.stop();
      staffEvents.stop();
      await clientSocket.dispose();
      await staffSocket.dispose();
    }
  });

  it('keep their read receipts from the client: a colleague reading a note is a staff-only status', async () => {
    const server = world.server;
    const agent = org.users.Agent!;
    const conversation = await openConversation(server, org, 'WHATSAPP');
    await server.app.services.channels.addMembers(org.admin.session, {
      channelId: conversation.channelId,
      userIds: [agent.id],
    });
    await customerWrites(server, conversation);
    // Subscribed after a message of its own: what follows reaches the client even before it is live.
    const start = dataOf(
      await call(SendNote, { input: { channelId: conversation.channelId, content: 'welcome' } }, agent),
    ).sendMessage;
    const clientSocket = wsClient(server.wsUrl, conversation.client.token);
    const clientEvents = subscribe(clientSocket, Events, { after: start.cursor });
    try {
      const probe = dataOf(
        await call(SendNote, { input: { channelId: conversation.channelId, content: 'hello' } }, agent),
      ).sendMessage;
      await clientEvents.waitFor((events) =>
        events.some(
          (event) => event.viewerEvents.__typename === 'MessageEvent' && event.viewerEvents.message.id === probe.id,
        ),
      );
      const note = dataOf(
        await call(SendNote, { input: { channelId: conversation.channelId, content: 'vip', internal: true } }, agent),
      ).sendMessage;
      const visible = dataOf(
        await call(SendNote, { input: { channelId: conversation.channelId, content: 'anything else?' } }, agent),
      ).sendMessage;
      const marked = dataOf(await call(MarkRead, { input: { channelId: conversation.channelId } }, org.admin));
      expect(marked.markMessagesRead.markedMessageIds).toEqual(expect.arrayContaining([probe.id, note.id, visible.id]));
      // The client sees the admin's reads of what it may see, and nothing about the note.
      const statuses = (events: typeof clientEvents.events) =>
        events.flatMap((event) =>
          event.viewerEvents.__typename === 'MessageStatusEvent' && event.viewerEvents.status === 'READ'
            ? [event.viewerEvents.statusOf]
            : [],
        );
      await clientEvents.waitFor((events) => statuses(events).includes(visible.id));
      // A message after the reads: once the client has it, any status event before it would have arrived.
      const last = dataOf(
        await call(SendNote, { input: { channelId: conversation.channelId, content: 'bye' } }, agent),
      ).sendMessage;
      await clientEvents.waitFor((events) =>
        events.some(
          (event) => event.viewerEvents.__typename === 'MessageEvent' && event.viewerEvents.message.id === last.id,
        ),
      );
      expect(statuses(clientEvents.events)).not.toContain(note.id);
      expect(statuses(clientEvents.events)).toContain(probe.id);
    } finally {
      clientEvents.stop();
      await clientSocket.dispose();
    }
  });
});
