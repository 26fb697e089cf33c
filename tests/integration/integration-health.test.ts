import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { customerWrites, openConversation } from '../support/conversations.js';
import { graphError, graphSuccess } from '../support/fake-graph.js';
import { dataOf, gql, subscribe, wsClient } from '../support/graphql.js';
import { sendMessage, settledOutbound, startSendingWorld, type SendingWorld } from '../support/outbound.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';
import { waitFor } from '../support/webhooks.js';

// PlatformIntegration.health from Meta's answers to sends (the fake Graph API answers as Meta does): a refused
// token stops the sends at once until the token is updated, repeated failures show FAILING, admins are told
// live, and WhatsApp's per-recipient pair limit (131056) is retried later, never FAILED.

const Health = graphql(`
  query IntegrationsHealth {
    platformIntegrations {
      id
      health {
        status
        lastError
        checkedAt
      }
    }
  }
`);

const UpdateToken = graphql(`
  mutation UpdateIntegrationToken($input: UpdatePlatformIntegrationInput!) {
    updatePlatformIntegration(input: $input) {
      id
      health {
        status
        lastError
      }
    }
  }
`);

const HealthEvents = graphql(`
  subscription HealthEvents {
    viewerEvents {
      __typename
      ... on IntegrationHealthEvent {
        integrationId
        status
        previous
        lastError
        integration {
          id
        }
      }
    }
  }
`);

let world: SendingWorld;
let org: TestOrganization;

beforeAll(async () => {
  world = await startSendingWorld();
  org = await seedOrganization(world.server, { users: ['Agent'] });
}, SENDER_LOCK_WAIT_MS);
afterAll(async () => {
  await world?.stop();
});

const healthOf = async (integrationId: string) =>
  dataOf(await gql(world.server.graphqlUrl, Health, {}, { token: org.admin.token })).platformIntegrations.find(
    (integration) => integration.id === integrationId,
  )!.health;
const staffSends = async (channelId: string, content: string) =>
  dataOf(await sendMessage(world.server, org.admin, { channelId, content })).sendMessage;
const outboundOf = (messageId: string) =>
  world.server.app.db.prisma.outboundMessage.findFirstOrThrow({ where: { messageId } });

describe('integration health', () => {
  it('is TOKEN_INVALID at once when Meta refuses the token, stops sending, tells admins, and a new token resumes', async () => {
    const conversation = await openConversation(world.server, org, 'WHATSAPP');
    const phone = conversation.platformUserId!;
    let tokenValid = false;
    world.respondTo(phone, (request, nth) =>
      tokenValid
        ? graphSuccess(request, nth)
        : graphError(401, 190, 'Error validating access token: Session has expired on Tuesday'),
    );
    const adminSocket = wsClient(world.server.wsUrl, org.admin.token);
    const agentSocket = wsClient(world.server.wsUrl, org.users.Agent!.token);
    const adminEvents = subscribe(adminSocket, HealthEvents);
    const agentEvents = subscribe(agentSocket, HealthEvents);
    try {
      await customerWrites(world.server, conversation);
      // Both subscriptions are live once they have the admin's first message.
      const first = await staffSends(conversation.channelId, 'first');
      const hasMessage = (events: typeof adminEvents.events) =>
        events.some((event) => event.viewerEvents.__typename === 'MessageEvent');
      await adminEvents.waitFor(hasMessage);

      const refused = await waitFor(
        async () => {
          const health = await healthOf(conversation.integration.id);
          return health.status === 'TOKEN_INVALID' ? health : null;
        },
        10_000,
        'the integration to be TOKEN_INVALID',
      );
      expect(refused.lastError).toBe('190: Error validating access token: Session has expired on Tuesday');
      const told = await adminEvents.waitFor((events) =>
        events.some((event) => event.viewerEvents.__typename === 'IntegrationHealthEvent'),
      );
      expect(
        told.map((event) => event.viewerEvents).filter((event) => event.__typename === 'IntegrationHealthEvent'),
      ).toEqual([
        {
          __typename: 'IntegrationHealthEvent',
          integrationId: conversation.integration.id,
          status: 'TOKEN_INVALID',
          previous: 'OK',
          lastError: refused.lastError,
          integration: { id: conversation.integration.id },
        },
      ]);
      // The message waits (not FAILED, its try not counted), and the next one is not even tried.
      expect(await outboundOf(first.id)).toMatchObject({ status: 'PENDING', attempts: 0 });
      const second = await staffSends(conversation.channelId, 'second');
      const elsewhere = await openConversation(world.server, org, 'WHATSAPP');
      await customerWrites(world.server, elsewhere);
      const other = await staffSends(elsewhere.channelId, 'to another integration');
      // The sender has passed the second message by: it sent one queued after it, on a healthy integration.
      expect(await settledOutbound(world.server, other.id)).toMatchObject({ status: 'SENT' });
      expect(world.requestsTo(phone)).toHaveLength(1);
      expect(await outboundOf(second.id)).toMatchObject({ status: 'PENDING', attempts: 0 });

      // A new token: health is OK again and both messages go out.
      tokenValid = true;
      const updated = dataOf(
        await gql(
          world.server.graphqlUrl,
          UpdateToken,
          { input: { id: conversation.integration.id, accessToken: 'token-renewed-0123456789abcdef' } },
          { token: org.admin.token },
        ),
      ).updatePlatformIntegration;
      expect(updated.health).toEqual({ status: 'OK', lastError: null });
      expect(await settledOutbound(world.server, first.id)).toMatchObject({ status: 'SENT', attempts: 1 });
      expect(await settledOutbound(world.server, second.id)).toMatchObject({ status: 'SENT', attempts: 1 });
      expect(world.requestsTo(phone).map((request) => request.authorization)).toEqual([
        `Bearer ${conversation.integration.accessToken}`,
        'Bearer token-renewed-0123456789abcdef',
        'Bearer token-renewed-0123456789abcdef',
      ]);
      // Staff are not told about integrations.
      expect(agentEvents.events.filter((event) => event.viewerEvents.__typename === 'IntegrationHealthEvent')).toEqual(
        [],
      );
    } finally {
      adminEvents.stop();
      agentEvents.stop();
      await adminSocket.dispose();
      await agentSocket.dispose();
    }
  });

  it('is FAILING after repeated failures, and OK after the next send that succeeds', async () => {
    const conversation = await openConversation(world.server, org, 'WHATSAPP');
    const phone = conversation.platformUserId!;
    let failing = true;
    world.respondTo(phone, (request, nth) =>
      failing ? graphError(400, 131026, 'Message undeliverable') : graphSuccess(request, nth),
    );
    await customerWrites(world.server, conversation);
    for (let index = 0; index < 4; index++) {
      const message = await staffSends(conversation.channelId, `try ${index}`);
      expect(await settledOutbound(world.server, message.id)).toMatchObject({ status: 'FAILED' });
    }
    // Four failures in a row are not yet FAILING; the fifth is.
    expect((await healthOf(conversation.integration.id)).status).toBe('OK');
    const fifth = await staffSends(conversation.channelId, 'try 4');
    await settledOutbound(world.server, fifth.id);
    expect(await healthOf(conversation.integration.id)).toMatchObject({
      status: 'FAILING',
      lastError: '131026: Message undeliverable',
    });
    failing = false;
    const recovered = await staffSends(conversation.channelId, 'works again');
    expect(await settledOutbound(world.server, recovered.id)).toMatchObject({ status: 'SENT' });
    expect(await healthOf(conversation.integration.id)).toMatchObject({ status: 'OK', lastError: null });
  });

  it("retries Meta's pair rate limit (131056) later, without counting it as an attempt, and never fails for it", async () => {
    const conversation = await openConversation(world.server, org, 'WHATSAPP');
    const phone = conversation.platformUserId!;
    // More refusals than OUTBOX_MAX_ATTEMPTS (3): counted as attempts, they would end FAILED.
    world.respondTo(phone, (request, nth) =>
      nth < 3
        ? graphError(400, 131056, '(Business Account, Consumer Account) pair rate limit hit')
        : graphSuccess(request, nth),
    );
    await customerWrites(world.server, conversation);
    const message = await staffSends(conversation.channelId, 'paced');
    const row = await waitFor(
      async () => {
        const current = await outboundOf(message.id);
        return current.status === 'PENDING' ? null : current;
      },
      30_000,
      'the paced message to be sent',
    );
    expect(row).toMatchObject({ status: 'SENT', attempts: 1 });
    const times = world.requestsTo(phone).length;
    expect(times).toBe(4);
    expect((await healthOf(conversation.integration.id)).status).toBe('OK');
  }, 40_000);
});
