import { createHash } from 'node:crypto';
import { useFixture } from '../support/fixture.js';
import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { fixtureJson, fixtureText } from '../support/fixtures.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import {
  channelMessages,
  deliver,
  instagramDelivery,
  openConversation,
  post,
  processed,
  whatsAppDelivery,
} from '../support/conversations.js';
import { createIntegration, linkClient, type TestIntegration } from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer } from '../support/server.js';
import { capturingLogger, postWebhook, signatureOf, waitFor } from '../support/webhooks.js';
import { ReplayWebhookDelivery } from '../support/documents.js';

const Deliveries = graphql(`
  query Deliveries($status: WebhookDeliveryStatus, $platformIntegrationId: ID, $first: Int, $after: String) {
    webhookDeliveries(status: $status, platformIntegrationId: $platformIntegrationId, first: $first, after: $after) {
      edges {
        cursor
        node {
          id
          platform
          platformIntegrationId
          integration {
            id
          }
          status
          attempts
          errors
          rawBody
          receivedAt
          processedAt
        }
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`);

const capture = capturingLogger('warn');
const { server, org } = useFixture({ server: { logger: capture.logger }, organization: { clients: ['Cora', 'Cleo'] } });
let other: TestOrganization;
let whatsApp: TestIntegration;

beforeAll(async () => {
  other = await seedOrganization(server());
  whatsApp = await createIntegration(server(), org(), 'WHATSAPP', { appSecret: 'test_app_secret' });
});

const urlOf = (integration: { id: string; platform: string }) =>
  `${server().url}/webhooks/${integration.platform.toLowerCase()}/${integration.id}`;
const deliveriesOf = (integrationId: string) =>
  server().app.db.prisma.webhookDelivery.findMany({
    where: { platformIntegrationId: integrationId },
    orderBy: { receivedAt: 'asc' },
  });
const settled = (integrationId: string, count = 1) =>
  waitFor(
    async () => {
      const rows = await deliveriesOf(integrationId);
      return rows.length >= count && rows.every((row) => row.status !== 'RECEIVED') ? rows : null;
    },
    5_000,
    'deliveries to be processed',
  );

/** A fresh WhatsApp integration, so that each test counts only its own deliveries. */
const freshWhatsApp = () => createIntegration(server(), org(), 'WHATSAPP');

describe('verification handshake', () => {
  const handshake = (integration: TestIntegration, query: Record<string, string>) =>
    fetch(`${urlOf(integration)}?${new URLSearchParams(query)}`);

  it("answers the challenge as plain text when the token is the integration's", async () => {
    const response = await handshake(whatsApp, {
      'hub.mode': 'subscribe',
      'hub.challenge': '1158201444',
      'hub.verify_token': whatsApp.verifyToken,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await response.text()).toBe('1158201444');
  });

  it('refuses a wrong token, another mode, an unknown or inactive integration with 403', async () => {
    const query = { 'hub.mode': 'subscribe', 'hub.challenge': '42', 'hub.verify_token': whatsApp.verifyToken };
    expect((await handshake(whatsApp, { ...query, 'hub.verify_token': 'meatyhamhock' })).status).toBe(403);
    expect((await handshake(whatsApp, { ...query, 'hub.mode': 'unsubscribe' })).status).toBe(403);
    const { 'hub.verify_token': _omitted, ...withoutToken } = query;
    expect((await handshake(whatsApp, withoutToken)).status).toBe(403);
    expect(
      (await fetch(`${server().url}/webhooks/instagram/${whatsApp.id}?${new URLSearchParams(query)}`)).status,
    ).toBe(403);
    expect((await fetch(`${server().url}/webhooks/whatsapp/not-a-uuid?${new URLSearchParams(query)}`)).status).toBe(
      403,
    );
    const inactive = await freshWhatsApp();
    await server().app.services.integrations.deactivate(org().admin.session, inactive.id);
    expect((await handshake(inactive, { ...query, 'hub.verify_token': inactive.verifyToken })).status).toBe(403);
  });
});

describe('receiving deliveries', () => {
  it('stores the exact bytes signed per the test vector, answers 200, then processes them', async () => {
    const body = fixtureText('wa_inbound_text.json');
    const vectors = fixtureJson<{ vector_1: { 'X-Hub-Signature-256': string } }>('meta_signature_test_vectors.json');
    expect(signatureOf('test_app_secret', body)).toBe(vectors.vector_1['X-Hub-Signature-256']);
    const response = await postWebhook(urlOf(whatsApp), body, { signature: vectors.vector_1['X-Hub-Signature-256'] });
    expect(response).toEqual({ status: 200, text: JSON.stringify({ status: 'received' }) });
    const [delivery] = await settled(whatsApp.id);
    // Nobody is linked to the fixture's sender: kept, failed as unroutable, replayable.
    expect(delivery).toMatchObject({
      organizationId: org().id,
      platform: 'WHATSAPP',
      rawBody: body,
      status: 'FAILED',
      attempts: 1,
      errors: [expect.objectContaining({ kind: 'unroutable', reason: 'sender is not linked to a client' })],
    });
  });

  it('verifies escaped unicode over the raw bytes; the re-serialised signature is refused', async () => {
    const integration = await createIntegration(server(), org(), 'WHATSAPP', { appSecret: 'test_app_secret' });
    const vectors = fixtureJson<{ vector_2_escaped_unicode: Record<string, string> }>(
      'meta_signature_test_vectors.json',
    );
    const vector = vectors.vector_2_escaped_unicode;
    const raw = vector.raw_body_utf8!;
    expect(
      await postWebhook(urlOf(integration), raw, { signature: vector['signature_over_reserialized (MISMATCH)'] }),
    ).toMatchObject({ status: 401 });
    expect(
      await postWebhook(urlOf(integration), raw, { signature: vector['X-Hub-Signature-256_over_raw_bytes'] }),
    ).toMatchObject({ status: 200 });
    const [delivery] = await settled(integration.id);
    expect(delivery!.rawBody).toBe(raw);
  });

  it('refuses a missing or wrong signature with 401, stores nothing, and counts the rejection in the log', async () => {
    const integration = await freshWhatsApp();
    const body = fixtureText('wa_inbound_text.json');
    expect((await postWebhook(urlOf(integration), body, { signature: null })).status).toBe(401);
    expect((await postWebhook(urlOf(integration), body, { secret: 'not-the-app-secret' })).status).toBe(401);
    expect((await postWebhook(urlOf(integration), body, { signature: 'sha1=abc' })).status).toBe(401);
    expect(await deliveriesOf(integration.id)).toEqual([]);
    const rejections = capture
      .lines()
      .filter((line) => line.msg === 'webhook delivery rejected' && line.integrationId === integration.id);
    expect(rejections.map((line) => [line.reason, line.rejectedSinceStart])).toEqual([
      ['signature missing', 1],
      ['signature mismatch', 2],
      ['signature malformed', 3],
    ]);
    expect(JSON.stringify(capture.lines())).not.toContain(integration.appSecret);
  });

  it('answers 400 for a body that is not JSON, and stores nothing', async () => {
    const integration = await freshWhatsApp();
    for (const body of ['not json', '{"entry": [', Buffer.from([0x7b, 0xff, 0x7d])]) {
      const response = await postWebhook(urlOf(integration), body, { secret: integration.appSecret });
      expect(response).toEqual({ status: 400, text: JSON.stringify({ error: 'Body is not JSON' }) });
    }
    expect(await deliveriesOf(integration.id)).toEqual([]);
  });

  it('answers 404 for unknown, inactive and mismatched integrations', async () => {
    const body = fixtureText('wa_inbound_text.json');
    const inactive = await freshWhatsApp();
    await server().app.services.integrations.deactivate(org().admin.session, inactive.id);
    const urls = [
      `${server().url}/webhooks/whatsapp/00000000-0000-4000-8000-000000000000`,
      `${server().url}/webhooks/whatsapp/not-a-uuid`,
      `${server().url}/webhooks/instagram/${whatsApp.id}`,
      urlOf(inactive),
    ];
    for (const url of urls) expect((await postWebhook(url, body, { secret: whatsApp.appSecret })).status).toBe(404);
    expect((await postWebhook(urlOf(inactive), body, { secret: inactive.appSecret })).status).toBe(404);
  });

  it('answers 413 over 1 MiB, announced or not, without storing anything', async () => {
    const integration = await freshWhatsApp();
    const big = Buffer.alloc(1024 * 1024 + 1, 0x20);
    expect((await postWebhook(urlOf(integration), big, { secret: integration.appSecret })).status).toBe(413);
    // Chunked, with no content-length: refused once the limit is passed. (A well-formed signature: without one the
    // body is not read at all.)
    const status = await new Promise<number>((resolve, reject) => {
      const request = httpRequest(
        urlOf(integration),
        { method: 'POST', headers: { 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` } },
        (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        },
      );
      request.on('error', reject);
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const write = () => {
        while (sent < 2 * 1024 * 1024) {
          sent += chunk.length;
          if (!request.write(chunk)) return void request.once('drain', write);
        }
        request.end();
      };
      write();
    });
    expect(status).toBe(413);
    expect(await deliveriesOf(integration.id)).toEqual([]);
  });

  it('accepts JSON of an unexpected shape with 200 and fails it with the reason', async () => {
    const integration = await freshWhatsApp();
    const response = await postWebhook(urlOf(integration), '{"object":"page","entry":"nope"}', {
      secret: integration.appSecret,
    });
    expect(response.status).toBe(200);
    const [delivery] = await settled(integration.id);
    expect(delivery).toMatchObject({
      status: 'FAILED',
      errors: [
        {
          kind: 'shape',
          path: '(delivery)',
          reason: expect.stringMatching(/object: must be "whatsapp_business_account"; entry: /),
        },
      ],
    });
  });

  it('stores the same delivery once, even when it arrives concurrently', async () => {
    const integration = await freshWhatsApp();
    const body = fixtureText('wa_batched_constructed.json');
    const responses = await Promise.all(
      Array.from({ length: 8 }, () => postWebhook(urlOf(integration), body, { secret: integration.appSecret })),
    );
    expect(responses.map((response) => response.status)).toEqual(Array(8).fill(200));
    expect(responses.filter((response) => response.text.includes('"received"'))).toHaveLength(1);
    const rows = await settled(integration.id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.attempts).toBe(1);
    expect((await postWebhook(urlOf(integration), body, { secret: integration.appSecret })).text).toBe(
      JSON.stringify({ status: 'duplicate' }),
    );
    expect(await deliveriesOf(integration.id)).toEqual(rows);
  });

  it("applies a routed delivery: the customer's message is in their client's channel", async () => {
    const conversation = await openConversation(server(), org(), 'INSTAGRAM');
    const body = instagramDelivery('ig_inbound_text.json', conversation, { text: 'hello' });
    expect((await post(server(), conversation.integration, body)).status).toBe(200);
    const delivery = await processed(server(), conversation.integration, body);
    expect(delivery).toMatchObject({ status: 'PROCESSED', errors: null });
    expect(await channelMessages(server(), conversation.channelId)).toEqual([
      expect.objectContaining({ userId: conversation.client.id, content: 'hello', messageSource: 'INSTAGRAM' }),
    ]);
    const link = await server().app.db.prisma.clientPlatformLink.findUniqueOrThrow({
      where: { id: conversation.linkId! },
    });
    expect(link.lastInboundAt).toEqual(new Date(1569262485349));
  });
});

describe('webhookDeliveries and replayWebhookDelivery', () => {
  it('lists deliveries newest first by status, page by page, for admins of the organization', async () => {
    const integration = await freshWhatsApp();
    for (const fixture of ['wa_inbound_text.json', 'wa_inbound_image.json', 'wa_status_sent.json']) {
      await postWebhook(urlOf(integration), fixtureText(fixture), { secret: integration.appSecret });
    }
    const rows = await settled(integration.id, 3);
    const statusSent = rows.find((row) => row.rawBody.includes('"statuses"'))!;
    expect(statusSent.status).toBe('PROCESSED'); // a status of no message of ours is ignored

    const first = dataOf(
      await gql(
        server().graphqlUrl,
        Deliveries,
        { platformIntegrationId: integration.id, first: 2 },
        { token: org().admin.token },
      ),
    );
    expect(first.webhookDeliveries.edges.map((edge) => edge.node.id)).toEqual([rows[2]!.id, rows[1]!.id]);
    expect(first.webhookDeliveries.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(
      await gql(
        server().graphqlUrl,
        Deliveries,
        { platformIntegrationId: integration.id, first: 2, after: first.webhookDeliveries.pageInfo.endCursor },
        { token: org().admin.token },
      ),
    );
    expect(rest.webhookDeliveries.edges.map((edge) => edge.node.id)).toEqual([rows[0]!.id]);
    const failed = dataOf(
      await gql(
        server().graphqlUrl,
        Deliveries,
        { platformIntegrationId: integration.id, status: 'FAILED' },
        { token: org().admin.token },
      ),
    );
    expect(failed.webhookDeliveries.edges.map((edge) => edge.node.status)).toEqual(['FAILED', 'FAILED']);
    expect(failed.webhookDeliveries.edges[0]!.node).toMatchObject({
      platform: 'WHATSAPP',
      integration: { id: integration.id },
      attempts: 1,
    });

    const foreign = dataOf(
      await gql(
        server().graphqlUrl,
        Deliveries,
        { platformIntegrationId: integration.id },
        { token: other.admin.token },
      ),
    );
    expect(foreign.webhookDeliveries.edges).toEqual([]);
    const client = await gql(server().graphqlUrl, Deliveries, {}, { token: org().clients.Cora!.token });
    expect(errorCodes(client)).toEqual(['FORBIDDEN']);
  });

  it('replays a delivery once its sender is linked; foreign ids are NOT_FOUND', async () => {
    const conversation = await openConversation(server(), org(), 'WHATSAPP', { linked: false });
    const delivery = await deliver(
      server(),
      conversation.integration,
      whatsAppDelivery('wa_inbound_text.json', conversation),
    );
    expect(delivery.errors).toEqual([expect.objectContaining({ kind: 'unroutable' })]);

    await linkClient(server(), org(), conversation.client, conversation.integration, {
      platformUserId: conversation.platformUserId,
      scopedUserId: null,
    });
    const replayed = dataOf(
      await gql(server().graphqlUrl, ReplayWebhookDelivery, { id: delivery.id }, { token: org().admin.token }),
    ).replayWebhookDelivery;
    expect(replayed).toEqual({ id: delivery.id, status: 'PROCESSED', attempts: 2, errors: null });
    expect(await channelMessages(server(), conversation.channelId)).toEqual([
      expect.objectContaining({ userId: conversation.client.id, content: 'Body Text' }),
    ]);

    expect(
      errorCodes(
        await gql(server().graphqlUrl, ReplayWebhookDelivery, { id: delivery.id }, { token: other.admin.token }),
      ),
    ).toEqual(['NOT_FOUND']);
    expect(
      errorCodes(
        await gql(
          server().graphqlUrl,
          ReplayWebhookDelivery,
          { id: delivery.id },
          { token: org().clients.Cora!.token },
        ),
      ),
    ).toEqual(['FORBIDDEN']);
    const malformed = await gql(server().graphqlUrl, ReplayWebhookDelivery, { id: 'x' }, { token: org().admin.token });
    expect(malformed.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'id' });
  });

  it('a restarted instance processes what a crash left RECEIVED', async () => {
    const conversation = await openConversation(server(), org(), 'WHATSAPP');
    const body = whatsAppDelivery('wa_inbound_document.json', conversation);
    // Stored, and then the instance died before processing it.
    const crashed = await server().app.db.prisma.webhookDelivery.create({
      data: {
        organizationId: org().id,
        platformIntegrationId: conversation.integration.id,
        platform: 'WHATSAPP',
        rawBody: body,
        bodySha256: createHash('sha256').update(body).digest('hex'),
        receivedAt: new Date(Date.now() - 60_000),
      },
    });
    const restarted = await startServer();
    try {
      const row = await processed(server(), conversation.integration, body);
      expect(row).toMatchObject({ id: crashed.id, status: 'PROCESSED', attempts: 1, errors: null });
      expect(await channelMessages(server(), conversation.channelId)).toEqual([
        expect.objectContaining({ userId: conversation.client.id, messageType: 'FILE', content: 'caption' }),
      ]);
    } finally {
      await restarted.stop();
    }
  });
});
