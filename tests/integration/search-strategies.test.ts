import { describe, expect, it } from '@jest/globals';
import { RECENT_MESSAGES_READ, SearchService } from '../../src/modules/search/search.service.js';
import { graphql } from '../gql/index.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import type { TestUser } from '../support/seed.js';

const Delete = graphql(`
  mutation SearchStrategiesDelete($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Ann', 'Ben', 'Cai'] } });

/** A search service that reads `recentMessages` of the newest messages before the word index. */
const searchReading = (recentMessages: number) =>
  new SearchService({
    db: server().app.db,
    cursors: server().app.services.cursors,
    timeoutMs: 2_000,
    recentMessages,
  });

/** Every page of a search, two at a time: each hit's content and highlight, and whether a page followed. */
async function allPages(service: SearchService, viewer: TestUser, query: string, channelId?: string) {
  const pages = [];
  let after: string | undefined;
  for (;;) {
    const page = await service.search(viewer.session, { query, channelId, first: 2, after });
    pages.push({
      hits: page.hits.map((hit) => ({ content: hit.message.content, highlight: hit.highlight })),
      hasNextPage: page.hasNextPage,
    });
    if (!page.hasNextPage) return pages;
    after = server().app.services.cursors.ofMessage(page.hits.at(-1)!.message);
  }
}

describe('searchMessages reading the newest messages, then the word index', () => {
  it('finds the same pages whether the matches are among the newest messages read or older', async () => {
    const { Ann, Ben, Cai } = org().users as Record<'Ann' | 'Ben' | 'Cai', TestUser>;
    const open = await createChannel(server(), Ann);
    const shared = await createChannel(server(), Ann, { channelType: 'PRIVATE', members: [Ben] });
    const contents: [string, string][] = [
      [open.id, 'ripe kiwi on the table'],
      [shared.id, 'kiwi for Ben only'],
      [open.id, 'a mango and a kiwi'],
      [open.id, 'nothing of note'],
      [shared.id, 'mango season'],
      [open.id, 'kiwi again, ripe kiwi'],
      [open.id, 'papaya'],
      [open.id, 'kiwi to delete'],
      [open.id, 'last kiwi'],
      [shared.id, 'the newest words'],
    ];
    for (const [channelId, content] of contents) {
      const message = await send(server(), Ann, channelId, content);
      if (content === 'kiwi to delete')
        dataOf(await gql(server().graphqlUrl, Delete, { messageId: message.id }, { token: Ann.token }));
    }

    // Reading every message of the organization first: the index is never asked.
    const recentOnly = searchReading(RECENT_MESSAGES_READ);
    expect(await allPages(recentOnly, Cai, 'kiwi')).toEqual([
      {
        hits: [
          {
            content: 'last kiwi',
            highlight: [
              { text: 'last ', matched: false },
              { text: 'kiwi', matched: true },
            ],
          },
          {
            content: 'kiwi again, ripe kiwi',
            highlight: [
              { text: 'kiwi', matched: true },
              { text: ' again, ripe ', matched: false },
              { text: 'kiwi', matched: true },
            ],
          },
        ],
        hasNextPage: true,
      },
      {
        hits: [
          {
            content: 'a mango and a kiwi',
            highlight: [
              { text: 'mango and a ', matched: false },
              { text: 'kiwi', matched: true },
            ],
          },
          {
            content: 'ripe kiwi on the table',
            highlight: [
              { text: 'ripe ', matched: false },
              { text: 'kiwi', matched: true },
              { text: ' on the table', matched: false },
            ],
          },
        ],
        hasNextPage: false,
      },
    ]);

    // Reading fewer: the matches older than those read come from the index, in the same order and pages.
    const searches: [TestUser, string, string?][] = [
      [Cai, 'kiwi'],
      [Ben, 'kiwi'],
      [Ben, 'mango'],
      [Ben, 'kiwi', shared.id],
      [Ann, 'kiwi', open.id],
      [Ann, '"ripe kiwi" or papaya'],
      [Ann, 'kiwi -ripe'],
      [Cai, 'mango'],
      [org().admin, 'kiwi'],
      [Ann, 'nowhere'],
    ];
    for (const [viewer, query, channelId] of searches) {
      const expected = await allPages(recentOnly, viewer, query, channelId);
      for (const recentMessages of [1, 2, 3, 5])
        expect(await allPages(searchReading(recentMessages), viewer, query, channelId)).toEqual(expected);
    }
  });
});
