import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { graphql } from '../gql/index.js';
import { dataOf, gql } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { countStatements } from '../support/query-counter.js';

const RichPage = graphql(`
  query RichPage($channelId: ID!, $last: Int) {
    messages(channelId: $channelId, last: $last) {
      edges {
        cursor
        node {
          id
          content
          channel {
            id
            name
          }
          author {
            id
            displayName
          }
          reactions {
            emoji
            count
            viewerReacted
          }
          replyCount
          readBy {
            user {
              displayName
            }
            readAt
          }
        }
      }
    }
  }
`);

const React = graphql(`
  mutation CountReact($input: ReactionInput!) {
    addReaction(input: $input) {
      id
    }
  }
`);
const MarkRead = graphql(`
  mutation CountMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob', 'Cleo'] } });

describe('a page of messages', () => {
  it('costs the same number of SQL statements for 5 messages as for 50, with authors, reactions, replies and readers', async () => {
    const [alice, bob, cleo] = [org().users.Alice, org().users.Bob, org().users.Cleo];
    const channel = await createChannel(server(), alice!, { members: [bob!, cleo!] });
    const messages: Awaited<ReturnType<typeof send>>[] = [];
    for (let index = 0; index < 50; index++) {
      const author = [alice!, bob!, cleo!][index % 3]!;
      messages.push(
        await send(
          server(),
          author,
          channel.id,
          `message ${index}`,
          index % 5 === 4 ? messages[index - 1]!.id : undefined,
        ),
      );
    }
    for (const message of messages.filter((_, index) => index % 2 === 0)) {
      await gql(server().graphqlUrl, React, { input: { messageId: message.id, emoji: '👍' } }, { token: bob!.token });
      await gql(server().graphqlUrl, React, { input: { messageId: message.id, emoji: '🎉' } }, { token: cleo!.token });
    }
    dataOf(await gql(server().graphqlUrl, MarkRead, { input: { channelId: channel.id } }, { token: bob!.token }));

    const small = await countStatements(() =>
      gql(server().graphqlUrl, RichPage, { channelId: channel.id, last: 5 }, { token: cleo!.token }),
    );
    const large = await countStatements(() =>
      gql(server().graphqlUrl, RichPage, { channelId: channel.id, last: 50 }, { token: cleo!.token }),
    );
    const page = dataOf(large.result).messages.edges;
    expect(page).toHaveLength(50);
    expect(page.filter((edge) => edge.node.reactions.length === 2)).toHaveLength(25);
    expect(page.some((edge) => edge.node.replyCount > 0)).toBe(true);
    expect(page.some((edge) => edge.node.readBy.length > 0)).toBe(true);
    expect(large.statements.length).toBe(small.statements.length);
    // The history read, the channel check, and one statement per detail: a handful, whatever the page size.
    expect(large.statements.length).toBeLessThanOrEqual(8);
  });
});
