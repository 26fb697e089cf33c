import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { seedOrganization } from '../support/seed.js';

const ByActivity = graphql(`
  query ChannelsByActivity($first: Int, $after: String, $last: Int) {
    channels(orderBy: ACTIVITY, first: $first, after: $after, last: $last) {
      edges {
        cursor
        node {
          id
          unreadCount
          lastMessage {
            id
            content
          }
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const { server } = useFixture();

describe('channels(orderBy: ACTIVITY)', () => {
  it('lists what the viewer may see by their newest message, then channels without messages, newest first, in pages', async () => {
    // An organization of its own: the list is every channel the viewer may see.
    const org = await seedOrganization(server(), { users: ['Eve', 'Fay'] });
    const { Eve, Fay } = org.users;
    const quiet = await createChannel(server(), Eve!, { name: 'quiet' });
    const older = await createChannel(server(), Eve!, { name: 'older', members: [Fay!] });
    const newer = await createChannel(server(), Eve!, { name: 'newer', members: [Fay!] });
    const hidden = await createChannel(server(), Eve!, { name: 'hidden', channelType: 'PRIVATE' });
    const empty = await createChannel(server(), Eve!, { name: 'empty' });
    await send(server(), Eve!, newer.id, 'newer first');
    await send(server(), Eve!, older.id, 'older, but latest');
    await send(server(), Eve!, hidden.id, 'Fay cannot see this');

    const all = dataOf(await gql(server().graphqlUrl, ByActivity, { first: 10 }, { token: Fay!.token })).channels;
    expect(all.edges.map((edge) => edge.node.id)).toEqual([older.id, newer.id, empty.id, quiet.id]);
    expect(all.edges.map((edge) => edge.node.lastMessage?.content ?? null)).toEqual([
      'older, but latest',
      'newer first',
      null,
      null,
    ]);
    expect(all.edges[0]!.node.unreadCount).toBe(1);
    expect(all.pageInfo.hasNextPage).toBe(false);

    const first = dataOf(await gql(server().graphqlUrl, ByActivity, { first: 2 }, { token: Fay!.token })).channels;
    expect(first.edges.map((edge) => edge.node.id)).toEqual([older.id, newer.id]);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(
      await gql(server().graphqlUrl, ByActivity, { first: 2, after: first.pageInfo.endCursor }, { token: Fay!.token }),
    ).channels;
    expect(rest.edges.map((edge) => edge.node.id)).toEqual([empty.id, quiet.id]);
    expect(rest.pageInfo.hasNextPage).toBe(false);

    // A new message moves its channel to the top.
    await send(server(), Eve!, quiet.id, 'wake up');
    const moved = dataOf(await gql(server().graphqlUrl, ByActivity, { first: 1 }, { token: Fay!.token })).channels;
    expect(moved.edges.map((edge) => edge.node.id)).toEqual([quiet.id]);

    // The admin sees the private channel too, in its place.
    const admin = dataOf(await gql(server().graphqlUrl, ByActivity, { first: 10 }, { token: org.admin.token }));
    expect(admin.channels.edges.map((edge) => edge.node.id)).toEqual([
      quiet.id,
      hidden.id,
      older.id,
      newer.id,
      empty.id,
    ]);
  });

  it('refuses a cursor of a channel the viewer cannot see, and paging backwards', async () => {
    const org = await seedOrganization(server(), { users: ['Gus'] });
    const hidden = await createChannel(server(), org.admin, { channelType: 'PRIVATE' });
    const adminPage = dataOf(await gql(server().graphqlUrl, ByActivity, { first: 5 }, { token: org.admin.token }));
    const hiddenCursor = adminPage.channels.edges.find((edge) => edge.node.id === hidden.id)!.cursor;
    const gus = org.users.Gus!;
    expect(
      errorCodes(await gql(server().graphqlUrl, ByActivity, { after: hiddenCursor }, { token: gus.token })),
    ).toEqual(['BAD_USER_INPUT']);
    expect(errorCodes(await gql(server().graphqlUrl, ByActivity, { last: 2 }, { token: gus.token }))).toEqual([
      'BAD_USER_INPUT',
    ]);
  });
});
