import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { graphql } from '../gql/index.js';
import { Messages } from '../support/documents.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';

const AddReaction = graphql(`
  mutation ReadStateAddReaction($input: ReactionInput!) {
    addReaction(input: $input) {
      id
      reactions {
        emoji
        count
        viewerReacted
        userIds
      }
    }
  }
`);
const RemoveReaction = graphql(`
  mutation ReadStateRemoveReaction($input: ReactionInput!) {
    removeReaction(input: $input) {
      id
      reactions {
        emoji
        count
        viewerReacted
      }
    }
  }
`);
const MarkRead = graphql(`
  mutation ReadStateMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);
const MarkDelivered = graphql(`
  mutation ReadStateMarkDelivered($input: MarkMessagesDeliveredInput!) {
    markMessagesDelivered(input: $input) {
      markedMessageIds
    }
  }
`);
const Unread = graphql(`
  query ReadStateUnread($id: ID!) {
    channel(id: $id) {
      unreadCount
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob', 'Cleo'] } });

describe('reactions', () => {
  it('are idempotent and grouped by emoji with a count and whether the viewer reacted', async () => {
    const channel = await createChannel(server(), org().users.Alice!, {
      members: [org().users.Bob!, org().users.Cleo!],
    });
    const message = await send(server(), org().users.Alice!, channel.id, 'react to me');
    for (const user of [org().users.Bob!, org().users.Bob!, org().users.Cleo!]) {
      dataOf(
        await gql(
          server().graphqlUrl,
          AddReaction,
          { input: { messageId: message.id, emoji: '👍' } },
          { token: user.token },
        ),
      );
    }
    const party = dataOf(
      await gql(
        server().graphqlUrl,
        AddReaction,
        { input: { messageId: message.id, emoji: ':party:' } },
        { token: org().users.Cleo!.token },
      ),
    );
    expect(party.addReaction.reactions).toEqual([
      { emoji: '👍', count: 2, viewerReacted: true, userIds: [org().users.Bob!.id, org().users.Cleo!.id] },
      { emoji: ':party:', count: 1, viewerReacted: true, userIds: [org().users.Cleo!.id] },
    ]);
    const removed = dataOf(
      await gql(
        server().graphqlUrl,
        RemoveReaction,
        { input: { messageId: message.id, emoji: '👍' } },
        { token: org().users.Bob!.token },
      ),
    );
    expect(removed.removeReaction.reactions).toEqual([
      { emoji: '👍', count: 1, viewerReacted: false },
      { emoji: ':party:', count: 1, viewerReacted: false },
    ]);
    const removedAgain = await gql(
      server().graphqlUrl,
      RemoveReaction,
      { input: { messageId: message.id, emoji: '👍' } },
      { token: org().users.Bob!.token },
    );
    expect(removedAgain.errors).toBeUndefined();
  });

  it('refuses emoji strings that are empty, too long or contain whitespace, naming the field', async () => {
    const channel = await createChannel(server(), org().users.Alice!);
    const message = await send(server(), org().users.Alice!, channel.id, 'x');
    for (const emoji of ['', 'x'.repeat(65), 'thumbs up']) {
      const response = await gql(
        server().graphqlUrl,
        AddReaction,
        { input: { messageId: message.id, emoji } },
        { token: org().users.Alice!.token },
      );
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.emoji' });
    }
  });
});

describe('read state', () => {
  it('marks everything up to a message as read in one statement, moves the unread count, and lists readers', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const sent = [];
    for (let index = 0; index < 5; index++)
      sent.push(await send(server(), org().users.Alice!, channel.id, `m${index}`));
    await send(server(), org().users.Bob!, channel.id, "Bob's own");
    expect(
      dataOf(await gql(server().graphqlUrl, Unread, { id: channel.id }, { token: org().users.Bob!.token })).channel!
        .unreadCount,
    ).toBe(5);

    const upToThird = dataOf(
      await gql(
        server().graphqlUrl,
        MarkRead,
        { input: { channelId: channel.id, upToMessageId: sent[2]!.id } },
        { token: org().users.Bob!.token },
      ),
    );
    expect(upToThird.markMessagesRead.markedMessageIds.sort()).toEqual(
      sent
        .slice(0, 3)
        .map((m) => m.id)
        .sort(),
    );
    expect(
      dataOf(await gql(server().graphqlUrl, Unread, { id: channel.id }, { token: org().users.Bob!.token })).channel!
        .unreadCount,
    ).toBe(2);

    const rest = dataOf(
      await gql(server().graphqlUrl, MarkRead, { input: { channelId: channel.id } }, { token: org().users.Bob!.token }),
    );
    expect(rest.markMessagesRead.markedMessageIds.sort()).toEqual(
      sent
        .slice(3)
        .map((m) => m.id)
        .sort(),
    );
    expect(
      dataOf(await gql(server().graphqlUrl, Unread, { id: channel.id }, { token: org().users.Bob!.token })).channel!
        .unreadCount,
    ).toBe(0);

    const history = dataOf(
      await gql(server().graphqlUrl, Messages, { channelId: channel.id }, { token: org().users.Alice!.token }),
    );
    const readers = history.messages.edges.map((edge) => edge.node.readBy.map((read) => read.user.id));
    expect(readers).toEqual([...sent.map(() => [org().users.Bob!.id]), []]);
  });

  it('moves statuses forward only: a late DELIVERED never overwrites READ', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const [first, second] = [
      await send(server(), org().users.Alice!, channel.id, 'a'),
      await send(server(), org().users.Alice!, channel.id, 'b'),
    ];
    dataOf(
      await gql(
        server().graphqlUrl,
        MarkRead,
        { input: { channelId: channel.id, upToMessageId: first.id } },
        { token: org().users.Bob!.token },
      ),
    );
    const delivered = dataOf(
      await gql(
        server().graphqlUrl,
        MarkDelivered,
        { input: { messageIds: [first.id, second.id] } },
        { token: org().users.Bob!.token },
      ),
    );
    expect(delivered.markMessagesDelivered.markedMessageIds).toEqual([second.id]);
    const statuses = await server().app.db.prisma.messageUserStatus.findMany({
      where: { userId: org().users.Bob!.id, messageId: { in: [first.id, second.id] } },
      orderBy: { timestamp: 'asc' },
    });
    expect(Object.fromEntries(statuses.map((s) => [s.messageId, s.status]))).toEqual({
      [first.id]: 'READ',
      [second.id]: 'DELIVERED',
    });
  });

  it('answers NOT_FOUND when any message is unknown or out of sight, and changes nothing', async () => {
    const hidden = await createChannel(server(), org().users.Alice!, { channelType: 'PRIVATE' });
    const visible = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const secret = await send(server(), org().users.Alice!, hidden.id, 'secret');
    const open = await send(server(), org().users.Alice!, visible.id, 'open');
    const response = await gql(
      server().graphqlUrl,
      MarkDelivered,
      { input: { messageIds: [open.id, secret.id] } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(response)).toEqual(['NOT_FOUND']);
    expect(await server().app.db.prisma.messageUserStatus.count({ where: { messageId: open.id } })).toBe(0);
    const unknownTarget = await gql(
      server().graphqlUrl,
      MarkRead,
      { input: { channelId: visible.id, upToMessageId: secret.id } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(unknownTarget)).toEqual(['NOT_FOUND']);
  });
});
