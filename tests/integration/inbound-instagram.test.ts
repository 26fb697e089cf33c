import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fixtureJson } from '../support/fixtures.js';
import {
  channelMessages,
  deliver,
  instagramDelivery,
  openConversation,
  type Conversation,
} from '../support/conversations.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// Every Instagram webhook shape (tests/fixtures/meta), posted signed to a real server, from a customer linked
// to a client: the rows it leaves and what a subscriber of the organization sees, exactly. What customers do
// with the messages staff sent (seen, echoes of our sends) is in inbound-about-our-sends.test.ts.

let server: TestServer;
let org: TestOrganization;
let events: LiveEvents;

beforeAll(async () => {
  server = await startServer();
  org = await seedOrganization(server);
  events = await liveEvents(server, org);
});
afterAll(async () => {
  await events.close();
  await server.stop();
});

const prisma = () => server.app.db.prisma;
// The Instagram fixtures' event time, in milliseconds.
const FIXTURE_TIME = new Date(1569262485349).toISOString();

/** Delivers one fixture and expects it to leave exactly one message, announced once; returns that message. */
async function onlyMessageOf(conversation: Conversation, body: string, authorId = conversation.client.id) {
  const delivery = await deliver(server, conversation.integration, body);
  expect(delivery).toMatchObject({ status: 'PROCESSED', errors: null, attempts: 1 });
  const messages = await channelMessages(server, conversation.channelId);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  expect(await events.settled(conversation.channelId, 1)).toEqual([
    { type: 'message', kind: 'CREATED', messageId: message!.id, content: message!.content, authorId },
  ]);
  return message!;
}

describe('messages', () => {
  it("stores a text as the client's message, with Meta's id and time", async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const body = instagramDelivery('ig_inbound_text.json', conversation, { mid: 'mid.text', text: 'Hi there' });
    const message = await onlyMessageOf(conversation, body);
    expect(message).toMatchObject({
      userId: conversation.client.id,
      content: 'Hi there',
      messageType: 'TEXT',
      messageSource: 'INSTAGRAM',
      platformIntegrationId: conversation.integration.id,
      externalMessageId: 'mid.text',
      metadata: { platformType: 'text', sentAt: FIXTURE_TIME },
    });
    const link = await prisma().clientPlatformLink.findUniqueOrThrow({ where: { id: conversation.linkId! } });
    expect(link.lastInboundAt).toEqual(new Date(1569262485349));
  });

  it('stores an image attachment as an image with its url', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const url = 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=42';
    const message = await onlyMessageOf(
      conversation,
      instagramDelivery('ig_inbound_image_attachment.json', conversation, { url }),
    );
    expect(message).toMatchObject({ messageType: 'IMAGE', content: null });
    expect(message.metadata).toEqual({
      platformType: 'image',
      url,
      attachments: [{ type: 'image', url }],
      sentAt: FIXTURE_TIME,
    });
  });

  it('stores a story mention as text with its link', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const message = await onlyMessageOf(conversation, instagramDelivery('ig_story_mention_fixture.json', conversation));
    const url = fixtureJson<{ entry: { messaging: { message: { attachments: { payload: { url: string } }[] } }[] }[] }>(
      'ig_story_mention_fixture.json',
    ).entry[0]!.messaging[0]!.message.attachments[0]!.payload.url;
    expect(message).toMatchObject({ messageType: 'TEXT', content: url });
    expect(message.metadata).toEqual({
      platformType: 'story_mention',
      url,
      attachments: [{ type: 'story_mention', url }],
      sentAt: FIXTURE_TIME,
    });
  });

  it("stores a shared post as text with the post's title, id and link", async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const message = await onlyMessageOf(conversation, instagramDelivery('ig_post_share_attachment.json', conversation));
    const url = 'https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=18139494541428835={SIGNATURE}';
    const title =
      'Build a workspace that attracts talent and supports your team with solutions made for growing businesses.';
    expect(message).toMatchObject({ messageType: 'TEXT', content: title });
    expect(message.metadata).toEqual({
      platformType: 'share',
      url,
      attachments: [{ type: 'share', ig_post_media_id: '18139494541428835', title, url }],
      sentAt: new Date(1761287294014).toISOString(),
    });
  });

  it('takes messages delivered on standby (another app holds the thread) like any other', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const body = instagramDelivery('ig_inbound_text.json', conversation, { text: 'while on standby' }).replace(
      '"messaging"',
      '"standby"',
    );
    const message = await onlyMessageOf(conversation, body);
    expect(message).toMatchObject({ userId: conversation.client.id, content: 'while on standby' });
  });
});

describe('what the customer does to their messages', () => {
  it('adds a reaction and takes it back (react / unreact)', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    await deliver(
      server,
      conversation.integration,
      instagramDelivery('ig_inbound_text.json', conversation, { mid: 'm1' }),
    );
    const [target] = await channelMessages(server, conversation.channelId);
    const reactions = () =>
      prisma().messageReaction.findMany({ where: { messageId: target!.id }, select: { userId: true, emoji: true } });

    const react = await deliver(
      server,
      conversation.integration,
      instagramDelivery('ig_reaction_react.json', conversation, { mid: 'm1' }),
    );
    expect(react).toMatchObject({ status: 'PROCESSED', errors: null });
    expect(await reactions()).toEqual([{ userId: conversation.client.id, emoji: '❤️' }]);
    await deliver(
      server,
      conversation.integration,
      instagramDelivery('ig_reaction_unreact.json', conversation, { mid: 'm1' }),
    );
    expect(await reactions()).toEqual([]);

    const reaction = (kind: string) => ({
      type: 'reaction',
      kind,
      messageId: target!.id,
      emoji: '❤️',
      userId: conversation.client.id,
    });
    expect(await events.settled(conversation.channelId, 3)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED' }),
      reaction('ADDED'),
      reaction('REMOVED'),
    ]);
  });

  it('unsending (is_deleted) leaves a tombstone without content, announced as DELETED', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    await deliver(
      server,
      conversation.integration,
      instagramDelivery('ig_inbound_text.json', conversation, { mid: 'm-unsent', text: 'oops' }),
    );
    const unsend = await deliver(
      server,
      conversation.integration,
      instagramDelivery('ig_message_deleted.json', conversation, { mid: 'm-unsent' }),
    );
    expect(unsend).toMatchObject({ status: 'PROCESSED', errors: null });
    const [message] = await channelMessages(server, conversation.channelId);
    expect(message).toMatchObject({ content: null, metadata: null, externalMessageId: 'm-unsent' });
    expect(message!.deletedAt).not.toBeNull();
    expect(await events.settled(conversation.channelId, 2)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: message!.id, content: 'oops' }),
      expect.objectContaining({ type: 'message', kind: 'DELETED', messageId: message!.id, content: null }),
    ]);
  });

  it("ignores a read receipt of the customer's own message, or of one this server never saw", async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    await deliver(
      server,
      conversation.integration,
      instagramDelivery('ig_inbound_text.json', conversation, { mid: 'own' }),
    );
    for (const mid of ['own', 'sent-from-elsewhere']) {
      const seen = await deliver(
        server,
        conversation.integration,
        instagramDelivery('ig_messaging_seen.json', conversation, { mid }),
      );
      expect(seen).toMatchObject({ status: 'PROCESSED', errors: null });
    }
    const [message] = await channelMessages(server, conversation.channelId);
    expect(await prisma().messageUserStatus.findMany({ where: { messageId: message!.id } })).toEqual([]);
    expect(await events.settled(conversation.channelId, 1)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED' }),
    ]);
  });
});

describe('echoes of messages the business sent from elsewhere', () => {
  const echoMid = fixtureJson<{ entry: { messaging: { message: { mid: string } }[] }[] }>('ig_echo_real_capture.json')
    .entry[0]!.messaging[0]!.message.mid;

  it("shows staff what was sent from the Instagram app, as the integration's owner, and never sends it back", async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const message = await onlyMessageOf(
      conversation,
      instagramDelivery('ig_echo_real_capture.json', conversation),
      org.admin.id,
    );
    expect(message).toMatchObject({
      userId: org.admin.id,
      content: 'test',
      messageSource: 'INSTAGRAM',
      externalMessageId: echoMid,
      metadata: { platformType: 'text', sentOutsideServer: true, sentAt: new Date(1729604868365).toISOString() },
    });
    expect(await prisma().outboundMessage.count({ where: { messageId: message.id } })).toBe(0);
  });

  it('ignores an echo of a message to someone who is not a client here', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const toStranger = instagramDelivery('ig_echo_real_capture.json', conversation).replaceAll(
      conversation.platformUserId!,
      '999000111222333',
    );
    expect(await deliver(server, conversation.integration, toStranger)).toMatchObject({
      status: 'PROCESSED',
      errors: null,
    });
    expect(await prisma().message.count({ where: { platformIntegrationId: conversation.integration.id } })).toBe(0);
  });
});
