import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type Conversation, channelMessages, customerWrites, openConversation } from '../support/conversations.js';
import { fixtureJson } from '../support/fixtures.js';
import { dataOf } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { sendMessage, type SendingWorld, settledOutbound, startSendingWorld } from '../support/outbound.js';
import { createIntegration, linkClient } from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';

// What staff write in a client's channel goes out through Meta's Send API (a fake Graph API inside the test),
// from the sendMessage mutation to the Graph request, Meta's answer and the client's status; the 24-hour
// customer-service window; what is queued for whom. Retries, failures, leases and restarts are in
// outbox-reliability.test.ts.

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
const HOUR = 3600_000;
const hoursAgo = (hours: number) => new Date(Date.now() - hours * HOUR);
const open = (platform: 'WHATSAPP' | 'INSTAGRAM' = 'WHATSAPP') => openConversation(server(), org, platform);
const statusOf = (messageId: string, userId: string) =>
  prisma().messageUserStatus.findUnique({ where: { messageId_userId: { messageId, userId } } });
/** A staff message (the admin's) that must have been accepted; returns it. */
const staffSends = async (input: Parameters<typeof sendMessage>[2]) =>
  dataOf(await sendMessage(server(), org.admin, input)).sendMessage;
/** The documented request body of a Meta fixture. */
const documented = (fixture: string) => fixtureJson<{ body: Record<string, unknown> }>(fixture).body;

describe('sending', () => {
  it("delivers sendMessage to the client's WhatsApp: Meta's id on the outbox row and the message, SENT, announced", async () => {
    const conversation = await open();
    const phone = conversation.platformUserId!;
    const inbound = await customerWrites(server(), conversation);
    const message = await staffSends({ channelId: conversation.channelId, content: 'Hello from the agent' });

    const row = await settledOutbound(server(), message.id);
    const { context: _replyContext, ...textBody } = documented('wa_send_text_request.json');
    expect(world.requestsTo(phone)).toEqual([
      {
        method: 'POST',
        path: `/v22.0/${conversation.businessAccountId}/messages`,
        authorization: `Bearer ${conversation.integration.accessToken}`,
        body: { ...textBody, to: phone },
      },
    ]);
    expect(row).toMatchObject({
      status: 'SENT',
      attempts: 1,
      lastError: null,
      lockedUntil: null,
      clientPlatformLinkId: conversation.linkId,
      externalMessageId: expect.stringMatching(/^wamid\.fake-/),
    });
    expect(await prisma().message.findUniqueOrThrow({ where: { id: message.id } })).toMatchObject({
      messageSource: 'INTERNAL',
      platformIntegrationId: conversation.integration.id,
      externalMessageId: row.externalMessageId,
    });
    expect(await statusOf(message.id, conversation.client.id)).toMatchObject({ status: 'SENT', errorCode: null });
    expect(await events.settled(conversation.channelId, 3)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: inbound.id }),
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: message.id, authorId: org.admin.id }),
      { type: 'status', messageId: message.id, status: 'SENT', userId: conversation.client.id },
    ]);
  });

  it("answers in the context of the customer's message, and sends media by link", async () => {
    const conversation = await open();
    const inbound = await customerWrites(server(), conversation);
    const reply = await staffSends({ channelId: conversation.channelId, content: 'answer', threadId: inbound.id });
    const image = await staffSends({
      channelId: conversation.channelId,
      content: 'look',
      messageType: 'IMAGE',
      metadata: { url: 'https://example.com/a.jpg', mimeType: 'image/jpeg', size: 1234 },
    });
    await settledOutbound(server(), reply.id);
    await settledOutbound(server(), image.id);
    const bodies = world.requestsTo(conversation.platformUserId!).map((request) => request.body);
    expect(bodies).toEqual([
      expect.objectContaining({
        type: 'text',
        text: { body: 'answer' },
        context: { message_id: inbound.externalMessageId },
      }),
      {
        ...documented('wa_send_image_request.json'),
        recipient_type: 'individual',
        to: conversation.platformUserId,
        image: { link: 'https://example.com/a.jpg', caption: 'look' },
      },
    ]);
  });

  it('sends on Instagram, tagged HUMAN_AGENT when the customer wrote more than a day ago', async () => {
    const recent = await open('INSTAGRAM');
    await customerWrites(server(), recent, { at: hoursAgo(1) });
    const soon = await staffSends({ channelId: recent.channelId, content: 'Hello from the agent' });
    expect(await settledOutbound(server(), soon.id)).toMatchObject({
      status: 'SENT',
      externalMessageId: expect.stringMatching(/^ig-mid-/),
    });
    expect(world.requestsTo(recent.platformUserId!)).toEqual([
      expect.objectContaining({
        path: '/ig/v22.0/me/messages',
        authorization: `Bearer ${recent.integration.accessToken}`,
        body: { ...documented('ig_send_text_request.json'), recipient: { id: recent.platformUserId } },
      }),
    ]);

    const days = await open('INSTAGRAM');
    await customerWrites(server(), days, { at: hoursAgo(72) });
    const text = "Reply sent 2-7 days after the user's last message";
    const late = await staffSends({ channelId: days.channelId, content: text });
    await settledOutbound(server(), late.id);
    expect(world.requestsTo(days.platformUserId!).map((request) => request.body)).toEqual([
      { ...documented('ig_send_text_human_agent_tag_request.json'), recipient: { id: days.platformUserId } },
    ]);
  });
});
describe('the customer-service window', () => {
  it('refuses a free-form WhatsApp message 24 hours after the customer last wrote, or before they ever did', async () => {
    const lapsed = await open();
    const wrote = hoursAgo(25);
    await customerWrites(server(), lapsed, { at: wrote });
    const refused = await sendMessage(server(), org.admin, { channelId: lapsed.channelId, content: 'too late' });
    expect(refused.data).toBeNull();
    expect(refused.errors).toEqual([
      expect.objectContaining({
        message: expect.stringMatching(/window is closed.*24 hours.*template/),
        extensions: expect.objectContaining({
          code: 'CONFLICT',
          reason: 'CUSTOMER_SERVICE_WINDOW_CLOSED',
          clients: [
            {
              clientUserId: lapsed.client.id,
              platform: 'WHATSAPP',
              windowClosedAt: new Date(Math.floor(wrote.getTime() / 1000) * 1000 + 24 * HOUR).toISOString(),
            },
          ],
        }),
      }),
    ]);
    // Nothing stored: only the customer's message is in the channel, and nothing is queued or sent.
    expect((await channelMessages(server(), lapsed.channelId)).map((message) => message.userId)).toEqual([
      lapsed.client.id,
    ]);
    expect(await prisma().outboundMessage.count({ where: { clientPlatformLinkId: lapsed.linkId! } })).toBe(0);

    const silent = await open();
    const never = await sendMessage(server(), org.admin, { channelId: silent.channelId, content: 'hello?' });
    expect(never.errors?.[0]?.extensions).toMatchObject({
      code: 'CONFLICT',
      reason: 'CUSTOMER_SERVICE_WINDOW_CLOSED',
      clients: [{ clientUserId: silent.client.id, platform: 'WHATSAPP', windowClosedAt: null }],
    });
    expect(await channelMessages(server(), silent.channelId)).toEqual([]);
    expect(world.requestsTo(lapsed.platformUserId!)).toEqual([]);
  });

  it('sends a WhatsApp template when the window is closed', async () => {
    const conversation = await open();
    await customerWrites(server(), conversation, { at: hoursAgo(48) });
    const { template } = documented('wa_send_template_request.json') as {
      template: { name: string; language: { code: string }; components: unknown[] };
    };
    const message = await staffSends({
      channelId: conversation.channelId,
      content: 'Your order #1234 is on its way, John',
      metadata: {
        template: { name: template.name, language: template.language.code, components: template.components },
      },
    });
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT' });
    expect(world.requestsTo(conversation.platformUserId!).map((request) => request.body)).toEqual([
      { ...documented('wa_send_template_request.json'), to: conversation.platformUserId },
    ]);
  });

  it('takes only a complete template (name and language) for one: anything else is free-form', async () => {
    const conversation = await open();
    await customerWrites(server(), conversation, { at: hoursAgo(30) });
    for (const template of [true, { name: 'order_update' }, { language: 'en_US' }]) {
      const refused = await sendMessage(server(), org.admin, {
        channelId: conversation.channelId,
        content: 'not really a template',
        metadata: { template },
      });
      expect(refused.errors?.[0]?.extensions).toMatchObject({
        code: 'CONFLICT',
        reason: 'CUSTOMER_SERVICE_WINDOW_CLOSED',
      });
    }
    expect(await channelMessages(server(), conversation.channelId)).toHaveLength(1);
  });

  it('is open for 24 hours after the last message on WhatsApp, 7 days on Instagram, per client', async () => {
    const { customerWindow } = server().app.services;
    const recent = await open();
    const wrote = new Date(Math.floor(hoursAgo(23).getTime() / 1000) * 1000);
    await customerWrites(server(), recent, { at: wrote });
    expect(await customerWindow.freeFormWindow(org.id, recent.channelId)).toEqual({
      allowed: true,
      recipients: [
        {
          clientUserId: recent.client.id,
          linkId: recent.linkId,
          platform: 'WHATSAPP',
          lastInboundAt: wrote,
          windowClosesAt: new Date(wrote.getTime() + 24 * HOUR),
          open: true,
        },
      ],
    });
    const instagram = await open('INSTAGRAM');
    await customerWrites(server(), instagram, { at: hoursAgo(6 * 24) });
    expect(await customerWindow.freeFormWindow(org.id, instagram.channelId)).toMatchObject({ allowed: true });
    const lapsed = await open('INSTAGRAM');
    await customerWrites(server(), lapsed, { at: hoursAgo(8 * 24) });
    expect(await customerWindow.freeFormWindow(org.id, lapsed.channelId)).toMatchObject({ allowed: false });
    // Another organization asking about this channel sees no recipients at all.
    const other = await seedOrganization(server());
    expect(await customerWindow.freeFormWindow(other.id, recent.channelId)).toEqual({ allowed: true, recipients: [] });
  });
});
describe('what is queued', () => {
  it('only staff messages, once, on the link the client most recently wrote from', async () => {
    const whatsApp = await open();
    const instagramIntegration = await createIntegration(server(), org, 'INSTAGRAM');
    const igsid = `${Date.now()}${randomBytes(2).readUInt16BE(0)}`;
    const igLink = await linkClient(server(), org, whatsApp.client, instagramIntegration, {
      platformUserId: igsid,
      scopedUserId: null,
    });
    const onInstagram: Conversation = {
      ...whatsApp,
      integration: instagramIntegration,
      linkId: igLink.id,
      platformUserId: igsid,
      scopedUserId: null,
    };
    await customerWrites(server(), whatsApp, { at: new Date(Date.now() - 60_000) });
    await customerWrites(server(), onInstagram, { at: new Date(Date.now() - 1_000) });

    const staff = await staffSends({ channelId: whatsApp.channelId, content: 'which app?' });
    const queued = await prisma().outboundMessage.findMany({ where: { messageId: staff.id } });
    expect(queued).toEqual([
      expect.objectContaining({ clientPlatformLinkId: igLink.id, platformIntegrationId: instagramIntegration.id }),
    ]);
    const fromClient = dataOf(
      await sendMessage(server(), whatsApp.client, { channelId: whatsApp.channelId, content: 'from the client' }),
    ).sendMessage;
    expect(await prisma().outboundMessage.count({ where: { messageId: fromClient.id } })).toBe(0);

    // Queueing the same message again (a retried transaction, say) adds nothing.
    const stored = (await server().app.services.messages.byId(org.id, staff.id))!;
    const again = await server().app.db.pool.connect();
    try {
      expect(await server().app.services.outbox.enqueueInTransaction(again, [stored])).toBe(0);
    } finally {
      again.release();
    }
    await settledOutbound(server(), staff.id);
    expect(world.requestsTo(igsid)).toHaveLength(1);
    expect(world.requestsTo(whatsApp.platformUserId!)).toEqual([]);
  });
});
