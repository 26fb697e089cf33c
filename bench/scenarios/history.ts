import pg from 'pg';
import { MESSAGE_COLUMNS } from '../../src/modules/messages/message-record.js';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchDatabase, BenchUser } from '../lib/setup.js';
import { closedLoop, type LoadResult } from '../lib/stats.js';

export const HISTORY_SIZE = 1_000_000;

const PAGE = JSON.stringify({
  query: `query History($channelId: ID!) {
    messages(channelId: $channelId, last: 50) {
      edges { cursor node { id content createdAt messageType author { id displayName } reactions { emoji count viewerReacted } replyCount } }
      pageInfo { hasPreviousPage startCursor }
    }
  }`,
  variables: { channelId: '' },
});

export interface HistoryResults {
  history: LoadResult;
  rawPage: LoadResult;
  transport: LoadResult;
}

/** Fills a channel of its own with a million messages, as the writer would have numbered them. */
export async function fillHistory(
  bench: BenchDatabase,
  organizationId: string,
  channelId: string,
  authorId: string,
): Promise<void> {
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    await client.query(
      `WITH clock AS (SELECT last_seq, last_created_at FROM message_sequences WHERE organization_id = $1 FOR UPDATE)
       INSERT INTO messages (id, organization_id, channel_id, user_id, content, message_type, message_source,
                             event_seq, created_seq, channel_seq, created_at, updated_at)
       SELECT gen_random_uuid(), $1, $2, $3, 'history message number ' || g, 'text', 'internal',
              clock.last_seq + g, clock.last_seq + g,
              (SELECT COALESCE(max(channel_seq), 0) FROM messages WHERE channel_id = $2) + g,
              clock.last_created_at + g * interval '1 millisecond', clock.last_created_at + g * interval '1 millisecond'
       FROM generate_series(1, ${HISTORY_SIZE}) g, clock`,
      [organizationId, channelId, authorId],
    );
    await client.query(
      `UPDATE message_sequences SET last_seq = (SELECT max(event_seq) FROM messages WHERE organization_id = $1),
              last_created_at = (SELECT max(created_at) FROM messages WHERE organization_id = $1)
       WHERE organization_id = $1`,
      [organizationId],
    );
    await client.query('VACUUM ANALYZE messages');
  } finally {
    await client.end();
  }
}

/** The newest page of 50 in the million-message channel, one client at a time, beside its raw limits. */
export async function benchHistory(
  bench: BenchDatabase,
  graphqlUrl: string,
  user: BenchUser,
  channelId: string,
  seconds: number,
): Promise<HistoryResults> {
  const body = PAGE.replace('"channelId":""', `"channelId":"${channelId}"`);
  const history = await closedLoop(1, seconds, () => postGraphQL(graphqlUrl, body, user.token).then(() => undefined));
  const transport = await closedLoop(1, seconds, () =>
    postGraphQL(graphqlUrl, '{"query":"{ __typename }"}', user.token).then(() => undefined),
  );
  const pool = new pg.Pool({ connectionString: bench.url, max: 1 });
  const rawPage = await closedLoop(1, seconds, () =>
    pool
      .query(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE m.channel_id = $1 ORDER BY m.created_at DESC, m.id DESC LIMIT 51`,
        [channelId],
      )
      .then(() => undefined),
  );
  await pool.end();
  return { history, rawPage, transport };
}
