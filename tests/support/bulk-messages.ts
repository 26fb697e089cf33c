import type pg from 'pg';

/**
 * Appends `count` messages by `authorId` to a channel, numbered as the writer numbers them (organization
 * sequence, channel numbers, creation times after everything before), in one statement; the caller holds the
 * transaction. `contentSql` is the content as SQL over the series number `g`. For the tests and benchmarks that
 * need a big history fast.
 */
export async function appendMessages(
  client: pg.ClientBase,
  target: { organizationId: string; channelId: string; authorId: string },
  count: number,
  contentSql = `'unread message number ' || g`,
): Promise<void> {
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
}
