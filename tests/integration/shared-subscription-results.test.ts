import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, gql, subscribe, wsClient } from '../support/graphql.js';
import { createChannel, PROBE, send, untilLive } from '../support/messaging.js';
import type { TestUser } from '../support/seed.js';

// A subscription's selection runs once per event for all the subscribers that asked the same, and each of them
// still receives exactly what they may see: fields that depend on the reader are filled per reader, and a
// selection that reads the viewer any other way runs per subscriber.

const SharedView = graphql(`
  subscription SharedView($channelId: ID!) {
    messageEvents(channelId: $channelId) {
      kind
      message {
        id
        content
        author {
          id
          email
        }
        reactions {
          emoji
          count
          viewerReacted
        }
        replyCount
        attachment {
          url
        }
      }
    }
  }
`);
const MembershipView = graphql(`
  subscription MembershipView($channelId: ID!) {
    messageEvents(channelId: $channelId) {
      message {
        id
        content
        channel {
          id
          isMember
        }
      }
    }
  }
`);
const React = graphql(`
  mutation SharedReact($input: ReactionInput!) {
    addReaction(input: $input) {
      id
    }
  }
`);
const Edit = graphql(`
  mutation SharedEdit($input: EditMessageInput!) {
    editMessage(input: $input) {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob'], clients: ['Carol'] } });

async function executions(): Promise<{ shared: number; perSubscriber: number }> {
  const metric = await server().app.metrics.registry.getSingleMetric('chat_subscription_executions_total')!.get();
  const of = (scope: string) => metric.values.find((value) => value.labels.scope === scope)?.value ?? 0;
  return { shared: of('shared'), perSubscriber: of('per-subscriber') };
}

describe('subscription results shared by their subscribers', () => {
  it('run once per event, with each reader’s own view of the fields that depend on them', async () => {
    const { Alice, Bob } = org().users as Record<string, TestUser>;
    const Carol = org().clients.Carol!;
    const channel = await createChannel(server(), Alice!, { channelType: 'PRIVATE', members: [Bob!] });
    await server().app.services.clientAssignments.assign(org().admin.session, {
      clientUserId: Carol.id,
      channelId: channel.id,
    });
    const clients = [Alice!, Bob!, Carol].map((user) => wsClient(server().wsUrl, user.token));
    try {
      const views = clients.map((client) => subscribe(client, SharedView, { channelId: channel.id }));
      await untilLive(views, () => send(server(), org().admin, channel.id, PROBE));
      const [alice, bob, carol] = views as [(typeof views)[0], (typeof views)[0], (typeof views)[0]];
      const hello = await send(server(), Alice!, channel.id, 'hello');
      const ofHello = (events: typeof alice.events) =>
        events.filter((event) => event.messageEvents.message.id === hello.id);
      await Promise.all([alice, bob, carol].map((view) => view.waitFor((events) => ofHello(events).length === 1)));
      // Staff see a colleague's address; a client does not.
      expect(ofHello(alice.events)[0]!.messageEvents.message.author!.email).toBe(Alice!.email);
      expect(ofHello(bob.events)[0]!.messageEvents.message.author!.email).toBe(Alice!.email);
      expect(ofHello(carol.events)[0]!.messageEvents.message.author!.email).toBeNull();

      await gql(
        server().graphqlUrl,
        React,
        { input: { messageId: hello.id, emoji: '👍' } },
        { token: Bob!.token },
      ).then(dataOf);
      const before = await executions();
      await gql(
        server().graphqlUrl,
        Edit,
        { input: { messageId: hello.id, content: 'hello, edited' } },
        { token: Alice!.token },
      ).then(dataOf);
      const edited = (events: typeof alice.events) =>
        ofHello(events).find((event) => event.messageEvents.message.content === 'hello, edited');
      await Promise.all([alice, bob, carol].map((view) => view.waitFor((events) => edited(events) !== undefined)));
      const reactions = (view: typeof alice) => edited(view.events)!.messageEvents.message.reactions;
      expect(reactions(alice)).toEqual([{ emoji: '👍', count: 1, viewerReacted: false }]);
      expect(reactions(bob)).toEqual([{ emoji: '👍', count: 1, viewerReacted: true }]);
      expect(reactions(carol)).toEqual([{ emoji: '👍', count: 1, viewerReacted: false }]);
      // One execution served the three of them.
      expect(await executions()).toEqual({ shared: before.shared + 1, perSubscriber: before.perSubscriber });
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it('run per subscriber when the selection reads the viewer outside such fields', async () => {
    const { Alice, Bob } = org().users as Record<string, TestUser>;
    // Public: Bob reads it without being a member.
    const channel = await createChannel(server(), Alice!, { channelType: 'PUBLIC' });
    const clients = [Alice!, Bob!].map((user) => wsClient(server().wsUrl, user.token));
    try {
      const views = clients.map((client) => subscribe(client, MembershipView, { channelId: channel.id }));
      await untilLive(views, () => send(server(), org().admin, channel.id, PROBE));
      const [alice, bob] = views as [(typeof views)[0], (typeof views)[0]];
      const before = await executions();
      const note = await send(server(), Alice!, channel.id, 'members only know');
      const ofNote = (view: typeof alice) =>
        view.events.find((event) => event.messageEvents.message.id === note.id)?.messageEvents.message;
      await Promise.all([alice, bob].map((view) => view.waitFor(() => ofNote(view) !== undefined)));
      expect(ofNote(alice)!.channel!.isMember).toBe(true);
      expect(ofNote(bob)!.channel!.isMember).toBe(false);
      // The shared execution served the subscriber it ran for; the other ran their own.
      expect(await executions()).toEqual({ shared: before.shared + 1, perSubscriber: before.perSubscriber + 1 });
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });
});
