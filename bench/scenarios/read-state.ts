import pg from 'pg';
import { appendMessages } from '../../tests/support/bulk-messages.js';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchDatabase, BenchUser } from '../lib/setup.js';
import { closedLoop, type LoadResult } from '../lib/stats.js';

export const UNREAD_MANY = 100_000;
export const UNREAD_FEW = 10;

/** Appends `count` messages to a channel (see appendMessages) in a transaction of its own, then refreshes statistics. */
export async function fillChannel(
  bench: BenchDatabase,
  target: { organizationId: string; channelId: string; authorId: string },
  count: number,
  contentSql?: string,
): Promise<void> {
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await appendMessages(client, target, count, contentSql);
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE messages');
  } finally {
    await client.end();
  }
}

const UNREAD_QUERY = `query Unread($id: ID!) { channel(id: $id) { unreadCount } }`;

export interface UnreadResults {
  many: LoadResult;
  few: LoadResult;
  /** The same request without the count: `channel(id) { id }`. */
  lookup: LoadResult;
  transport: LoadResult;
}

/**
 * `Channel.unreadCount` for a reader with UNREAD_MANY unread messages in one channel and UNREAD_FEW in another,
 * one request at a time, beside the same request without the count and the transport (`{ __typename }`).
 */
export async function benchUnreadCount(
  graphqlUrl: string,
  reader: BenchUser,
  channels: { many: string; few: string },
  seconds: number,
): Promise<UnreadResults> {
  const bodyFor = (channelId: string) => JSON.stringify({ query: UNREAD_QUERY, variables: { id: channelId } });
  for (const [channelId, expected] of [
    [channels.many, UNREAD_MANY],
    [channels.few, UNREAD_FEW],
  ] as const) {
    const answer = (await postGraphQL(graphqlUrl, bodyFor(channelId), reader.token)) as {
      channel?: { unreadCount?: number };
    };
    const counted = answer.channel?.unreadCount;
    if (counted !== expected) throw new Error(`unreadCount is ${counted}, expected ${expected}`);
  }
  // Three rounds, each measuring the two channels and the transport one after the other: a shared machine's
  // speed drifts within a run, so each figure is the median of its rounds.
  const measure = (body: string) =>
    closedLoop(1, seconds / 3, () => postGraphQL(graphqlUrl, body, reader.token).then(() => undefined), {
      warmupSeconds: 1,
    });
  const rounds: UnreadResults[] = [];
  for (let round = 0; round < 3; round++) {
    rounds.push({
      many: await measure(bodyFor(channels.many)),
      few: await measure(bodyFor(channels.few)),
      lookup: await measure(
        JSON.stringify({
          query: 'query Lookup($id: ID!) { channel(id: $id) { id } }',
          variables: { id: channels.many },
        }),
      ),
      transport: await measure('{"query":"{ __typename }"}'),
    });
  }
  const median = (pick: (round: UnreadResults) => LoadResult) => rounds.map(pick).sort((a, b) => a.p50 - b.p50)[1]!;
  return {
    many: median((round) => round.many),
    few: median((round) => round.few),
    lookup: median((round) => round.lookup),
    transport: median((round) => round.transport),
  };
}

export const SEARCH_SIZE = 1_000_000;

/**
 * The content of the n-th searched message (`g` in SQL): words of every frequency, so that the queries below
 * find from 10 to 1,000,000 messages.
 */
export const SEARCH_CONTENT_SQL = `(ARRAY['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'])[1 + g % 10]
  || ' status update about k' || (g % 1000) || ' and r' || (g % 100000) || ': '
  || (ARRAY['the deploy went fine', 'the customer asked about billing', 'see you tomorrow', 'can you review this',
            'Grüße aus München'])[1 + (g / 7) % 5]`;

/** The queries measured, with how many of the million messages each finds. */
export const SEARCH_QUERIES: { query: string; matches: string }[] = [
  { query: 'update', matches: 'all' },
  { query: 'billing', matches: '20%' },
  { query: 'alpha', matches: '10%' },
  { query: 'München', matches: '20%' },
  { query: 'k123', matches: '0.1%' },
  { query: 'alpha k120', matches: '0.1%' },
  { query: '"see you tomorrow" k7', matches: '0.02%' },
  { query: 'r12345', matches: '10 messages' },
  { query: 'nowhere', matches: 'none' },
  // In every message of the unread count's organization (fillChannel's default content), none of the searcher's.
  { query: 'unread', matches: `none here, ${(UNREAD_MANY + UNREAD_FEW).toLocaleString('en')} in another organization` },
];

const SEARCH_QUERY = `query Search($query: String!) {
  searchMessages(query: $query, first: 20) {
    edges { cursor highlight { text matched } node { id content createdAt author { id displayName } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

export interface SearchResults {
  /** Every query in turn, one request at a time. */
  mixed: LoadResult;
  /** Each query alone. */
  byQuery: { query: string; matches: string; result: LoadResult }[];
}

/** The first page of `searchMessages` for a staff member, over SEARCH_SIZE messages of channels they may read. */
export async function benchSearch(graphqlUrl: string, searcher: BenchUser, seconds: number): Promise<SearchResults> {
  const bodies = SEARCH_QUERIES.map(({ query }) => JSON.stringify({ query: SEARCH_QUERY, variables: { query } }));
  const rare = (await postGraphQL(graphqlUrl, bodies[7]!, searcher.token)) as {
    searchMessages: { edges: unknown[] };
  };
  if (rare.searchMessages.edges.length !== 10) throw new Error('the search bench did not find its 10 messages');
  // Each query alone first, then all of them in turn: the first pass also brings the freshly written rows and
  // index pages into memory, as a server that has been answering searches has them.
  const byQuery = [];
  for (const [index, { query, matches }] of SEARCH_QUERIES.entries()) {
    const result = await closedLoop(
      1,
      Math.max(1, seconds / 4),
      () => postGraphQL(graphqlUrl, bodies[index]!, searcher.token).then(() => undefined),
      { warmupSeconds: 0.5 },
    );
    byQuery.push({ query, matches, result });
  }
  let turn = 0;
  const mixed = await closedLoop(1, seconds, () =>
    postGraphQL(graphqlUrl, bodies[turn++ % bodies.length]!, searcher.token).then(() => undefined),
  );
  return { mixed, byQuery };
}
