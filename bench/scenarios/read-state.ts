import pg from 'pg';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchDatabase, BenchUser } from '../lib/setup.js';
import { closedLoop, type LoadResult } from '../lib/stats.js';

export const UNREAD_MANY = 100_000;
export const UNREAD_FEW = 10;

/**
 * Appends `count` messages by `authorId` to a channel, numbered as the writer numbers them (organization
 * sequence, channel numbers, creation times after everything before), in one statement. `contentSql` is the
 * content as SQL over the series number `g`.
 */
export async function fillChannel(
  bench: BenchDatabase,
  target: { organizationId: string; channelId: string; authorId: string },
  count: number,
  contentSql = `'unread message number ' || g`,
): Promise<void> {
  const client = new pg.Client({ connectionString: bench.url });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `WITH clock AS (
         SELECT last_seq, GREATEST(last_created_at, clock_timestamp()) AS first_at
         FROM message_sequences WHERE organization_id = $1 FOR UPDATE
       ), channel_last AS (SELECT COALESCE(max(channel_seq), 0) AS last_seq FROM messages WHERE channel_id = $2)
       INSERT INTO messages (id, organization_id, channel_id, user_id, content, message_type, message_source,
                             event_seq, created_seq, channel_seq, created_at, updated_at)
       SELECT gen_random_uuid(), $1, $2, $3, ${contentSql}, 'text', 'internal',
              clock.last_seq + g, clock.last_seq + g, channel_last.last_seq + g,
              clock.first_at + g * interval '1 microsecond', clock.first_at + g * interval '1 microsecond'
       FROM generate_series(1, ${count}) g, clock, channel_last`,
      [target.organizationId, target.channelId, target.authorId],
    );
    await client.query(
      `UPDATE message_sequences SET last_seq = (SELECT max(event_seq) FROM messages WHERE organization_id = $1),
              last_created_at = (SELECT max(created_at) FROM messages WHERE organization_id = $1)
       WHERE organization_id = $1`,
      [target.organizationId],
    );
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
  transport: LoadResult;
}

/**
 * `Channel.unreadCount` for a reader with UNREAD_MANY unread messages in one channel and UNREAD_FEW in another,
 * one request at a time, beside the transport (`{ __typename }`).
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
  const measure = (channelId: string) =>
    closedLoop(1, seconds, () => postGraphQL(graphqlUrl, bodyFor(channelId), reader.token).then(() => undefined));
  const many = await measure(channels.many);
  const few = await measure(channels.few);
  const transport = await closedLoop(1, seconds, () =>
    postGraphQL(graphqlUrl, '{"query":"{ __typename }"}', reader.token).then(() => undefined),
  );
  return { many, few, transport };
}
