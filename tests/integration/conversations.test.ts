import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { customerWrites, openConversation } from '../support/conversations.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql, subscribe, wsClient } from '../support/graphql.js';
import { createChannel, PROBE, send, untilLive } from '../support/messaging.js';
import { countStatements } from '../support/query-counter.js';
import { seedOrganization, type TestUser } from '../support/seed.js';

// The support inbox over real HTTP: client conversations by latest activity, their status and assignee, the
// timeline that keeps every change, the channel events that announce them, and a client's message reopening
// a resolved conversation.

const Inbox = graphql(`
  query Inbox($status: ConversationStatus, $assigneeId: ID, $first: Int, $after: String) {
    conversations(status: $status, assigneeId: $assigneeId, first: $first, after: $after) {
      edges {
        cursor
        node {
          channel {
            id
            client {
              id
            }
          }
          client {
            id
          }
          platform
          status
          assignee {
            id
          }
          lastActivityAt
          lastMessage {
            content
          }
          unreadCount
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const ConversationOfChannel = graphql(`
  query ConversationOfChannel($id: ID!) {
    channel(id: $id) {
      client {
        id
      }
      conversationStatus
      assignee {
        id
      }
      conversationTimeline {
        kind
        status
        assignee {
          id
        }
        changedBy {
          id
        }
        at
      }
    }
  }
`);

const SetStatus = graphql(`
  mutation SetStatus($input: SetConversationStatusInput!) {
    setConversationStatus(input: $input) {
      id
      conversationStatus
    }
  }
`);

const Assign = graphql(`
  mutation Assign($input: AssignConversationInput!) {
    assignConversation(input: $input) {
      id
      assignee {
        id
      }
    }
  }
`);

const ChannelEvents = graphql(`
  subscription ConversationChannelEvents {
    viewerEvents {
      __typename
      ... on ChannelEvent {
        channelKind: kind
        channel {
          id
          conversationStatus
        }
      }
      ... on MessageEvent {
        message {
          id
        }
      }
    }
  }
`);

const fixture = useFixture({ organization: { users: ['Agent', 'Outsider'] } });

const call = <R, V>(document: Parameters<typeof gql<R, V>>[1], variables: V, user: TestUser) =>
  gql(fixture.server().graphqlUrl, document, variables, { token: user.token });

describe('the support inbox', () => {
  it('lists client conversations the viewer reads, latest activity first, with client, platform, last message and unread count', async () => {
    const server = fixture.server();
    const org = await seedOrganization(server, { users: ['Agent'] });
    const agent = org.users.Agent!;
    const older = await openConversation(server, org, 'WHATSAPP');
    const newer = await openConversation(server, org, 'INSTAGRAM');
    const hidden = await openConversation(server, org, 'WHATSAPP');
    const staffChannel = await createChannel(server, org.admin);
    await send(server, org.admin, staffChannel.id, 'not a conversation');
    for (const conversation of [older, newer])
      await server.app.services.channels.addMembers(org.admin.session, {
        channelId: conversation.channelId,
        userIds: [agent.id],
      });
    await customerWrites(server, older, { text: 'first customer' });
    await customerWrites(server, newer, { text: 'second customer' });

    const page = dataOf(await call(Inbox, {}, agent)).conversations;
    expect(page.edges.map((edge) => edge.node)).toEqual([
      expect.objectContaining({
        channel: { id: newer.channelId, client: { id: newer.client.id } },
        client: { id: newer.client.id },
        platform: 'INSTAGRAM',
        status: 'OPEN',
        assignee: null,
        lastMessage: { content: 'second customer' },
        unreadCount: 1,
      }),
      expect.objectContaining({
        channel: { id: older.channelId, client: { id: older.client.id } },
        platform: 'WHATSAPP',
        lastMessage: { content: 'first customer' },
        unreadCount: 1,
      }),
    ]);
    // The admin reads every client conversation; a staff channel is none.
    const all = dataOf(await call(Inbox, {}, org.admin)).conversations.edges.map((edge) => edge.node.channel.id);
    expect(all).toEqual([newer.channelId, older.channelId, hidden.channelId]);

    // Pages: one at a time, each after the previous page's cursor, ends with hasNextPage false.
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const next: {
        edges: { node: { channel: { id: string } } }[];
        pageInfo: { hasNextPage: boolean; endCursor?: string | null };
      } = dataOf(await call(Inbox, { first: 1, after }, org.admin)).conversations;
      seen.push(...next.edges.map((edge) => edge.node.channel.id));
      if (!next.pageInfo.hasNextPage) break;
      after = next.pageInfo.endCursor ?? null;
    }
    expect(seen).toEqual(all);
    expect(errorCodes(await call(Inbox, { after: 'bm90LWEtY3Vyc29y' }, org.admin))).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await call(Inbox, {}, older.client))).toEqual(['FORBIDDEN']);
  });

  it('filters by status and assignee', async () => {
    const server = fixture.server();
    const org = await seedOrganization(server, { users: ['Agent'] });
    const agent = org.users.Agent!;
    const mine = await openConversation(server, org, 'WHATSAPP');
    const done = await openConversation(server, org, 'WHATSAPP');
    await server.app.services.channels.addMembers(org.admin.session, {
      channelId: mine.channelId,
      userIds: [agent.id],
    });
    dataOf(await call(Assign, { input: { channelId: mine.channelId, assigneeId: agent.id } }, org.admin));
    dataOf(await call(SetStatus, { input: { channelId: done.channelId, status: 'RESOLVED' } }, org.admin));

    const ids = async (variables: { status?: 'OPEN' | 'PENDING' | 'RESOLVED'; assigneeId?: string }) =>
      dataOf(await call(Inbox, variables, org.admin)).conversations.edges.map((edge) => edge.node.channel.id);
    expect(await ids({ assigneeId: agent.id })).toEqual([mine.channelId]);
    expect(await ids({ status: 'RESOLVED' })).toEqual([done.channelId]);
    expect(await ids({ status: 'OPEN' })).toEqual([mine.channelId]);
    expect(await ids({ status: 'PENDING' })).toEqual([]);
  });
});

describe('conversation state', () => {
  it('keeps every change in the timeline, announces it to staff as UPDATED, and hides it from the client', async () => {
    const server = fixture.server();
    const org = fixture.org();
    const agent = org.users.Agent!;
    const conversation = await openConversation(server, org, 'WHATSAPP');
    await server.app.services.channels.addMembers(org.admin.session, {
      channelId: conversation.channelId,
      userIds: [agent.id],
    });
    // The customer writes first, so that staff may answer (the customer-service window is open).
    await customerWrites(server, conversation);
    const staffSocket = wsClient(server.wsUrl, agent.token);
    const clientSocket = wsClient(server.wsUrl, conversation.client.token);
    const staffEvents = subscribe(staffSocket, ChannelEvents);
    const clientEvents = subscribe(clientSocket, ChannelEvents);
    try {
      await untilLive([staffEvents, clientEvents], () => send(server, agent, conversation.channelId, PROBE));

      const assigned = dataOf(
        await call(Assign, { input: { channelId: conversation.channelId, assigneeId: agent.id } }, agent),
      );
      expect(assigned.assignConversation.assignee).toEqual({ id: agent.id });
      const pending = dataOf(
        await call(SetStatus, { input: { channelId: conversation.channelId, status: 'PENDING' } }, agent),
      );
      expect(pending.setConversationStatus.conversationStatus).toBe('PENDING');
      // The same status again changes nothing and is not another timeline row.
      dataOf(await call(SetStatus, { input: { channelId: conversation.channelId, status: 'PENDING' } }, agent));

      const state = dataOf(await call(ConversationOfChannel, { id: conversation.channelId }, org.admin)).channel!;
      expect(state).toMatchObject({
        client: { id: conversation.client.id },
        conversationStatus: 'PENDING',
        assignee: { id: agent.id },
      });
      expect(state.conversationTimeline).toEqual([
        {
          kind: 'ASSIGNEE',
          status: 'OPEN',
          assignee: { id: agent.id },
          changedBy: { id: agent.id },
          at: expect.any(String),
        },
        {
          kind: 'STATUS',
          status: 'PENDING',
          assignee: { id: agent.id },
          changedBy: { id: agent.id },
          at: expect.any(String),
        },
      ]);

      const updates = await staffEvents.waitFor(
        (events) =>
          events.filter(
            (event) =>
              event.viewerEvents.__typename === 'ChannelEvent' &&
              event.viewerEvents.channel?.id === conversation.channelId,
          ).length >= 2,
      );
      const channelUpdates = updates
        .map((event) => event.viewerEvents)
        .filter((event) => event.__typename === 'ChannelEvent');
      expect(channelUpdates).toEqual([
        {
          __typename: 'ChannelEvent',
          channelKind: 'UPDATED',
          channel: expect.objectContaining({ id: conversation.channelId }),
        },
        {
          __typename: 'ChannelEvent',
          channelKind: 'UPDATED',
          channel: expect.objectContaining({ id: conversation.channelId }),
        },
      ]);

      // The client reads their channel but none of the staff's state, and is not told it changed.
      const asClient = dataOf(await call(ConversationOfChannel, { id: conversation.channelId }, conversation.client));
      expect(asClient.channel).toEqual({
        client: { id: conversation.client.id },
        conversationStatus: null,
        assignee: null,
        conversationTimeline: [],
      });
      // A message after the changes: once the client has it, any channel event before it would have arrived.
      const after = await send(server, agent, conversation.channelId, 'after the changes');
      await clientEvents.waitFor((events) =>
        events.some(
          (event) => event.viewerEvents.__typename === 'MessageEvent' && event.viewerEvents.message.id === after.id,
        ),
      );
      expect(clientEvents.events.filter((event) => event.viewerEvents.__typename === 'ChannelEvent')).toEqual([]);
    } finally {
      staffEvents.stop();
      clientEvents.stop();
      await staffSocket.dispose();
      await clientSocket.dispose();
    }
  });

  it("reopens a resolved conversation when the client writes, with the client as the change's author", async () => {
    const server = fixture.server();
    const org = fixture.org();
    const conversation = await openConversation(server, org, 'WHATSAPP');
    dataOf(await call(SetStatus, { input: { channelId: conversation.channelId, status: 'RESOLVED' } }, org.admin));
    await customerWrites(server, conversation, { text: 'one more question' });
    const state = dataOf(await call(ConversationOfChannel, { id: conversation.channelId }, org.admin)).channel!;
    expect(state.conversationStatus).toBe('OPEN');
    expect(state.conversationTimeline.map((change) => [change.status, change.changedBy?.id])).toEqual([
      ['RESOLVED', org.admin.id],
      ['OPEN', conversation.client.id],
    ]);
    // An OPEN conversation stays as it is: the next message is no change.
    await customerWrites(server, conversation);
    const after = dataOf(await call(ConversationOfChannel, { id: conversation.channelId }, org.admin)).channel!;
    expect(after.conversationTimeline).toHaveLength(2);
  });

  it('refuses staff channels, assignees who cannot read the channel, clients and strangers', async () => {
    const server = fixture.server();
    const org = fixture.org();
    const outsider = org.users.Outsider!;
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const staffChannel = await createChannel(server, org.admin);
    expect(
      errorCodes(await call(SetStatus, { input: { channelId: staffChannel.id, status: 'RESOLVED' } }, org.admin)),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(await call(Assign, { input: { channelId: staffChannel.id, assigneeId: org.admin.id } }, org.admin)),
    ).toEqual(['BAD_USER_INPUT']);
    // The outsider is not a member of the client's private channel.
    const notReader = await call(
      Assign,
      { input: { channelId: conversation.channelId, assigneeId: outsider.id } },
      org.admin,
    );
    expect(errorCodes(notReader)).toEqual(['BAD_USER_INPUT']);
    expect(notReader.errors?.[0]?.message).toContain('cannot read this channel');
    expect(
      errorCodes(
        await call(
          Assign,
          { input: { channelId: conversation.channelId, assigneeId: conversation.client.id } },
          org.admin,
        ),
      ),
    ).toEqual(['BAD_USER_INPUT']);
    expect(
      errorCodes(
        await call(
          SetStatus,
          { input: { channelId: conversation.channelId, status: 'RESOLVED' } },
          conversation.client,
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    expect(
      errorCodes(await call(SetStatus, { input: { channelId: conversation.channelId, status: 'RESOLVED' } }, outsider)),
    ).toEqual(['NOT_FOUND']);
    const unchanged = await server.app.db.prisma.channel.findUniqueOrThrow({ where: { id: conversation.channelId } });
    expect(unchanged).toMatchObject({ conversationStatus: 'OPEN', assigneeId: null });
  });
});

const InboxPage = graphql(`
  query InboxPage($first: Int) {
    conversations(first: $first) {
      edges {
        node {
          channel {
            id
            name
            client {
              displayName
            }
            conversationStatus
            assignee {
              displayName
            }
          }
          client {
            displayName
          }
          platform
          status
          assignee {
            displayName
          }
          lastMessage {
            content
            author {
              displayName
            }
          }
          unreadCount
        }
      }
    }
  }
`);

describe('an inbox page', () => {
  it('costs the same number of SQL statements for 2 conversations as for 6', async () => {
    const server = fixture.server();
    const org = await seedOrganization(server);
    for (let index = 0; index < 6; index++) {
      const conversation = await openConversation(server, org, 'WHATSAPP');
      await customerWrites(server, conversation);
      dataOf(await call(Assign, { input: { channelId: conversation.channelId, assigneeId: org.admin.id } }, org.admin));
    }
    const statementsFor = async (first: number) => {
      const { result, statements } = await countStatements(() => call(InboxPage, { first }, org.admin));
      expect(dataOf(result).conversations.edges).toHaveLength(first);
      return statements.length;
    };
    await statementsFor(6); // warms the caches both runs share (users are cached per instance)
    expect(await statementsFor(6)).toBe(await statementsFor(2));
  });
});
