import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  channelMessages,
  deliver,
  openConversation,
  whatsAppDelivery,
  type Conversation,
} from '../support/conversations.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// Every WhatsApp webhook shape Meta documents (tests/fixtures/meta), posted signed to a real server, from a
// customer linked to a client: the rows it leaves and what a subscriber of the organization sees, exactly.

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
const sentAt = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** Delivers one fixture and expects it to leave exactly one message, announced once; returns that message. */
async function onlyMessageOf(conversation: Conversation, body: string) {
  const delivery = await deliver(server, conversation.integration, body);
  expect(delivery).toMatchObject({ status: 'PROCESSED', attempts: 1 });
  // Meta's own errors about a message (an unsupported one's) are kept with the delivery; nothing else failed.
  expect(((delivery.errors ?? []) as { kind: string }[]).filter((error) => error.kind !== 'platform')).toEqual([]);
  const messages = await channelMessages(server, conversation.channelId);
  expect(messages).toHaveLength(1);
  const [message] = messages;
  expect(await events.settled(conversation.channelId, 1)).toEqual([
    {
      type: 'message',
      kind: 'CREATED',
      messageId: message!.id,
      content: message!.content,
      authorId: conversation.client.id,
    },
  ]);
  return message!;
}

describe('messages', () => {
  it("stores a text as the client's message in their channel, with Meta's id, and notes when they wrote", async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const message = await onlyMessageOf(conversation, whatsAppDelivery('wa_inbound_text.json', conversation));
    expect(message).toMatchObject({
      organizationId: org.id,
      channelId: conversation.channelId,
      userId: conversation.client.id,
      content: 'Body Text',
      messageType: 'TEXT',
      messageSource: 'WHATSAPP',
      platformIntegrationId: conversation.integration.id,
      externalMessageId: 'wamid.xyzxyz',
      threadId: null,
      deletedAt: null,
      metadata: { platformType: 'text', sentAt: sentAt(1697043223) },
    });
    const link = await prisma().clientPlatformLink.findUniqueOrThrow({ where: { id: conversation.linkId! } });
    // Meta's time, which the customer-service window runs from; and the business-scoped id Meta sent along.
    expect(link.lastInboundAt).toEqual(new Date(1697043223 * 1000));
    expect(link.platformScopedUserId).toBe(conversation.scopedUserId);
  });

  // [fixture, message type, content, metadata (sentAt aside)]: media ids, mime types, captions and file names.
  const shapes: [string, string, string | null, Record<string, unknown>][] = [
    [
      'wa_inbound_image.json',
      'IMAGE',
      null,
      { platformType: 'image', mediaId: '65463453', mimeType: 'image/jpeg', sha256: '4654+8g=' },
    ],
    [
      'wa_inbound_image_with_url.json',
      'IMAGE',
      null,
      {
        platformType: 'image',
        mediaId: '65463453',
        mimeType: 'image/jpeg',
        sha256: '4654+8g=',
        url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=65463453&source=webhook&ext=487r9re&hash=heiwchueowbcew-dnedcw',
      },
    ],
    [
      'wa_inbound_audio_voice.json',
      'AUDIO',
      null,
      {
        platformType: 'audio',
        mediaId: '1234567890987654321',
        mimeType: 'audio/ogg; codecs=opus',
        sha256: 'm04pFf2ERdaopTyFkGPA0+bX3i+YY2dYgVFwOgDLSDI=',
        voice: true,
      },
    ],
    [
      'wa_inbound_audio_file.json',
      'AUDIO',
      null,
      {
        platformType: 'audio',
        mediaId: '1234567890987654321',
        mimeType: 'audio/ogg; codecs=opus',
        sha256: 'E3dxS/PdYZE7ppA3pQ4mpCFaXBJ8pX4SRN/dsfvds/iPGA=',
        voice: false,
        forwarded: true,
      },
    ],
    [
      'wa_inbound_document.json',
      'FILE',
      'caption',
      {
        platformType: 'document',
        mediaId: '1234567890987654321',
        mimeType: 'application/pdf',
        sha256: 'grwfwe/ZPx0wAbdfbdeFUNItPZ0RylL8gGUvdt3YFqc18SY=',
        caption: 'caption',
        filename: 'filename.pdf',
        forwarded: true,
      },
    ],
    [
      'wa_inbound_interactive_button_reply.json',
      'TEXT',
      'title',
      { platformType: 'interactive', interactive: { type: 'button_reply', id: 'callback_data', title: 'title' } },
    ],
    [
      'wa_inbound_interactive_list_reply.json',
      'TEXT',
      'title',
      {
        platformType: 'interactive',
        interactive: { type: 'list_reply', id: 'callback_data', title: 'title', description: 'description' },
      },
    ],
    [
      'wa_inbound_template_quick_reply_button.json',
      'TEXT',
      'title',
      { platformType: 'button', button: { text: 'title', payload: 'callback_data' } },
    ],
    [
      // Kept, so staff see that the customer sent something, and flagged with Meta's explanation.
      'wa_inbound_unsupported.json',
      'TEXT',
      null,
      {
        platformType: 'unsupported',
        unsupported: true,
        errors: [
          {
            code: '131051',
            title: 'Message type unknown',
            message: 'Message type unknown',
            details: 'Message type is currently not supported.',
          },
        ],
      },
    ],
  ];

  it.each(shapes)('%s', async (fixture, messageType, content, metadata) => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const body = whatsAppDelivery(fixture, conversation);
    const timestamp = Number(/"timestamp": "(\d+)"/.exec(body)![1]);
    const message = await onlyMessageOf(conversation, body);
    expect(message).toMatchObject({ userId: conversation.client.id, messageType, content, messageSource: 'WHATSAPP' });
    expect(message.metadata).toEqual({ ...metadata, sentAt: sentAt(timestamp) });
  });

  it('knows a customer without a visible number by their business-scoped id', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP', { scopedOnly: true });
    const body = whatsAppDelivery('wa_inbound_text_bsuid_only_constructed.json', conversation);
    expect(body).not.toContain('"from":');
    const message = await onlyMessageOf(conversation, body);
    expect(message).toMatchObject({ userId: conversation.client.id, content: 'Body Text' });
  });

  it('stores every message of a batched delivery, in order', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    // The constructed fixture gives both of its messages one id; Meta's ids are unique per message.
    const body = JSON.parse(whatsAppDelivery('wa_batched_constructed.json', conversation));
    body.entry[0].changes[0].value.messages[1].id = 'wamid.second';
    const delivery = await deliver(server, conversation.integration, JSON.stringify(body));
    // Its statuses are of a message the customer sent, not one of ours: nothing to track.
    expect(delivery).toMatchObject({ status: 'PROCESSED', errors: null });
    const messages = await channelMessages(server, conversation.channelId);
    expect(messages.map((message) => [message.externalMessageId, message.messageType, message.content])).toEqual([
      ['wamid.xyzxyz', 'TEXT', 'Body Text'],
      ['wamid.second', 'IMAGE', null],
    ]);
    expect(await prisma().messageUserStatus.count({ where: { messageId: { in: messages.map((m) => m.id) } } })).toBe(0);
    expect(await events.settled(conversation.channelId, 2)).toEqual(
      messages.map((message) => expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: message.id })),
    );
  });
});

describe('replies and reactions', () => {
  it('puts a reply (context.id) in the thread of the message it answers', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_text.json', conversation, { replace: { 'wamid.xyzxyz': 'wamid.xyzxyz==' } }),
    );
    const reply = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_reply_with_context.json', conversation),
    );
    expect(reply.status).toBe('PROCESSED');
    const [parent, answer] = await channelMessages(server, conversation.channelId);
    expect(answer).toMatchObject({ content: 'replied text', threadId: parent!.id, externalMessageId: 'wamid.xyzxyz' });
    expect((await events.settled(conversation.channelId, 2)).map((event) => event.messageId)).toEqual([
      parent!.id,
      answer!.id,
    ]);
  });

  it('keeps one reaction per customer and message: a new one replaces it, an empty one removes it', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const client = conversation.client.id;
    await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_text.json', conversation, { replace: { 'wamid.xyzxyz': 'wamid.yzxyzx=' } }),
    );
    const [target] = await channelMessages(server, conversation.channelId);
    const reactions = () =>
      prisma().messageReaction.findMany({ where: { messageId: target!.id }, select: { userId: true, emoji: true } });

    await deliver(server, conversation.integration, whatsAppDelivery('wa_inbound_reaction.json', conversation));
    expect(await reactions()).toEqual([{ userId: client, emoji: '😮' }]);
    const changed = whatsAppDelivery('wa_inbound_reaction.json', conversation, { replace: { '😮': '❤️' } });
    await deliver(server, conversation.integration, changed);
    expect(await reactions()).toEqual([{ userId: client, emoji: '❤️' }]);
    const removal = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_reaction_removed.json', conversation),
    );
    expect(removal).toMatchObject({ status: 'PROCESSED', errors: null });
    expect(await reactions()).toEqual([]);

    const reaction = (kind: string, emoji: string) => ({
      type: 'reaction',
      kind,
      messageId: target!.id,
      emoji,
      userId: client,
    });
    expect(await events.settled(conversation.channelId, 5)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: target!.id }),
      reaction('ADDED', '😮'),
      reaction('REMOVED', '😮'),
      reaction('ADDED', '❤️'),
      reaction('REMOVED', '❤️'),
    ]);
  });

  it('fails a reaction to a message nobody here knows, saying which, and stores nothing', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const delivery = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_reaction.json', conversation),
    );
    expect(delivery).toMatchObject({
      status: 'FAILED',
      errors: [
        {
          kind: 'unknown-target',
          path: 'entry[0].changes[0].value.messages[0]',
          reason: 'no known message has id wamid.yzxyzx=',
        },
      ],
    });
    expect(await channelMessages(server, conversation.channelId)).toEqual([]);
    expect(await events.settled(conversation.channelId, 0)).toEqual([]);
  });
});
