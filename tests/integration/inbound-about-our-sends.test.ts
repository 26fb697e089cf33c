import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  type Conversation,
  channelMessages,
  customerWrites,
  deliver,
  instagramDelivery,
  openConversation,
  whatsAppDelivery,
} from '../support/conversations.js';
import { fixtureJson } from '../support/fixtures.js';
import { graphql } from '../gql/index.js';
import { dataOf, subscribe, wsClient } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { sendMessage, type SendingWorld, settledOutbound, startSendingWorld } from '../support/outbound.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';
import { waitFor } from '../support/webhooks.js';

// What Meta reports about the messages staff sent: WhatsApp statuses, Instagram read receipts and echoes,
// and customers reacting and replying to them. Each message goes out the real way (sendMessage, the outbox
// sender, a fake Graph API inside the test) so that Meta's id for it is the one the sender recorded.

const ChannelStatusEvents = graphql(`
  subscription ChannelStatusEvents($channelId: ID!) {
    messageStatusEvents(channelId: $channelId) {
      channelId
      messageId
      status
      timestamp
      user {
        id
      }
    }
  }
`);

let world: SendingWorld;
let org: TestOrganization;
let events: LiveEvents;

beforeAll(async () => {
  world = await startSendingWorld();
  org = await seedOrganization(world.server);
  events = await liveEvents(world.server, org);
}, SENDER_LOCK_WAIT_MS);
afterAll(async () => {
  await events?.close();
  await world?.stop();
});

const server = () => world.server;
const prisma = () => world.server.app.db.prisma;

/** A conversation in which the customer has just written, so staff may answer freely. */
async function activeConversation(platform: 'WHATSAPP' | 'INSTAGRAM') {
  const conversation = await openConversation(server(), org, platform);
  const inbound = await customerWrites(server(), conversation);
  return { conversation, inbound };
}

/** The admin answers; resolves once Meta (the fake) has accepted it, with Meta's id for it. */
async function weSend(conversation: Conversation, content: string) {
  const message = dataOf(
    await sendMessage(server(), org.admin, { channelId: conversation.channelId, content }),
  ).sendMessage;
  const row = await settledOutbound(server(), message.id);
  expect(row.status).toBe('SENT');
  return { id: message.id, externalId: row.externalMessageId! };
}

const clientStatus = (messageId: string, conversation: Conversation) =>
  prisma().messageUserStatus.findUnique({
    where: { messageId_userId: { messageId, userId: conversation.client.id } },
    select: { status: true, timestamp: true, errorCode: true, errorTitle: true },
  });

/** Delivers a WhatsApp status fixture about one of our messages; it must be processed cleanly. */
async function statusArrives(
  conversation: Conversation,
  fixture: string,
  externalId: string,
  edits: { at?: Date; replace?: Record<string, string> } = {},
) {
  const body = whatsAppDelivery(fixture, conversation, {
    at: edits.at,
    replace: { 'wamid.xyzxyz': externalId, ...edits.replace },
  });
  expect(await deliver(server(), conversation.integration, body)).toMatchObject({ status: 'PROCESSED', errors: null });
}

const statusEvent = (messageId: string, conversation: Conversation, status: string) => ({
  type: 'status',
  messageId,
  status,
  userId: conversation.client.id,
});

describe('WhatsApp statuses of our messages', () => {
  it("move the client's status forward only, and each real change is announced once", async () => {
    const { conversation, inbound } = await activeConversation('WHATSAPP');
    const ours = await weSend(conversation, 'Your order shipped');

    await statusArrives(conversation, 'wa_status_sent.json', ours.externalId);
    expect(await clientStatus(ours.id, conversation)).toMatchObject({ status: 'SENT' });
    await statusArrives(conversation, 'wa_status_delivered.json', ours.externalId);
    expect(await clientStatus(ours.id, conversation)).toMatchObject({
      status: 'DELIVERED',
      timestamp: new Date(1698266945_000),
    });
    await statusArrives(conversation, 'wa_status_read.json', ours.externalId);
    const read = { status: 'READ', timestamp: new Date(1689380458_000), errorCode: null, errorTitle: null };
    expect(await clientStatus(ours.id, conversation)).toEqual(read);
    // Late and out of order (Meta does not promise order): nothing moves back.
    await statusArrives(conversation, 'wa_status_delivered.json', ours.externalId, { at: new Date() });
    await statusArrives(conversation, 'wa_status_sent.json', ours.externalId, { at: new Date() });
    await statusArrives(conversation, 'wa_status_failed.json', ours.externalId);
    expect(await clientStatus(ours.id, conversation)).toEqual(read);

    expect(await events.settled(conversation.channelId, 5)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: inbound.id }),
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: ours.id }),
      statusEvent(ours.id, conversation, 'SENT'), // recorded by the outbox sender when Meta accepted it
      statusEvent(ours.id, conversation, 'DELIVERED'),
      statusEvent(ours.id, conversation, 'READ'),
    ]);
  });

  it('reach subscribers of messageStatusEvents for the channel, each real change once', async () => {
    const { conversation, inbound } = await activeConversation('WHATSAPP');
    const client = wsClient(server().wsUrl, org.admin.token);
    const statuses = subscribe(client, ChannelStatusEvents, { channelId: conversation.channelId });
    try {
      // graphql-ws does not acknowledge a subscription: the admin marks the customer's messages delivered
      // (each a status event of its own) until one arrives.
      let probe = inbound;
      for (let attempt = 0; statuses.events.length === 0; attempt++) {
        if (attempt > 0) probe = await customerWrites(server(), conversation);
        await server().app.services.readState.markDelivered(org.admin.session, [probe.id]);
        await statuses.waitFor((events) => events.length > 0, 300).catch(() => undefined);
        if (attempt === 20) throw new Error('the status subscription never became live');
      }
      const ours = await weSend(conversation, 'track me');
      await statusArrives(conversation, 'wa_status_sent.json', ours.externalId);
      await statusArrives(conversation, 'wa_status_delivered.json', ours.externalId);
      await statusArrives(conversation, 'wa_status_read.json', ours.externalId);
      await statusArrives(conversation, 'wa_status_delivered.json', ours.externalId, { at: new Date() });
      const aboutOurs = () =>
        statuses.events
          .map((event) => event.messageStatusEvents)
          .filter((event) => event.messageId === ours.id)
          .map((event) => [event.status, event.user.id, event.channelId]);
      await statuses.waitFor(() => aboutOurs().length >= 3);
      await events.settled(conversation.channelId, 3); // a while for anything more to arrive
      expect(aboutOurs()).toEqual(
        ['SENT', 'DELIVERED', 'READ'].map((status) => [status, conversation.client.id, conversation.channelId]),
      );
    } finally {
      statuses.stop();
      await client.dispose();
    }
  });

  it('played (a voice note listened to) is READ', async () => {
    const { conversation } = await activeConversation('WHATSAPP');
    const ours = await weSend(conversation, 'listen to this');
    await statusArrives(conversation, 'wa_status_read.json', ours.externalId, {
      replace: { '"status": "read"': '"status": "played"' },
    });
    expect(await clientStatus(ours.id, conversation)).toMatchObject({ status: 'READ' });
    expect((await events.settled(conversation.channelId, 4)).slice(2)).toEqual([
      statusEvent(ours.id, conversation, 'SENT'),
      statusEvent(ours.id, conversation, 'READ'),
    ]);
  });

  it("failed keeps Meta's error code and title", async () => {
    const { conversation } = await activeConversation('WHATSAPP');
    const ours = await weSend(conversation, 'will not arrive');
    await statusArrives(conversation, 'wa_status_failed.json', ours.externalId);
    expect(await clientStatus(ours.id, conversation)).toEqual({
      status: 'FAILED',
      timestamp: new Date(1689380458_000),
      errorCode: '130472',
      errorTitle: "User's number is part of an experiment",
    });
    expect((await events.settled(conversation.channelId, 4)).slice(2)).toEqual([
      statusEvent(ours.id, conversation, 'SENT'),
      statusEvent(ours.id, conversation, 'FAILED'),
    ]);
  });

  it('ignores statuses of ids this server never sent, including the customer’s own messages', async () => {
    const { conversation, inbound } = await activeConversation('WHATSAPP');
    const ours = await weSend(conversation, 'hello');
    // The fixture's id as it is (no message here has it), then the id of the customer's message.
    await statusArrives(conversation, 'wa_status_delivered.json', 'wamid.xyzxyz');
    await statusArrives(conversation, 'wa_status_read.json', inbound.externalMessageId!);
    expect(await clientStatus(ours.id, conversation)).toMatchObject({ status: 'SENT' });
    expect(await prisma().messageUserStatus.count({ where: { messageId: inbound.id } })).toBe(0);
    expect(await events.settled(conversation.channelId, 3)).toHaveLength(3);
  });
});

describe('WhatsApp customers answering our messages', () => {
  it('a reaction to our message is theirs on it; a reply to it joins its thread', async () => {
    const { conversation } = await activeConversation('WHATSAPP');
    const ours = await weSend(conversation, 'How was it?');
    const reaction = await deliver(
      server(),
      conversation.integration,
      whatsAppDelivery('wa_inbound_reaction.json', conversation, { replace: { 'wamid.yzxyzx=': ours.externalId } }),
    );
    expect(reaction).toMatchObject({ status: 'PROCESSED', errors: null });
    expect(await prisma().messageReaction.findMany({ where: { messageId: ours.id } })).toEqual([
      expect.objectContaining({ userId: conversation.client.id, emoji: '😮' }),
    ]);
    await deliver(
      server(),
      conversation.integration,
      whatsAppDelivery('wa_inbound_reply_with_context.json', conversation, {
        replace: { 'wamid.xyzxyz==': ours.externalId, '"wamid.xyzxyz"': '"wamid.reply"' },
      }),
    );
    const reply = await prisma().message.findFirstOrThrow({
      where: { platformIntegrationId: conversation.integration.id, externalMessageId: 'wamid.reply' },
    });
    expect(reply).toMatchObject({ userId: conversation.client.id, content: 'replied text', threadId: ours.id });
    expect((await events.settled(conversation.channelId, 5)).slice(3)).toEqual([
      { type: 'reaction', kind: 'ADDED', messageId: ours.id, emoji: '😮', userId: conversation.client.id },
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: reply.id }),
    ]);
  });
});

describe('Instagram and our messages', () => {
  const echoMid = fixtureJson<{ entry: { messaging: { message: { mid: string } }[] }[] }>('ig_echo_real_capture.json')
    .entry[0]!.messaging[0]!.message.mid;
  const echoOf = (conversation: Conversation, mid: string) =>
    instagramDelivery('ig_echo_real_capture.json', conversation, { replace: { [echoMid]: mid } });

  it('recognises the echo of our own send and does not store it again; seen makes it READ', async () => {
    const { conversation, inbound } = await activeConversation('INSTAGRAM');
    const ours = await weSend(conversation, 'test');
    expect(await deliver(server(), conversation.integration, echoOf(conversation, ours.externalId))).toMatchObject({
      status: 'PROCESSED',
      errors: null,
    });
    expect((await channelMessages(server(), conversation.channelId)).map((message) => message.id)).toEqual([
      inbound.id,
      ours.id,
    ]);

    const seen = (at: Date) =>
      deliver(
        server(),
        conversation.integration,
        instagramDelivery('ig_messaging_seen.json', conversation, { mid: ours.externalId, at }),
      );
    await seen(new Date(1569262485349));
    expect(await clientStatus(ours.id, conversation)).toMatchObject({
      status: 'READ',
      timestamp: new Date(1569262485349),
    });
    await seen(new Date()); // seen again: already read
    // Customers unsend only their own messages.
    await deliver(
      server(),
      conversation.integration,
      instagramDelivery('ig_message_deleted.json', conversation, { mid: ours.externalId }),
    );
    expect(await prisma().message.findUniqueOrThrow({ where: { id: ours.id } })).toMatchObject({
      content: 'test',
      deletedAt: null,
    });
    expect(await events.settled(conversation.channelId, 4)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: inbound.id }),
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: ours.id }),
      statusEvent(ours.id, conversation, 'SENT'),
      statusEvent(ours.id, conversation, 'READ'),
    ]);
  });

  it('recognises an echo that arrives while our send is still waiting for Meta to answer', async () => {
    const { conversation } = await activeConversation('INSTAGRAM');
    const mid = 'mid.answered-late';
    world.respondTo(conversation.platformUserId!, () => ({
      status: 200,
      body: { recipient_id: conversation.platformUserId, message_id: mid },
      delayMs: 1_000,
    }));
    const message = dataOf(
      await sendMessage(server(), org.admin, { channelId: conversation.channelId, content: 'racing the echo' }),
    ).sendMessage;
    await waitFor(async () => world.requestsTo(conversation.platformUserId!).length > 0, 5_000, 'the send to start');
    // Meta echoes the message before the Send API call that sent it has returned.
    expect(await deliver(server(), conversation.integration, echoOf(conversation, mid))).toMatchObject({
      status: 'PROCESSED',
      errors: null,
    });
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT', externalMessageId: mid });
    expect(await prisma().message.count({ where: { channelId: conversation.channelId } })).toBe(2);
  });
});
