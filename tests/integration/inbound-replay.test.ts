import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { channelMessages, deliver, openConversation, whatsAppDelivery } from '../support/conversations.js';
import { dataOf, gql } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/webhooks.js';
import { ReplayWebhookDelivery } from '../support/documents.js';

// A delivery that cannot take effect yet (its sender is not linked, or their client has no channel) is kept,
// FAILED with the reason, for admins to see; once the cause is fixed it is replayed, automatically when the
// sender links by sending their code, and on request, and its messages then appear, once.

const FailedDeliveries = graphql(`
  query FailedDeliveries($platformIntegrationId: ID) {
    webhookDeliveries(status: FAILED, platformIntegrationId: $platformIntegrationId) {
      edges {
        node {
          id
          status
          attempts
          errors
        }
      }
    }
  }
`);

const IssueLinkCode = graphql(`
  mutation IssueLinkCode($input: CreateClientPlatformLinkInput!) {
    createClientPlatformLink(input: $input) {
      id
      verificationCode
    }
  }
`);

const AssignLateClient = graphql(`
  mutation AssignLateClient($input: AssignClientToChannelInput!) {
    assignClientToChannel(input: $input) {
      id
    }
  }
`);

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

const asAdmin = () => ({ token: org.admin.token });
const failedOf = async (integrationId: string) =>
  dataOf(
    await gql(server.graphqlUrl, FailedDeliveries, { platformIntegrationId: integrationId }, asAdmin()),
  ).webhookDeliveries.edges.map((edge) => edge.node);
const replay = async (id: string) =>
  dataOf(await gql(server.graphqlUrl, ReplayWebhookDelivery, { id }, asAdmin())).replayWebhookDelivery;

describe('an unknown sender', () => {
  it('is FAILED as unroutable, listed for admins, and replayed by itself once they send their link code', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP', { linked: false });
    const { integration } = conversation;
    const early = await deliver(
      server,
      integration,
      whatsAppDelivery('wa_inbound_text.json', conversation, {
        replace: { 'Body Text': 'hello, anyone?', 'wamid.xyzxyz': 'wamid.early' },
      }),
    );
    const unroutable = {
      kind: 'unroutable',
      path: 'entry[0].changes[0].value.messages[0]',
      reason: 'sender is not linked to a client',
      customer: { platformUserId: conversation.platformUserId, scopedUserId: conversation.scopedUserId },
    };
    expect(early).toMatchObject({ status: 'FAILED', attempts: 1, errors: [unroutable] });
    expect(await failedOf(integration.id)).toEqual([
      { id: early.id, status: 'FAILED', attempts: 1, errors: [unroutable] },
    ]);
    expect(await channelMessages(server, conversation.channelId)).toEqual([]);

    // The admin issues a code; the customer sends it from WhatsApp, a while later.
    const { verificationCode } = dataOf(
      await gql(
        server.graphqlUrl,
        IssueLinkCode,
        { input: { clientUserId: conversation.client.id, platformIntegrationId: integration.id } },
        asAdmin(),
      ),
    ).createClientPlatformLink;
    const withCode = await deliver(
      server,
      integration,
      whatsAppDelivery('wa_inbound_text.json', conversation, {
        replace: { 'Body Text': `my code is ${verificationCode}`, 'wamid.xyzxyz': 'wamid.code' },
        at: new Date(1697043300_000),
      }),
    );
    expect(withCode).toMatchObject({ status: 'PROCESSED', errors: null });
    const replayed = await waitFor(
      async () => {
        const row = await server.app.db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id: early.id } });
        return row.status === 'PROCESSED' ? row : null;
      },
      10_000,
      'the early delivery to be replayed',
    );
    expect(replayed).toMatchObject({ attempts: 2, errors: null });

    const messages = await channelMessages(server, conversation.channelId);
    expect(messages.map((message) => [message.content, message.userId, message.externalMessageId])).toEqual([
      [`my code is ${verificationCode}`, conversation.client.id, 'wamid.code'],
      ['hello, anyone?', conversation.client.id, 'wamid.early'],
    ]);
    expect(await events.settled(conversation.channelId, 2)).toEqual(
      messages.map((message) => expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: message.id })),
    );

    // Replaying it once more, by hand, changes nothing.
    expect(await replay(early.id)).toEqual({ id: early.id, status: 'PROCESSED', attempts: 3, errors: null });
    expect(await channelMessages(server, conversation.channelId)).toHaveLength(2);
    expect(await events.settled(conversation.channelId, 2)).toHaveLength(2);
    expect(await failedOf(integration.id)).toEqual([]);
  });
});

describe('a client without a channel', () => {
  it('is FAILED with the reason, and replayWebhookDelivery applies it once they are assigned', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP', { assigned: false });
    const delivery = await deliver(
      server,
      conversation.integration,
      whatsAppDelivery('wa_inbound_text.json', conversation),
    );
    expect(delivery).toMatchObject({
      status: 'FAILED',
      errors: [
        expect.objectContaining({
          kind: 'unroutable',
          reason: `client ${conversation.client.id} is inactive or has no channel assigned`,
        }),
      ],
    });

    dataOf(
      await gql(
        server.graphqlUrl,
        AssignLateClient,
        { input: { clientUserId: conversation.client.id, channelId: conversation.channelId } },
        asAdmin(),
      ),
    );
    expect(await replay(delivery.id)).toEqual({ id: delivery.id, status: 'PROCESSED', attempts: 2, errors: null });
    const messages = await channelMessages(server, conversation.channelId);
    expect(messages.map((message) => [message.content, message.userId])).toEqual([
      ['Body Text', conversation.client.id],
    ]);
    expect(await events.settled(conversation.channelId, 1)).toEqual([
      expect.objectContaining({ type: 'message', kind: 'CREATED', messageId: messages[0]!.id }),
    ]);
  });
});
