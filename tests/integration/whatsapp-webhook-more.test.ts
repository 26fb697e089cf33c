import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import {
  channelMessages,
  type Conversation,
  customerWrites,
  deliver,
  openConversation,
  post,
  processed,
  whatsAppDelivery,
} from '../support/conversations.js';
import { dataOf, gql, subscribe, wsClient } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// The rest of Meta's WhatsApp webhook, signed and in Meta's documented shapes, on two instances that share the
// database (as behind a load balancer): edits (also delivered at the same moment as their original, to either
// instance), revokes, number changes, referrals, orders, flow answers, the inner type of unsupported messages,
// and errors Meta attaches to a change or a message, kept with the delivery for admins.

const Deliveries = graphql(`
  query WebhookDeliveryErrors($integrationId: ID) {
    webhookDeliveries(platformIntegrationId: $integrationId, first: 50) {
      edges {
        node {
          id
          status
          errors
        }
      }
    }
  }
`);

const OneMessage = graphql(`
  query WebhookMessage($id: ID!) {
    message(id: $id) {
      cursor
      content
      edited
      editedAt
      deleted
      metadata
    }
  }
`);

const ConversationEvents = graphql(`
  subscription ConversationEventsAcrossInstances($after: String) {
    viewerEvents(after: $after) {
      __typename
      ... on MessageEvent {
        message {
          id
        }
      }
      ... on ChannelEvent {
        channelKind: kind
        channelId
        channel {
          conversationStatus
        }
      }
    }
  }
`);

const Resolve = graphql(`
  mutation ResolveAcrossInstances($input: SetConversationStatusInput!) {
    setConversationStatus(input: $input) {
      id
    }
  }
`);

let first: TestServer;
let second: TestServer;
let org: TestOrganization;
let events: LiveEvents;

beforeAll(async () => {
  [first, second] = await Promise.all([startServer({ redis: true }), startServer({ redis: true })]);
  org = await seedOrganization(first);
  events = await liveEvents(first, org);
});
afterAll(async () => {
  await events?.close();
  await Promise.all([first?.stop(), second?.stop()]);
});

const wamid = () => `wamid.${randomBytes(8).toString('hex')}`;
const open = () => openConversation(first, org, 'WHATSAPP');
/** A fixture from the conversation's customer, about the message `original` (the fixtures' wamid.xyzxyz). */
const fixture = (name: string, conversation: Conversation, original: string, replace: Record<string, string> = {}) =>
  whatsAppDelivery(name, conversation, { replace: { 'wamid.xyzxyz': original, ...replace } });
const asAdmin = async (id: string) =>
  dataOf(await gql(first.graphqlUrl, OneMessage, { id }, { token: org.admin.token })).message!;
const byExternalId = (conversation: Conversation, externalMessageId: string) =>
  first.app.db.prisma.message.findUniqueOrThrow({
    where: {
      platformIntegrationId_externalMessageId: {
        platformIntegrationId: conversation.integration.id,
        externalMessageId,
      },
    },
  });

describe('edits and revokes', () => {
  it('an edit changes the message, marks it edited and announces UPDATED; a revoke deletes it', async () => {
    const conversation = await open();
    const original = wamid();
    expect(
      (await deliver(first, conversation.integration, fixture('wa_inbound_text.json', conversation, original))).status,
    ).toBe('PROCESSED');
    const stored = await byExternalId(conversation, original);
    const edit = fixture('wa_inbound_edit.json', conversation, original, { 'wamid.edit1': wamid() });
    expect((await deliver(first, conversation.integration, edit)).status).toBe('PROCESSED');
    expect(await asAdmin(stored.id)).toMatchObject({ content: 'Edited Body Text', edited: true, deleted: false });
    expect(await events.settled(conversation.channelId, 2)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: stored.id, content: 'Body Text' }),
      expect.objectContaining({ type: 'message', kind: 'UPDATED', messageId: stored.id, content: 'Edited Body Text' }),
    ]);
    // The same edit again (Meta redelivers) changes nothing.
    await deliver(first, conversation.integration, `${edit}\n`);
    expect(await events.settled(conversation.channelId, 2)).toHaveLength(2);

    const revoke = fixture('wa_inbound_revoke.json', conversation, original, { 'wamid.revoke1': wamid() });
    expect((await deliver(first, conversation.integration, revoke)).status).toBe('PROCESSED');
    expect(await asAdmin(stored.id)).toMatchObject({ content: null, deleted: true });
  });

  it('an edit and its original delivered at the same moment, to two instances, in either order, end edited', async () => {
    const conversation = await open();
    const originals = Array.from({ length: 6 }, () => wamid());
    await Promise.all(
      originals.map(async (original, index) => {
        const text = fixture('wa_inbound_text.json', conversation, original);
        const edit = fixture('wa_inbound_edit.json', conversation, original, { 'wamid.edit1': wamid() });
        // Alternate which instance gets which, and which is posted first.
        const [a, b] = index % 2 ? [first, second] : [second, first];
        const posts =
          index % 3
            ? [post(a, conversation.integration, text), post(b, conversation.integration, edit)]
            : [post(b, conversation.integration, edit), post(a, conversation.integration, text)];
        const answers = await Promise.all(posts);
        expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
        const outcomes = await Promise.all([
          processed(first, conversation.integration, text),
          processed(first, conversation.integration, edit),
        ]);
        expect(outcomes.map((outcome) => outcome.status)).toEqual(['PROCESSED', 'PROCESSED']);
      }),
    );
    const stored = await channelMessages(first, conversation.channelId);
    expect(stored).toHaveLength(originals.length);
    for (const original of originals) {
      const message = stored.find((candidate) => candidate.externalMessageId === original);
      expect(message).toMatchObject({ content: 'Edited Body Text', deletedAt: null });
      expect(message?.editedAt).not.toBeNull();
    }
  });
});

describe("the customer's number changes", () => {
  it('the link follows the new number, and the old one no longer routes', async () => {
    const conversation = await open();
    const oldNumber = conversation.platformUserId!;
    const change = fixture('wa_system_user_changed_number.json', conversation, wamid(), {
      'wamid.system1': wamid(),
      '972555000111': '972555' + randomBytes(3).readUIntBE(0, 3).toString().padStart(6, '0').slice(0, 6),
    });
    const newNumber = /"new_wa_id": "(\d+)"/.exec(change)![1]!;
    expect((await deliver(first, conversation.integration, change)).status).toBe('PROCESSED');
    const link = await first.app.db.prisma.clientPlatformLink.findUniqueOrThrow({
      where: { id: conversation.linkId! },
    });
    expect(link.platformUserId).toBe(newNumber);

    const fromNew = await customerWrites(first, { ...conversation, platformUserId: newNumber }, { text: 'new phone' });
    expect(fromNew).toMatchObject({ channelId: conversation.channelId, userId: conversation.client.id });
    // Whoever has the old number now is someone else (another business-scoped id): not this client.
    const stranger = {
      ...conversation,
      platformUserId: oldNumber,
      scopedUserId: `US.${randomBytes(8).toString('hex')}`,
    };
    const fromOld = fixture('wa_inbound_text.json', stranger, wamid());
    const refused = await deliver(first, conversation.integration, fromOld);
    expect(refused.status).toBe('FAILED');
    expect(refused.errors).toEqual([expect.objectContaining({ kind: 'unroutable' })]);
  });
});

describe('what a customer message carries', () => {
  it('keeps a referral, an order and a flow answer in metadata, readable by staff', async () => {
    const conversation = await open();
    const referral = wamid();
    await deliver(first, conversation.integration, fixture('wa_inbound_referral.json', conversation, referral));
    const ad = await asAdmin((await byExternalId(conversation, referral)).id);
    expect(ad.content).toBe('Hi, I saw your ad');
    expect(ad.metadata).toMatchObject({
      referral: {
        source_type: 'ad',
        source_id: '120212345678',
        headline: 'Summer sale',
        ctwa_clid: 'ARAkLkA8rmlFeiCktEJQ',
      },
    });

    const order = wamid();
    await deliver(first, conversation.integration, fixture('wa_inbound_order.json', conversation, order));
    const ordered = await asAdmin((await byExternalId(conversation, order)).id);
    expect(ordered.content).toBe('Please deliver tomorrow');
    expect(ordered.metadata).toMatchObject({
      platformType: 'order',
      order: {
        catalogId: '1234567890',
        productItems: [
          { product_retailer_id: 'sku-1', quantity: 2, item_price: 12.5, currency: 'USD' },
          { product_retailer_id: 'sku-7', quantity: 1, item_price: 3, currency: 'USD' },
        ],
      },
    });

    const flow = wamid();
    await deliver(first, conversation.integration, fixture('wa_inbound_nfm_reply.json', conversation, flow));
    const answered = await asAdmin((await byExternalId(conversation, flow)).id);
    expect(answered.content).toBe('Sent');
    expect(answered.metadata).toMatchObject({
      interactive: { type: 'nfm_reply', name: 'flow', response: { delivery_date: '2026-12-01', size: 'M' } },
    });
  });

  it("keeps the inner type of an unsupported message, and Meta's errors with the delivery for admins", async () => {
    const conversation = await open();
    const unsupported = wamid();
    const delivery = await deliver(
      first,
      conversation.integration,
      fixture('wa_inbound_unsupported_typed.json', conversation, unsupported),
    );
    const kept = await asAdmin((await byExternalId(conversation, unsupported)).id);
    expect(kept.metadata).toMatchObject({ unsupported: true, unsupportedType: 'video_note' });

    const changeErrors = fixture('wa_change_errors.json', conversation, wamid());
    const withErrors = await deliver(first, conversation.integration, changeErrors);
    const listed = dataOf(
      await gql(
        first.graphqlUrl,
        Deliveries,
        { integrationId: conversation.integration.id },
        { token: org.admin.token },
      ),
    ).webhookDeliveries.edges.map((edge) => edge.node);
    // Applied (PROCESSED), with Meta's errors where admins see them.
    expect(listed.find((node) => node.id === delivery.id)).toMatchObject({
      status: 'PROCESSED',
      errors: [
        expect.objectContaining({ kind: 'platform', reason: expect.stringContaining('131051: Message type unknown') }),
      ],
    });
    expect(listed.find((node) => node.id === withErrors.id)).toMatchObject({
      status: 'PROCESSED',
      errors: [
        expect.objectContaining({
          kind: 'platform',
          path: 'entry[0].changes[0].value.errors',
          reason: expect.stringContaining('131014'),
        }),
      ],
    });
  });
});

describe('conversation state across instances', () => {
  it("a status set on one instance, and the client's message that reopens it on the other, reach an admin subscribed on the other", async () => {
    const conversation = await open();
    // Subscribed after a message of the customer's: what follows reaches the admin even before it is live.
    const start = await asAdmin((await customerWrites(first, conversation)).id);
    const socket = wsClient(second.wsUrl, org.admin.token);
    const live = subscribe(socket, ConversationEvents, { after: start.cursor });
    try {
      const probe = await customerWrites(first, conversation);
      await live.waitFor((events) =>
        events.some(
          (event) => event.viewerEvents.__typename === 'MessageEvent' && event.viewerEvents.message.id === probe.id,
        ),
      );
      dataOf(
        await gql(
          first.graphqlUrl,
          Resolve,
          { input: { channelId: conversation.channelId, status: 'RESOLVED' } },
          { token: org.admin.token },
        ),
      );
      // The customer writes again, through the other instance: the conversation reopens.
      const text = fixture('wa_inbound_text.json', conversation, wamid());
      expect((await post(second, conversation.integration, text)).status).toBe(200);
      expect((await processed(first, conversation.integration, text)).status).toBe('PROCESSED');
      const changes = (events: typeof live.events) =>
        events.flatMap((event) =>
          event.viewerEvents.__typename === 'ChannelEvent' && event.viewerEvents.channelId === conversation.channelId
            ? [event.viewerEvents.channelKind]
            : [],
        );
      await live.waitFor((events) => changes(events).length >= 2);
      expect(changes(live.events)).toEqual(['UPDATED', 'UPDATED']);
      const channel = await first.app.db.prisma.channel.findUniqueOrThrow({ where: { id: conversation.channelId } });
      expect(channel.conversationStatus).toBe('OPEN');
    } finally {
      live.stop();
      await socket.dispose();
    }
  });
});
