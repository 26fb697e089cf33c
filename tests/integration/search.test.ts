import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { RemoveMember } from '../support/documents.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import type { TestUser } from '../support/seed.js';

const Search = graphql(`
  query SearchMessages($query: String!, $channelId: ID, $first: Int, $after: String) {
    searchMessages(query: $query, channelId: $channelId, first: $first, after: $after) {
      edges {
        cursor
        highlight {
          text
          matched
        }
        node {
          id
          content
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);
const Delete = graphql(`
  mutation SearchDelete($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Ann', 'Ben', 'Cai'] } });
const users = () => org().users as Record<'Ann' | 'Ben' | 'Cai', TestUser>;

const search = (user: TestUser, variables: { query: string; channelId?: string; first?: number; after?: string }) =>
  gql(server().graphqlUrl, Search, variables, { token: user.token });
const found = async (user: TestUser, variables: Parameters<typeof search>[1]) =>
  dataOf(await search(user, variables)).searchMessages.edges.map((edge) => edge.node.content);

describe('searchMessages', () => {
  it('finds what the viewer may read now, newest first, with highlights', async () => {
    const { Ann, Ben, Cai } = users();
    const open = await createChannel(server(), Ann);
    const shared = await createChannel(server(), Ann, { channelType: 'PRIVATE', members: [Ben] });
    const own = await createChannel(server(), Ann, { channelType: 'PRIVATE' });
    await send(server(), Ann, open.id, 'We ship the Zephyr release tonight');
    await send(server(), Ann, shared.id, 'zephyr plan for Ben and Ann');
    await send(server(), Ann, own.id, 'my own zephyr notes');
    await send(server(), Ann, open.id, 'ZEPHYR notes are ready, and zephyrs are not zephyr');
    await send(server(), Ann, open.id, 'nothing to see');

    expect(await found(Cai, { query: 'zephyr' })).toEqual([
      'ZEPHYR notes are ready, and zephyrs are not zephyr',
      'We ship the Zephyr release tonight',
    ]);
    expect(await found(Ben, { query: 'zephyr' })).toEqual([
      'ZEPHYR notes are ready, and zephyrs are not zephyr',
      'zephyr plan for Ben and Ann',
      'We ship the Zephyr release tonight',
    ]);
    expect(await found(org().admin, { query: 'Zephyr' })).toHaveLength(4);
    expect(await found(Ben, { query: 'zephyr', channelId: shared.id })).toEqual(['zephyr plan for Ben and Ann']);
    expect(await found(Ann, { query: 'zephyr notes' })).toEqual([
      'ZEPHYR notes are ready, and zephyrs are not zephyr',
      'my own zephyr notes',
    ]);
    expect(await found(Ann, { query: '"ship the zephyr" or "own zephyr"' })).toEqual([
      'my own zephyr notes',
      'We ship the Zephyr release tonight',
    ]);
    expect(await found(Ann, { query: 'zephyr -notes' })).toEqual([
      'zephyr plan for Ben and Ann',
      'We ship the Zephyr release tonight',
    ]);

    const [top] = dataOf(await search(Cai, { query: 'zephyr' })).searchMessages.edges;
    expect(top!.highlight).toEqual([
      { text: 'ZEPHYR', matched: true },
      { text: ' notes are ready, and zephyrs are not ', matched: false },
      { text: 'zephyr', matched: true },
    ]);

    // What the viewer may read now: Ben, removed from the private channel, no longer finds its messages.
    dataOf(
      await gql(
        server().graphqlUrl,
        RemoveMember,
        { input: { channelId: shared.id, userId: Ben.id } },
        { token: Ann.token },
      ),
    );
    expect(await found(Ben, { query: 'zephyr plan' })).toEqual([]);
    expect(errorCodes(await search(Ben, { query: 'zephyr', channelId: shared.id }))).toEqual(['NOT_FOUND']);
  });

  it('pages newest first by cursor, and leaves deleted messages out', async () => {
    const { Ann } = users();
    const channel = await createChannel(server(), Ann);
    const sent = [];
    for (let index = 1; index <= 5; index++) sent.push(await send(server(), Ann, channel.id, `quokka number ${index}`));
    dataOf(await gql(server().graphqlUrl, Delete, { messageId: sent[3]!.id }, { token: Ann.token }));

    const first = dataOf(await search(Ann, { query: 'quokka', first: 2 })).searchMessages;
    expect(first.edges.map((edge) => edge.node.content)).toEqual(['quokka number 5', 'quokka number 3']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(
      await search(Ann, { query: 'quokka', first: 2, after: first.pageInfo.endCursor! }),
    ).searchMessages;
    expect(rest.edges.map((edge) => edge.node.content)).toEqual(['quokka number 2', 'quokka number 1']);
    expect(rest.pageInfo.hasNextPage).toBe(false);
  });

  it('searches words of any language, without case', async () => {
    const { Ann } = users();
    const channel = await createChannel(server(), Ann);
    await send(server(), Ann, channel.id, 'Grüße aus München');
    await send(server(), Ann, channel.id, 'Привет, Мир!');
    await send(server(), Ann, channel.id, 'Ελληνικά κείμενα εδώ');
    expect(await found(Ann, { query: 'MÜNCHEN', channelId: channel.id })).toEqual(['Grüße aus München']);
    expect(await found(Ann, { query: 'мир', channelId: channel.id })).toEqual(['Привет, Мир!']);
    expect(await found(Ann, { query: 'κείμενα', channelId: channel.id })).toEqual(['Ελληνικά κείμενα εδώ']);
  });

  it('answers a query with no word with an empty page, and refuses long, exclusion-only and unissued-cursor queries', async () => {
    const { Ann } = users();
    for (const query of ['', '   ', '!!! ???', '""']) expect(await found(Ann, { query })).toEqual([]);
    for (const variables of [
      { query: 'x'.repeat(201) },
      { query: '-zephyr' },
      { query: Array.from({ length: 40 }, (_, index) => `word${index}`).join(' ') },
      { query: 'zephyr', after: 'not-a-cursor' },
      { query: 'zephyr', first: 101 },
    ]) {
      const response = await search(Ann, variables);
      expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    }
  });
});
