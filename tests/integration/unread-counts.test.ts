import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { AddMembers } from '../support/documents.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import type { TestUser } from '../support/seed.js';

const Unread = graphql(`
  query UnreadCountsChannel($id: ID!) {
    channel(id: $id) {
      unreadCount
    }
  }
`);
const MarkRead = graphql(`
  mutation UnreadCountsMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);
const Delete = graphql(`
  mutation UnreadCountsDelete($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Ann', 'Ben', 'Cai'] } });

const unread = async (user: TestUser, channelId: string) =>
  dataOf(await gql(server().graphqlUrl, Unread, { id: channelId }, { token: user.token })).channel!.unreadCount;

describe('Channel.unreadCount from channel numbers', () => {
  it("counts others' messages after the read position, not the reader's own nor deleted ones, replies included", async () => {
    const { Ann, Ben } = org().users as Record<string, TestUser>;
    const channel = await createChannel(server(), Ann!, { members: [Ben!] });
    const first = await send(server(), Ann!, channel.id, 'one');
    await send(server(), Ann!, channel.id, 'reply', first.id);
    const doomed = await send(server(), Ann!, channel.id, 'to be deleted');
    const own = await send(server(), Ben!, channel.id, "Ben's own");
    await send(server(), Ann!, channel.id, 'four');
    expect(await unread(Ben!, channel.id)).toBe(4);
    expect(await unread(Ann!, channel.id)).toBe(1);

    dataOf(await gql(server().graphqlUrl, Delete, { messageId: doomed.id }, { token: Ann!.token }));
    dataOf(await gql(server().graphqlUrl, Delete, { messageId: own.id }, { token: Ben!.token }));
    expect(await unread(Ben!, channel.id)).toBe(3);
    expect(await unread(Ann!, channel.id)).toBe(0);

    dataOf(
      await gql(
        server().graphqlUrl,
        MarkRead,
        { input: { channelId: channel.id, upToMessageId: first.id } },
        { token: Ben!.token },
      ),
    );
    expect(await unread(Ben!, channel.id)).toBe(2);
    dataOf(await gql(server().graphqlUrl, MarkRead, { input: { channelId: channel.id } }, { token: Ben!.token }));
    expect(await unread(Ben!, channel.id)).toBe(0);
    await send(server(), Ann!, channel.id, 'five');
    expect(await unread(Ben!, channel.id)).toBe(1);
  });

  it('counts from where a member joined when they have read nothing, and is 0 for a non-member', async () => {
    const { Ann, Cai } = org().users as Record<string, TestUser>;
    const channel = await createChannel(server(), Ann!);
    for (const content of ['before 1', 'before 2']) await send(server(), Ann!, channel.id, content);
    expect(await unread(Cai!, channel.id)).toBe(0);
    dataOf(
      await gql(
        server().graphqlUrl,
        AddMembers,
        { input: { channelId: channel.id, userIds: [Cai!.id] } },
        { token: Ann!.token },
      ),
    );
    expect(await unread(Cai!, channel.id)).toBe(0);
    for (const content of ['after 1', 'after 2', 'after 3']) await send(server(), Ann!, channel.id, content);
    expect(await unread(Cai!, channel.id)).toBe(3);
  });

  it('numbers the messages of each channel 1, 2, 3 without holes, even when sent concurrently into several channels', async () => {
    const { Ann, Ben } = org().users as Record<string, TestUser>;
    const channels = await Promise.all([createChannel(server(), Ann!), createChannel(server(), Ann!)]);
    await Promise.all(
      Array.from({ length: 30 }, (_, index) =>
        send(server(), index % 2 ? Ann! : Ben!, channels[index % 2]!.id, `concurrent ${index}`),
      ),
    );
    for (const channel of channels) {
      const { rows } = await server().app.db.pool.query<{ channelSeq: string; createdSeq: string }>(
        `SELECT channel_seq::text AS "channelSeq", created_seq::text AS "createdSeq" FROM messages
         WHERE channel_id = $1 ORDER BY created_seq`,
        [channel.id],
      );
      expect(rows.map((row) => Number(row.channelSeq))).toEqual(rows.map((_, index) => index + 1));
    }
  });
});
