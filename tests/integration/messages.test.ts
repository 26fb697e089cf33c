import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import type { MessagesQuery } from '../gql/graphql.js';
import { graphql } from '../gql/index.js';
import { Messages, SendMessage } from '../support/documents.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createChannel, liveMessageEvents, send } from '../support/messaging.js';

const EditMessage = graphql(`
  mutation EditMessage($input: EditMessageInput!) {
    editMessage(input: $input) {
      id
      content
      edited
      updatedAt
    }
  }
`);

const DeleteMessage = graphql(`
  mutation DeleteMessage($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
      content
      metadata
      deleted
    }
  }
`);

const Replies = graphql(`
  query Replies($channelId: ID!) {
    messages(channelId: $channelId, first: 50) {
      edges {
        node {
          id
          replyCount
          replies(first: 10) {
            edges {
              node {
                id
                content
              }
            }
          }
        }
      }
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob', 'Outsider'], clients: ['Carol'] } });

describe('sendMessage', () => {
  it('stores the message and returns it with its author, no reactions and no replies', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const message = await send(server(), org().users.Bob!, channel.id, 'Hello, world');
    expect(message).toMatchObject({
      channelId: channel.id,
      content: 'Hello, world',
      messageType: 'TEXT',
      replyCount: 0,
      edited: false,
      deleted: false,
      author: { id: org().users.Bob!.id, displayName: 'Bob' },
      reactions: [],
      readBy: [],
    });
  });

  it('accepts attachments described in metadata and refuses incomplete ones, naming the field', async () => {
    const channel = await createChannel(server(), org().users.Alice!);
    const metadata = { url: 'https://files.example.test/cat.png', mimeType: 'image/png', size: 1234 };
    const image = dataOf(
      await gql(
        server().graphqlUrl,
        SendMessage,
        { input: { channelId: channel.id, messageType: 'IMAGE', metadata, content: 'a cat' } },
        { token: org().users.Alice!.token },
      ),
    );
    expect(image.sendMessage).toMatchObject({ messageType: 'IMAGE', metadata, content: 'a cat' });

    const noFileName = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: channel.id, messageType: 'FILE', metadata: { ...metadata, mimeType: 'application/pdf' } } },
      { token: org().users.Alice!.token },
    );
    expect(noFileName.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.metadata.fileName',
    });
    const wrongKind = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: channel.id, messageType: 'AUDIO', metadata } },
      { token: org().users.Alice!.token },
    );
    expect(wrongKind.errors?.[0]?.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      field: 'input.metadata.mimeType',
    });
  });

  it('refuses empty and over-long messages with BAD_USER_INPUT naming content', async () => {
    const channel = await createChannel(server(), org().users.Alice!);
    for (const content of ['', '   ', 'x'.repeat(4097)]) {
      const response = await gql(
        server().graphqlUrl,
        SendMessage,
        { input: { channelId: channel.id, content } },
        { token: org().users.Alice!.token },
      );
      expect(response.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.content' });
    }
    // 4096 characters as people count them: emoji are one character each, not two UTF-16 units.
    const longest = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: channel.id, content: '😀'.repeat(4096) } },
      { token: org().users.Alice!.token },
    );
    expect(longest.errors).toBeUndefined();
  });

  it('answers NOT_FOUND for a channel the sender cannot see and FORBIDDEN where they can see but not post', async () => {
    const secret = await createChannel(server(), org().users.Alice!, { channelType: 'PRIVATE' });
    const hidden = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: secret.id, content: 'hi' } },
      { token: org().users.Outsider!.token },
    );
    expect(errorCodes(hidden)).toEqual(['NOT_FOUND']);
    // An admin sees every direct channel but writes only in their own.
    const direct = dataOf(
      await gql(
        server().graphqlUrl,
        graphql(`
          mutation OpenDirect($userId: ID!) {
            openDirectChannel(userId: $userId) {
              id
            }
          }
        `),
        { userId: org().users.Bob!.id },
        { token: org().users.Alice!.token },
      ),
    );
    const adminPost = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: direct.openDirectChannel.id, content: 'hi' } },
      { token: org().admin.token },
    );
    expect(errorCodes(adminPost)).toEqual(['FORBIDDEN']);
  });

  it('keeps replies in the thread of the first message, in the same channel only', async () => {
    const channel = await createChannel(server(), org().users.Alice!);
    const other = await createChannel(server(), org().users.Alice!);
    const root = await send(server(), org().users.Alice!, channel.id, 'root');
    const reply = await send(server(), org().users.Bob!, channel.id, 'reply', root.id);
    const nested = await send(server(), org().users.Bob!, channel.id, 'reply to reply', reply.id);
    expect(reply.threadId).toBe(root.id);
    expect(nested.threadId).toBe(root.id);
    const crossed = await gql(
      server().graphqlUrl,
      SendMessage,
      { input: { channelId: other.id, content: 'x', threadId: root.id } },
      { token: org().users.Alice!.token },
    );
    expect(crossed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.threadId' });

    const data = dataOf(
      await gql(server().graphqlUrl, Replies, { channelId: channel.id }, { token: org().users.Alice!.token }),
    );
    const rootNode = data.messages.edges.find((edge) => edge.node.id === root.id)!.node;
    expect(rootNode.replyCount).toBe(2);
    expect(rootNode.replies.edges.map((edge) => edge.node.content)).toEqual(['reply', 'reply to reply']);
  });
});

describe('editMessage and deleteMessage', () => {
  it('lets only the author edit; the edit is flagged and moves updatedAt', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const message = await send(server(), org().users.Alice!, channel.id, 'first draft');
    const edited = dataOf(
      await gql(
        server().graphqlUrl,
        EditMessage,
        { input: { messageId: message.id, content: 'final' } },
        { token: org().users.Alice!.token },
      ),
    );
    expect(edited.editMessage).toMatchObject({ content: 'final', edited: true });
    expect(new Date(edited.editMessage.updatedAt).getTime()).toBeGreaterThan(new Date(message.createdAt).getTime());
    const byOther = await gql(
      server().graphqlUrl,
      EditMessage,
      { input: { messageId: message.id, content: 'hijack' } },
      { token: org().users.Bob!.token },
    );
    expect(errorCodes(byOther)).toEqual(['FORBIDDEN']);
  });

  it('soft-deletes for the author or an admin, and nobody can read the content afterwards', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const message = await send(server(), org().users.Alice!, channel.id, 'oops, a secret');
    expect(
      errorCodes(
        await gql(server().graphqlUrl, DeleteMessage, { messageId: message.id }, { token: org().users.Bob!.token }),
      ),
    ).toEqual(['FORBIDDEN']);
    const deleted = dataOf(
      await gql(server().graphqlUrl, DeleteMessage, { messageId: message.id }, { token: org().admin.token }),
    );
    expect(deleted.deleteMessage).toMatchObject({ content: null, metadata: null, deleted: true });
    const history = dataOf(
      await gql(server().graphqlUrl, Messages, { channelId: channel.id }, { token: org().users.Bob!.token }),
    );
    expect(history.messages.edges.map((edge) => [edge.node.id, edge.node.content, edge.node.deleted])).toEqual([
      [message.id, null, true],
    ]);
    const again = await gql(
      server().graphqlUrl,
      DeleteMessage,
      { messageId: message.id },
      { token: org().admin.token },
    );
    expect(errorCodes(again)).toEqual(['NOT_FOUND']);
  });
});

describe('messages (history)', () => {
  it('pages forwards and backwards in chronological order, newest page by default', async () => {
    const channel = await createChannel(server(), org().users.Alice!);
    const sent = [];
    for (let index = 0; index < 7; index++)
      sent.push(await send(server(), org().users.Alice!, channel.id, `m${index}`));
    const contents = (page: { messages: { edges: { node: { content?: string | null } }[] } }) =>
      page.messages.edges.map((edge) => edge.node.content);

    const newest = dataOf(
      await gql(server().graphqlUrl, Messages, { channelId: channel.id, last: 3 }, { token: org().users.Alice!.token }),
    );
    expect(contents(newest)).toEqual(['m4', 'm5', 'm6']);
    expect(newest.messages.pageInfo.hasPreviousPage).toBe(true);
    const before = dataOf(
      await gql(
        server().graphqlUrl,
        Messages,
        { channelId: channel.id, last: 3, before: newest.messages.pageInfo.startCursor },
        { token: org().users.Alice!.token },
      ),
    );
    expect(contents(before)).toEqual(['m1', 'm2', 'm3']);
    const forward = dataOf(
      await gql(
        server().graphqlUrl,
        Messages,
        { channelId: channel.id, first: 5, after: sent[1]!.cursor },
        { token: org().users.Alice!.token },
      ),
    );
    expect(contents(forward)).toEqual(['m2', 'm3', 'm4', 'm5', 'm6']);
    expect(forward.messages.pageInfo.hasNextPage).toBe(false);
  });

  it('returns exactly what was sent after a cursor, even while many are being sent at once', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const first = await send(server(), org().users.Alice!, channel.id, 'before');
    const burst = await Promise.all(
      Array.from({ length: 40 }, (_, index) =>
        send(server(), index % 2 ? org().users.Alice! : org().users.Bob!, channel.id, `burst ${index}`),
      ),
    );
    const seen: string[] = [];
    let after: string | null | undefined = first.cursor;
    for (;;) {
      const page: MessagesQuery = dataOf(
        await gql(
          server().graphqlUrl,
          Messages,
          { channelId: channel.id, first: 7, after },
          { token: org().users.Bob!.token },
        ),
      );
      seen.push(...page.messages.edges.map((edge) => edge.node.id));
      if (!page.messages.pageInfo.hasNextPage) break;
      after = page.messages.pageInfo.endCursor;
    }
    expect(seen.sort()).toEqual(burst.map((message) => message.id).sort());
  });

  it('refuses a malformed cursor and out-of-range sizes, naming the argument', async () => {
    const channel = await createChannel(server(), org().users.Alice!);
    const badCursor = await gql(
      server().graphqlUrl,
      Messages,
      { channelId: channel.id, after: 'bm90LWEtY3Vyc29y' },
      { token: org().users.Alice!.token },
    );
    expect(badCursor.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    const tooMany = await gql(
      server().graphqlUrl,
      Messages,
      { channelId: channel.id, first: 101 },
      { token: org().users.Alice!.token },
    );
    expect(tooMany.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'first' });
    const badId = await gql(server().graphqlUrl, Messages, { channelId: 'nope' }, { token: org().users.Alice!.token });
    expect(badId.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'channelId' });
  });
});

describe('messageEvents', () => {
  it('delivers messages sent after subscribing, in order, over graphql-ws', async () => {
    const channel = await createChannel(server(), org().users.Alice!, { members: [org().users.Bob!] });
    const live = await liveMessageEvents(server(), {
      token: org().users.Bob!.token,
      channelId: channel.id,
      prober: org().admin,
    });
    try {
      const sent = [];
      for (let index = 0; index < 5; index++)
        sent.push(await send(server(), org().users.Alice!, channel.id, `live ${index}`));
      const received = await live.waitForMessages(5);
      expect(received.map((event) => event.messageEvents.message.id)).toEqual(sent.map((m) => m.id));
      expect(received.every((event) => event.messageEvents.kind === 'CREATED')).toBe(true);
    } finally {
      await live.close();
    }
  });
});
