import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, gql } from '../support/graphql.js';
import { createChannel } from '../support/messaging.js';
import { addUser, type TestUser } from '../support/seed.js';

const Send = graphql(`
  mutation MentionsSend($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      mentions {
        id
      }
    }
  }
`);
const Edit = graphql(`
  mutation MentionsEdit($input: EditMessageInput!) {
    editMessage(input: $input) {
      id
      mentions {
        id
      }
    }
  }
`);
const Delete = graphql(`
  mutation MentionsDelete($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
      mentions {
        id
      }
    }
  }
`);
const Counts = graphql(`
  query MentionsCounts($id: ID!) {
    channel(id: $id) {
      unreadCount
      mentionCount
    }
  }
`);
const MarkRead = graphql(`
  mutation MentionsMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);
const Deactivate = graphql(`
  mutation MentionsDeactivate($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
      isActive
    }
  }
`);
const History = graphql(`
  query MentionsHistory($channelId: ID!) {
    messages(channelId: $channelId) {
      edges {
        node {
          id
          mentions {
            id
            displayName
          }
        }
      }
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Ann', 'Ben', 'Cai Wu', 'Cai'] } });

const users = () => org().users as Record<'Ann' | 'Ben' | 'Cai Wu' | 'Cai', TestUser>;
const send = async (author: TestUser, channelId: string, content: string) =>
  dataOf(await gql(server().graphqlUrl, Send, { input: { channelId, content } }, { token: author.token })).sendMessage;
const counts = async (user: TestUser, channelId: string) =>
  dataOf(await gql(server().graphqlUrl, Counts, { id: channelId }, { token: user.token })).channel!;
const ids = (people: { id: string }[]) => people.map((person) => person.id).sort();

describe('mentions', () => {
  it('are resolved from @ and an e-mail address or a display name, without case, the longest name winning', async () => {
    const { Ann, Ben, Cai } = users();
    const caiWu = users()['Cai Wu'];
    const channel = await createChannel(server(), Ann, { members: [Ben, Cai, caiWu] });
    const byName = await send(Ann, channel.id, 'hello @ben, and @CAI WU: see this');
    expect(ids(byName.mentions)).toEqual(ids([Ben, caiWu]));
    const byEmail = await send(Ann, channel.id, `cc @${Cai.email.toUpperCase()}.`);
    expect(ids(byEmail.mentions)).toEqual([Cai.id]);
    const none = await send(Ann, channel.id, `write to x${Ben.email} or @Benjamin, not @nobody`);
    expect(none.mentions).toEqual([]);

    const history = dataOf(await gql(server().graphqlUrl, History, { channelId: channel.id }, { token: Ben.token }));
    expect(history.messages.edges.map((edge) => edge.node.mentions.map((person) => person.displayName).sort())).toEqual(
      [['Ben', 'Cai Wu'], ['Cai'], []],
    );
  });

  it("count the viewer's unread mentions per channel, following edits, deletions and reads", async () => {
    const { Ann, Ben, Cai } = users();
    const channel = await createChannel(server(), Ann, { members: [Ben, Cai] });
    const first = await send(Ann, channel.id, '@Ben one');
    const second = await send(Ann, channel.id, '@Ben two, @Cai');
    await send(Ann, channel.id, 'no one');
    await send(Ben, channel.id, 'my own @Ben does not count');
    expect(await counts(Ben, channel.id)).toEqual({ unreadCount: 3, mentionCount: 2 });
    expect(await counts(Cai, channel.id)).toEqual({ unreadCount: 4, mentionCount: 1 });

    const edited = dataOf(
      await gql(
        server().graphqlUrl,
        Edit,
        { input: { messageId: second.id, content: 'two, for @Cai only' } },
        { token: Ann.token },
      ),
    );
    expect(ids(edited.editMessage.mentions)).toEqual([Cai.id]);
    expect(await counts(Ben, channel.id)).toEqual({ unreadCount: 3, mentionCount: 1 });

    const deleted = dataOf(await gql(server().graphqlUrl, Delete, { messageId: second.id }, { token: Ann.token }));
    expect(deleted.deleteMessage.mentions).toEqual([]);
    expect(await counts(Cai, channel.id)).toEqual({ unreadCount: 3, mentionCount: 0 });

    dataOf(
      await gql(
        server().graphqlUrl,
        MarkRead,
        { input: { channelId: channel.id, upToMessageId: first.id } },
        { token: Ben.token },
      ),
    );
    expect(await counts(Ben, channel.id)).toEqual({ unreadCount: 1, mentionCount: 0 });
    await send(Ann, channel.id, 'again @ben');
    expect(await counts(Ben, channel.id)).toEqual({ unreadCount: 2, mentionCount: 1 });
  });

  it('name only active people of the organization', async () => {
    const { Ann } = users();
    const dora = await addUser(server(), org(), 'Dora', 'USER');
    const channel = await createChannel(server(), Ann);
    expect((await send(Ann, channel.id, 'hi @Dora')).mentions).toEqual([{ id: dora.id }]);
    dataOf(
      await gql(
        server().graphqlUrl,
        Deactivate,
        { input: { id: dora.id, isActive: false } },
        { token: org().admin.token },
      ),
    );
    expect((await send(Ann, channel.id, 'bye @Dora')).mentions).toEqual([]);
  });
});
