import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { describe, expect, it } from '@jest/globals';
import type { ViewerEvent } from '../../examples/resumable-events.js';
import { graphql } from '../gql/index.js';
import { AddMembers, CreateChannel, Messages, RemoveMember } from '../support/documents.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql, subscribe, wsClient } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { placeOf, recordedEvents, type RecordedEvents } from '../support/recorded-events.js';
import { repeatUntilStopped } from '../support/repeat.js';
import type { TestServer } from '../support/server.js';
import type { TestUser } from '../support/seed.js';

// Every kind of event takes its place in the organization's one sequence, so a client that resumes after the
// last cursor it saw misses nothing and receives nothing twice, whichever instance it reconnects to. These tests
// run the README's own client (examples/resumable-events.ts) through dropped sockets on two instances.

const EditMessage = graphql(`
  mutation ResumeEditMessage($input: EditMessageInput!) {
    editMessage(input: $input) {
      id
    }
  }
`);
const DeleteMessage = graphql(`
  mutation ResumeDeleteMessage($id: ID!) {
    deleteMessage(messageId: $id) {
      id
    }
  }
`);
const AddReaction = graphql(`
  mutation ResumeAddReaction($input: ReactionInput!) {
    addReaction(input: $input) {
      id
    }
  }
`);
const RemoveReaction = graphql(`
  mutation ResumeRemoveReaction($input: ReactionInput!) {
    removeReaction(input: $input) {
      id
    }
  }
`);
const MarkRead = graphql(`
  mutation ResumeMarkRead($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);
const MarkDelivered = graphql(`
  mutation ResumeMarkDelivered($input: MarkMessagesDeliveredInput!) {
    markMessagesDelivered(input: $input) {
      markedMessageIds
    }
  }
`);
const UpdateChannel = graphql(`
  mutation ResumeUpdateChannel($input: UpdateChannelInput!) {
    updateChannel(input: $input) {
      id
    }
  }
`);

const { servers, org } = useFixture({ instances: 2, organization: { users: ['Alice', 'Bob', 'Dora', 'Eli'] } });
const first = () => servers()[0]!;
const second = () => servers()[1]!;
const urls = () => servers().map((server) => server.wsUrl);

const as = <R, V>(server: TestServer, user: TestUser, document: TypedDocumentNode<R, V>, variables: V) =>
  gql(server.graphqlUrl, document, variables, { token: user.token }).then(dataOf);

/** Sends probes until every recorder has received an event: graphql-ws does not say when a subscription is live. */
async function live(recorders: RecordedEvents[], channelId: string) {
  const prober = repeatUntilStopped(() => send(first(), org().admin, channelId, '(probe)'), 30);
  await Promise.all(recorders.map((recorder) => recorder.waitFor((events) => events.length > 0))).finally(prober.stop);
}

/** Resolves once the recorder has received a probe sent now: by replay if it was away, live if not. */
async function caughtUp(recorder: RecordedEvents, channelId: string) {
  const probe = await send(first(), org().admin, channelId, '(caught up?)');
  await recorder.waitFor(
    (events) => events.some((event) => (event.message as { id?: string } | undefined)?.id === probe.id),
    15_000,
    'the recorder to catch up',
  );
}

const messageContent = (event: ViewerEvent) => (event.message as { content: string | null } | undefined)?.content;

describe('resuming after dropped sockets, on two instances', () => {
  it('replays every kind of event the client missed, in order and once, then continues live', async () => {
    const { Alice, Bob } = org().users as Record<string, TestUser>;
    const general = await createChannel(first(), Alice!, { members: [Bob!] });
    const team = await createChannel(first(), Alice!, { channelType: 'PRIVATE', members: [Bob!] });
    const reference = recordedEvents({ urls: [first().wsUrl], token: Bob!.token });
    const subject = recordedEvents({ urls: urls().slice().reverse(), token: Bob!.token });
    try {
      await live([reference, subject], general.id);
      await send(second(), Alice!, general.id, 'start');
      await Promise.all(
        [reference, subject].map((recorder) =>
          recorder.waitFor((events) => events.some((event) => messageContent(event) === 'start')),
        ),
      );

      // Alternate instances; drop the subject's socket every few changes.
      let step = 0;
      const on = () => (step++ % 2 ? first() : second());
      const dropping = async (work: () => Promise<unknown>) => {
        await work();
        if (step % 4 === 0) subject.drop();
      };
      const sent: { id: string }[] = [];
      for (let round = 0; round < 3; round++) {
        await dropping(async () => sent.push(await send(on(), Alice!, general.id, `general ${round}`)));
        await dropping(async () => sent.push(await send(on(), Alice!, team.id, `team ${round}`)));
        await dropping(() => as(on(), Bob!, AddReaction, { input: { messageId: sent.at(-1)!.id, emoji: '👍' } }));
        await dropping(() =>
          as(on(), Alice!, EditMessage, { input: { messageId: sent.at(-2)!.id, content: `edited ${round}` } }),
        );
        await dropping(() => as(on(), Bob!, RemoveReaction, { input: { messageId: sent.at(-1)!.id, emoji: '👍' } }));
        await dropping(() => as(on(), Bob!, MarkRead, { input: { channelId: team.id } }));
        await dropping(() => as(on(), Bob!, MarkDelivered, { input: { messageIds: [sent.at(-2)!.id] } }));
        const room = (
          await as(on(), Alice!, CreateChannel, {
            input: { name: `room ${round}`, channelType: 'PRIVATE', memberIds: [Bob!.id] },
          })
        ).createChannel;
        await dropping(() => as(on(), Alice!, UpdateChannel, { input: { id: room.id, name: `renamed ${round}` } }));
        await dropping(() =>
          as(on(), Alice!, AddMembers, { input: { channelId: room.id, userIds: [org().admin.id] } }),
        );
        // A replay shows what the viewer may see when it runs (the next test covers a channel lost while away), so
        // the subject catches up before Bob loses the room: then it must have seen the room's events as they were.
        await caughtUp(subject, general.id);
        await dropping(() => as(on(), Alice!, RemoveMember, { input: { channelId: room.id, userId: Bob!.id } }));
        await dropping(() => as(on(), Alice!, DeleteMessage, { id: sent.at(-2)!.id }));
      }
      const end = await send(first(), Alice!, general.id, 'end');
      const sawEnd = (events: ViewerEvent[]) => events.some((event) => messageContent(event) === 'end');
      await reference.waitFor(sawEnd, 15_000, 'the end on the reference');
      await subject.waitFor(sawEnd, 15_000, 'the end on the subject');
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(subject.connections()).toBeGreaterThanOrEqual(4);
      const after = (recorder: RecordedEvents) => {
        const startAt = placeOf(recorder.sequenced().find((event) => messageContent(event) === 'start')!.cursor!);
        return recorder.sequenced().filter((event) => {
          const [seq, part] = placeOf(event.cursor!);
          return seq > startAt[0] || (seq === startAt[0] && part > startAt[1]);
        });
      };
      const subjects = after(subject);
      const references = after(reference);
      // In order and once: the subject's places strictly increase.
      const places = subjects.map((event) => placeOf(event.cursor!));
      places.slice(1).forEach(([seq, part], index) => {
        const [previousSeq, previousPart] = places[index]!;
        expect(seq > previousSeq || (seq === previousSeq && part > previousPart)).toBe(true);
      });
      // Every reaction, status and channel event, as the uninterrupted client received it.
      const others = (events: typeof subjects) =>
        events.filter((event) => event.__typename !== 'MessageEvent').map((event) => [event.__typename, event.cursor]);
      expect(others(subjects)).toEqual(others(references));
      const count = (typename: string) => subjects.filter((event) => event.__typename === typename).length;
      expect([count('ReactionEvent'), count('ChannelEvent')]).toEqual([6, 12]);
      expect(count('MessageStatusEvent')).toBeGreaterThanOrEqual(6);
      // Messages end as the uninterrupted client saw them (a message changed twice in a gap arrives once, as it
      // is now).
      const lastOf = (events: typeof subjects) => {
        const byId = new Map<string, unknown>();
        for (const event of events)
          if (event.__typename === 'MessageEvent') byId.set((event.message as { id: string }).id, event.message);
        return byId;
      };
      expect(lastOf(subjects)).toEqual(lastOf(references));
      expect([...lastOf(subjects).keys()]).toEqual(expect.arrayContaining([...sent.map((m) => m.id), end.id]));
    } finally {
      reference.stop();
      subject.stop();
    }
  }, 60_000);

  it('replays what the viewer may see now: a channel lost while away is REMOVED, and its messages are not replayed', async () => {
    const { Alice, Dora } = org().users as Record<string, TestUser>;
    const general = await createChannel(first(), Alice!, { members: [Dora!] });
    const secret = await createChannel(first(), Alice!, { channelType: 'PRIVATE', members: [Dora!] });
    const before = recordedEvents({ urls: [first().wsUrl], token: Dora!.token });
    await live([before], general.id);
    const seen = await send(first(), Alice!, secret.id, 'while a member');
    await before.waitFor((events) => events.some((event) => messageContent(event) === 'while a member'));
    const cursor = before.lastCursor()!;
    before.stop();

    await send(second(), Alice!, secret.id, 'sent while away');
    await as(second(), Alice!, RemoveMember, { input: { channelId: secret.id, userId: Dora!.id } });
    await send(second(), Alice!, secret.id, 'after removal');
    await send(second(), Alice!, general.id, 'still visible');

    const resumed = recordedEvents({ urls: [second().wsUrl], token: Dora!.token, after: cursor });
    try {
      await resumed.waitFor((events) => events.some((event) => messageContent(event) === 'still visible'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      const contents = resumed.events.map(messageContent).filter(Boolean);
      expect(contents).not.toContain('sent while away');
      expect(contents).not.toContain('after removal');
      expect(contents).not.toContain(seen.content);
      expect(resumed.events).toContainEqual(
        expect.objectContaining({
          __typename: 'ChannelEvent',
          channelKind: 'REMOVED',
          channelId: secret.id,
          channel: null,
        }),
      );
    } finally {
      resumed.stop();
    }
  });
});

describe('resuming one channel', () => {
  it('reactionEvents and messageStatusEvents replay what was missed after a cursor', async () => {
    const { Alice, Eli } = org().users as Record<string, TestUser>;
    const channel = await createChannel(first(), Alice!, { channelType: 'PRIVATE', members: [Eli!] });
    const message = await send(first(), Alice!, channel.id, 'react to me');
    const client = wsClient(first().wsUrl, Eli!.token);
    const ReactionEvents = graphql(`
      subscription ResumeReactionEvents($channelId: ID!, $after: String) {
        reactionEvents(channelId: $channelId, after: $after) {
          kind
          emoji
          cursor
        }
      }
    `);
    const StatusEvents = graphql(`
      subscription ResumeStatusEvents($channelId: ID!, $after: String) {
        messageStatusEvents(channelId: $channelId, after: $after) {
          status
          messageId
          cursor
        }
      }
    `);
    try {
      // The cursor of the message is a point in the sequence: everything after it replays.
      await as(second(), Eli!, AddReaction, { input: { messageId: message.id, emoji: '🎉' } });
      await as(second(), Eli!, RemoveReaction, { input: { messageId: message.id, emoji: '🎉' } });
      await as(first(), Eli!, AddReaction, { input: { messageId: message.id, emoji: '🙂' } });
      await as(second(), Eli!, MarkRead, { input: { channelId: channel.id } });
      const reactions = subscribe(client, ReactionEvents, { channelId: channel.id, after: message.cursor });
      const statuses = subscribe(client, StatusEvents, { channelId: channel.id, after: message.cursor });
      await reactions.waitForCount(3);
      await statuses.waitForCount(1);
      expect(reactions.events.map((event) => [event.reactionEvents.kind, event.reactionEvents.emoji])).toEqual([
        ['ADDED', '🎉'],
        ['REMOVED', '🎉'],
        ['ADDED', '🙂'],
      ]);
      expect(
        statuses.events.map((event) => [event.messageStatusEvents.status, event.messageStatusEvents.messageId]),
      ).toEqual([['READ', message.id]]);
      // Resuming after the second reaction replays only the third.
      const again = subscribe(client, ReactionEvents, {
        channelId: channel.id,
        after: reactions.events[1]!.reactionEvents.cursor,
      });
      await again.waitForCount(1);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(again.events.map((event) => event.reactionEvents.emoji)).toEqual(['🙂']);
      reactions.stop();
      statuses.stop();
      again.stop();
    } finally {
      await client.dispose();
    }
  });
});

describe('cursors', () => {
  it('mean one point in the sequence: an UPDATED event or another channel’s event pages history after it', async () => {
    const { Alice, Bob } = org().users as Record<string, TestUser>;
    const channel = await createChannel(first(), Alice!, { members: [Bob!] });
    const elsewhere = await createChannel(first(), Alice!, { members: [Bob!] });
    const old = await send(first(), Alice!, channel.id, 'old');
    const seen = await send(first(), Alice!, channel.id, 'already seen');
    const subscriber = recordedEvents({ urls: [first().wsUrl], token: Bob!.token, after: seen.cursor });
    try {
      await as(first(), Alice!, EditMessage, { input: { messageId: old.id, content: 'old, edited' } });
      const updated = (
        await subscriber.waitFor((events) => events.some((event) => event.messageKind === 'UPDATED'))
      ).find((event) => event.messageKind === 'UPDATED')!;
      const later = await send(first(), Alice!, channel.id, 'later');
      const history = await as(first(), Bob!, Messages, { channelId: channel.id, first: 10, after: updated.cursor! });
      expect(history.messages.edges.map((edge) => edge.node.id)).toEqual([later.id]);

      const other = await send(first(), Alice!, elsewhere.id, 'in another channel');
      const afterOther = await subscriber.waitFor((events) =>
        events.some((event) => messageContent(event) === 'in another channel'),
      );
      const otherCursor = afterOther.find((event) => messageContent(event) === 'in another channel')!.cursor!;
      const newest = await send(first(), Alice!, channel.id, 'newest');
      const page = await as(first(), Bob!, Messages, { channelId: channel.id, first: 10, after: otherCursor });
      expect(page.messages.edges.map((edge) => edge.node.id)).toEqual([newest.id]);
      expect(other.id).not.toBe(newest.id);
    } finally {
      subscriber.stop();
    }
  });

  it('older than what is kept are CURSOR_EXPIRED, and the README client starts afresh', async () => {
    const { Alice, Bob } = org().users as Record<string, TestUser>;
    const channel = await createChannel(first(), Alice!, { members: [Bob!] });
    const old = await send(first(), Alice!, channel.id, 'long ago');
    await send(first(), Alice!, channel.id, 'since');
    // As if the event log had been pruned past it (EVENT_RETENTION_DAYS).
    await first().app.db.pool.query(
      'UPDATE message_sequences SET retained_from_seq = last_seq WHERE organization_id = $1',
      [org().id],
    );
    const client = wsClient(first().wsUrl, Bob!.token);
    const ViewerEvents = graphql(`
      subscription ResumeExpired($after: String) {
        viewerEvents(after: $after) {
          __typename
        }
      }
    `);
    const expired = subscribe(client, ViewerEvents, { after: old.cursor });
    const error = await expired.waitForError();
    expect(JSON.stringify(error)).toContain('CURSOR_EXPIRED');
    await client.dispose();

    let refetched = 0;
    const fresh = recordedEvents({
      urls: [first().wsUrl],
      token: Bob!.token,
      after: old.cursor,
      onExpired: () => refetched++,
    });
    try {
      await live([fresh], channel.id);
      expect(refetched).toBe(1);
    } finally {
      fresh.stop();
      await first().app.db.pool.query('UPDATE message_sequences SET retained_from_seq = 0 WHERE organization_id = $1', [
        org().id,
      ]);
    }
  });

  it('a forged resume cursor is BAD_USER_INPUT', async () => {
    const client = wsClient(first().wsUrl, org().users.Bob!.token);
    const ViewerEvents = graphql(`
      subscription ResumeForged($after: String) {
        viewerEvents(after: $after) {
          __typename
        }
      }
    `);
    const forged = subscribe(client, ViewerEvents, {
      after: Buffer.from('s1:1:AAAAAAAAAAAAAAAA').toString('base64url'),
    });
    expect(JSON.stringify(await forged.waitForError())).toContain('BAD_USER_INPUT');
    await client.dispose();
    expect(errorCodes({ errors: [] })).toEqual([]);
  });
});
