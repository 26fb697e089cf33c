import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  channelMessages,
  deliver,
  openConversation,
  post,
  processed,
  whatsAppDelivery,
} from '../support/conversations.js';
import { dataOf, gql } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { ReplayWebhookDelivery } from '../support/documents.js';

// Meta delivers the same event more than once, sometimes concurrently, and a delivery can be replayed: each
// message is still stored once and announced once.

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

const deliveriesOf = (integrationId: string) =>
  server.app.db.prisma.webhookDelivery.findMany({ where: { platformIntegrationId: integrationId } });

describe('the same delivery again', () => {
  it('is answered 200 "duplicate" and changes nothing', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const body = whatsAppDelivery('wa_inbound_text.json', conversation);
    await deliver(server, conversation.integration, body);
    expect(await post(server, conversation.integration, body)).toEqual({
      status: 200,
      text: JSON.stringify({ status: 'duplicate' }),
    });
    expect(await deliveriesOf(conversation.integration.id)).toEqual([
      expect.objectContaining({ status: 'PROCESSED', attempts: 1 }),
    ]);
    const messages = await channelMessages(server, conversation.channelId);
    expect(messages).toHaveLength(1);
    expect(await events.settled(conversation.channelId, 1)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: messages[0]!.id }),
    ]);
  });

  it('ten times at once is stored once, processed once, and yields one message and one event', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const body = whatsAppDelivery('wa_inbound_text.json', conversation);
    const answers = await Promise.all(Array.from({ length: 10 }, () => post(server, conversation.integration, body)));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    expect(answers.filter((answer) => answer.text.includes('"received"'))).toHaveLength(1);
    expect(await processed(server, conversation.integration, body)).toMatchObject({ status: 'PROCESSED', attempts: 1 });
    expect(await deliveriesOf(conversation.integration.id)).toHaveLength(1);
    const messages = await channelMessages(server, conversation.channelId);
    expect(messages).toHaveLength(1);
    expect(await events.settled(conversation.channelId, 1)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: messages[0]!.id }),
    ]);
  });

  it('replayed by an admin is processed again and changes nothing', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const delivery = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_text.json', conversation),
    );
    const replayed = dataOf(
      await gql(server.graphqlUrl, ReplayWebhookDelivery, { id: delivery.id }, { token: org.admin.token }),
    ).replayWebhookDelivery;
    expect(replayed).toEqual({ id: delivery.id, status: 'PROCESSED', attempts: 2, errors: null });
    expect(await channelMessages(server, conversation.channelId)).toHaveLength(1);
    expect(await events.settled(conversation.channelId, 1)).toHaveLength(1);
  });
});

describe('the same message in different deliveries', () => {
  it('ten deliveries carrying one message, sent at once to two instances, yield one message and one event', async () => {
    const second = await startServer();
    try {
      const conversation = await openConversation(server, org, 'WHATSAPP');
      // Different bytes (Meta's retries may differ, e.g. in the contact's profile), the same message id.
      const bodies = Array.from({ length: 10 }, (_, i) =>
        whatsAppDelivery('wa_inbound_text.json', conversation, { replace: { '"Test Name"': `"Test Name ${i}"` } }),
      );
      const answers = await Promise.all(
        bodies.map((body, i) => post(i % 2 ? second : server, conversation.integration, body)),
      );
      expect(answers.map((answer) => answer.text)).toEqual(Array(10).fill(JSON.stringify({ status: 'received' })));
      const deliveries = await Promise.all(bodies.map((body) => processed(server, conversation.integration, body)));
      expect(deliveries.map((delivery) => [delivery.status, delivery.errors])).toEqual(
        Array(10).fill(['PROCESSED', null]),
      );
      const messages = await channelMessages(server, conversation.channelId);
      expect(messages.map((message) => message.externalMessageId)).toEqual(['wamid.xyzxyz']);
      expect(await events.settled(conversation.channelId, 1)).toEqual([
        expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: messages[0]!.id }),
      ]);
    } finally {
      await second.stop();
    }
  });

  it('one message id twice in one delivery (as the constructed batch has it) is one message', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const delivery = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_batched_constructed.json', conversation),
    );
    expect(delivery).toMatchObject({ status: 'PROCESSED', errors: null });
    const messages = await channelMessages(server, conversation.channelId);
    expect(messages.map((message) => [message.externalMessageId, message.content])).toEqual([
      ['wamid.xyzxyz', 'Body Text'],
    ]);
    expect(await events.settled(conversation.channelId, 1)).toHaveLength(1);
  });
});

describe('changes to one reaction processed at once', () => {
  it('leave one reaction per customer and message, as announced, when two instances apply them together', async () => {
    const second = await startServer();
    try {
      const conversation = await openConversation(server, org, 'WHATSAPP');
      const client = conversation.client.id;
      // The race is between two instances' statements, so it is tried on several messages.
      for (let round = 0; round < 8; round++) {
        const target = `wamid.target-${round}`;
        await deliver(
          server,
          conversation.integration,
          whatsAppDelivery('wa_inbound_text.json', conversation, { replace: { 'wamid.xyzxyz': target } }),
        );
        const reactions = ['😮', '❤️'].map((emoji) =>
          whatsAppDelivery('wa_inbound_reaction.json', conversation, {
            replace: { 'wamid.yzxyzx=': target, '😮': emoji },
          }),
        );
        await Promise.all([
          post(server, conversation.integration, reactions[0]!),
          post(second, conversation.integration, reactions[1]!),
        ]);
        for (const body of reactions) await processed(server, conversation.integration, body);
      }
      const messages = await channelMessages(server, conversation.channelId);
      // Each message's CREATED, and at least one reaction event for each.
      const seen = await events.settled(conversation.channelId, messages.length * 2);
      for (const message of messages) {
        const rows = await server.app.db.prisma.messageReaction.findMany({ where: { messageId: message.id } });
        expect(rows.map((row) => row.userId)).toEqual([client]);
        // What subscribers were told adds up to what is stored.
        const told = new Set<string>();
        for (const event of seen.filter((each) => each.type === 'reaction' && each.messageId === message.id)) {
          if (event.type !== 'reaction') continue;
          if (event.kind === 'ADDED') told.add(event.emoji);
          else told.delete(event.emoji);
        }
        expect([...told]).toEqual([rows[0]!.emoji]);
      }
    } finally {
      await second.stop();
    }
  });
});
