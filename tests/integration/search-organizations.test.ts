import { describe, expect, it } from '@jest/globals';
import { indexedMatchesSql, SearchService, SEARCH_TEXT_CONFIG } from '../../src/modules/search/search.service.js';
import { withTransaction } from '../../src/db/transaction.js';
import { appendMessages } from '../support/bulk-messages.js';
import { useFixture } from '../support/fixture.js';
import { createChannel, send } from '../support/messaging.js';
import { seedOrganization, type TestUser } from '../support/seed.js';

const { server, org } = useFixture({ organization: { users: ['Ann'] } });

/** `count` messages of `contentSql` (of `g`, 1 to count) written at once in a channel, after its newest. */
const fill = (
  target: { organizationId: string; channelId: string; authorId: string },
  count: number,
  contentSql: string,
) => withTransaction(server().app.db.pool, (client) => appendMessages(client, target, count, contentSql));

/** Every node of an EXPLAIN (FORMAT JSON) plan. */
type PlanNode = { 'Node Type': string; 'Index Name'?: string; 'Index Cond'?: string; 'Actual Rows'?: number };
const planNodes = (node: PlanNode & { Plans?: PlanNode[] }): PlanNode[] => [
  node,
  ...(node.Plans ?? []).flatMap((child) => planNodes(child)),
];

describe('searchMessages across organizations', () => {
  it("asks the word index for the viewer's organization's matches only", async () => {
    const Ann = org().users.Ann as TestUser;
    // Another organization where "quagga" and "zebra" are in every one of 5,000 messages.
    const elsewhere = await seedOrganization(server());
    const elsewhereChannel = await createChannel(server(), elsewhere.admin);
    await fill(
      { organizationId: elsewhere.id, channelId: elsewhereChannel.id, authorId: elsewhere.admin.id },
      5_000,
      `'quagga and zebra number ' || g`,
    );
    // Here, one old "zebra" under 5,000 newer messages without either word.
    const channel = await createChannel(server(), Ann);
    await send(server(), Ann, channel.id, 'an old zebra');
    await fill({ organizationId: org().id, channelId: channel.id, authorId: Ann.id }, 5_000, `'filler ' || g`);
    // Settled, as autovacuum leaves a table: statistics taken and the word index's pending entries merged (while
    // many are pending, PostgreSQL may prefer reading a small organization's messages by its other index).
    await server().app.db.pool.query('VACUUM ANALYZE messages');

    // Reading 100 of the newest messages first, so that the older matches come from the word index.
    const service = new SearchService({
      db: server().app.db,
      cursors: server().app.services.cursors,
      timeoutMs: 2_000,
      recentMessages: 100,
    });
    const contents = async (query: string) =>
      (await service.search(Ann.session, { query, first: 20 })).hits.map((hit) => hit.message.content);
    expect(await contents('zebra')).toEqual(['an old zebra']);
    expect(await contents('quagga')).toEqual([]);
    expect(await contents('quagga or zebra')).toEqual(['an old zebra']);

    // The word index is read with the organization in its condition: none of the other organization's entries.
    const plan = await withTransaction(
      server().app.db.pool,
      async (client) => {
        const { rows } = await client.query<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(
          `EXPLAIN (ANALYZE, FORMAT JSON) ${indexedMatchesSql(Ann.session.viewer)}`,
          [org().id, Ann.id, Ann.role, null, 'quagga', SEARCH_TEXT_CONFIG, '', '9223372036854775807', 21],
        );
        return rows[0]!['QUERY PLAN'][0].Plan;
      },
      { firstStatement: 'SET LOCAL enable_seqscan = off' },
    );
    const wordIndexScans = planNodes(plan).filter(
      (node) => node['Index Name'] === 'messages_organization_id_search_vector_idx',
    );
    expect(wordIndexScans).toHaveLength(1);
    expect(wordIndexScans[0]!['Index Cond']).toContain('organization_id =');
    expect(wordIndexScans[0]!['Actual Rows']).toBe(0);
  });
});
