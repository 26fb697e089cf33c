import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql, subscribe, wsClient } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { repeatUntilStopped } from '../support/repeat.js';
import type { TestUser } from '../support/seed.js';

const Statuses = graphql(`
  query MessageStatusesPage($id: ID!, $first: Int, $after: String) {
    message(id: $id) {
      id
      statuses(first: $first, after: $after) {
        edges {
          cursor
          node {
            user {
              id
            }
            status
            timestamp
          }
        }
        pageInfo {
          hasNextPage
          endCursor
        }
      }
    }
  }
`);
const MarkRead = graphql(`
  mutation MessageStatusesMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);
const MarkDelivered = graphql(`
  mutation MessageStatusesMarkDelivered($input: MarkMessagesDeliveredInput!) {
    markMessagesDelivered(input: $input) {
      markedMessageIds
    }
  }
`);

const StatusesLive = graphql(`
  subscription MessageStatusesLive($channelId: ID!) {
    messageEvents(channelId: $channelId) {
      kind
      message {
        id
        content
        mentions {
          id
        }
        statuses {
          edges {
            node {
              user {
                id
              }
              status
            }
          }
        }
      }
    }
  }
`);
const Edit = graphql(`
  mutation MessageStatusesEdit($input: EditMessageInput!) {
    editMessage(input: $input) {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Ava', 'Bo', 'Cy', 'Di'] } });

const statuses = (user: TestUser, id: string, page: { first?: number; after?: string } = {}) =>
  gql(server().graphqlUrl, Statuses, { id, ...page }, { token: user.token });

describe('Message.statuses', () => {
  it("lists each recipient's status and time to the author and admins, in pages, and to no one else", async () => {
    const { Ava, Bo, Cy, Di } = org().users as Record<string, TestUser>;
    const channel = await createChannel(server(), Ava!, { members: [Bo!, Cy!, Di!] });
    const message = await send(server(), Ava!, channel.id, 'who has seen this?');
    const before = Date.now();
    dataOf(await gql(server().graphqlUrl, MarkRead, { input: { channelId: channel.id } }, { token: Bo!.token }));
    dataOf(
      await gql(server().graphqlUrl, MarkDelivered, { input: { messageIds: [message.id] } }, { token: Cy!.token }),
    );

    const expected = [
      { user: { id: Bo!.id }, status: 'READ' },
      { user: { id: Cy!.id }, status: 'DELIVERED' },
    ].sort((a, b) => a.user.id.localeCompare(b.user.id));
    for (const viewer of [Ava!, org().admin]) {
      const all = dataOf(await statuses(viewer, message.id)).message!.statuses!;
      expect(all.edges.map((edge) => ({ user: edge.node.user, status: edge.node.status }))).toEqual(expected);
      for (const edge of all.edges) expect(Date.parse(edge.node.timestamp)).toBeGreaterThanOrEqual(before - 1000);
    }

    const first = dataOf(await statuses(Ava!, message.id, { first: 1 })).message!.statuses!;
    expect(first.edges.map((edge) => edge.node.user.id)).toEqual([expected[0]!.user.id]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = dataOf(await statuses(Ava!, message.id, { first: 1, after: first.pageInfo.endCursor! })).message!
      .statuses!;
    expect(second.edges.map((edge) => edge.node.user.id)).toEqual([expected[1]!.user.id]);
    expect(second.pageInfo.hasNextPage).toBe(false);

    for (const other of [Bo!, Di!]) {
      const response = await statuses(other, message.id);
      expect(response.errors).toBeUndefined();
      expect(response.data!.message!.statuses).toBeNull();
    }
  });

  it('refuses a cursor it did not issue', async () => {
    const { Ava } = org().users as Record<string, TestUser>;
    const channel = await createChannel(server(), Ava!);
    const message = await send(server(), Ava!, channel.id, 'x');
    for (const after of ['nonsense', Buffer.from(`status:${'1'.repeat(36)}`).toString('base64url'), message.cursor])
      expect(errorCodes(await statuses(Ava!, message.id, { after }))).toEqual(['BAD_USER_INPUT']);
  });
});

describe('Message.statuses and Message.mentions in events', () => {
  it("reach the author with each recipient's status and everyone else with null, from the same event", async () => {
    const { Ava, Bo } = org().users as Record<string, TestUser>;
    const channel = await createChannel(server(), Ava!, { members: [Bo!] });
    const clients = [Ava!, Bo!].map((user) => wsClient(server().wsUrl, user.token));
    try {
      const [ava, bo] = clients.map((client) => subscribe(client, StatusesLive, { channelId: channel.id }));
      const prober = repeatUntilStopped(() => send(server(), org().admin, channel.id, '(probe)'), 30);
      try {
        await Promise.all([ava!, bo!].map((view) => view.waitForCount(1)));
      } finally {
        await prober.stop();
      }
      const hello = await send(server(), Ava!, channel.id, 'hello @Bo');
      dataOf(await gql(server().graphqlUrl, MarkRead, { input: { channelId: channel.id } }, { token: Bo!.token }));
      dataOf(
        await gql(
          server().graphqlUrl,
          Edit,
          { input: { messageId: hello.id, content: 'hello again @Bo' } },
          { token: Ava!.token },
        ),
      );
      const edited = (view: typeof ava) =>
        view!.events.find((event) => event.messageEvents.message.content === 'hello again @Bo')?.messageEvents.message;
      await Promise.all([ava!, bo!].map((view) => view.waitFor(() => edited(view) !== undefined)));
      expect(edited(ava)!.statuses!.edges.map((edge) => edge.node)).toEqual([{ user: { id: Bo!.id }, status: 'READ' }]);
      expect(edited(bo)!.statuses).toBeNull();
      for (const view of [ava, bo]) expect(edited(view)!.mentions).toEqual([{ id: Bo!.id }]);
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });
});
