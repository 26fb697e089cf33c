import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { dedicatedPostgres, type DedicatedPostgres } from '../support/dedicated-services.js';
import { dataOf, gql } from '../support/graphql.js';
import { createChannel as createChannelViaApi, send } from '../support/messaging.js';
import { createIntegration, randomPhone, routedClient } from '../support/platform.js';
import { waitFor } from '../support/process.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { postWebhook } from '../support/webhooks.js';

const Viewer = graphql(`
  query FaultViewer {
    viewer {
      id
    }
  }
`);

let database: DedicatedPostgres;
let server: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  database = await dedicatedPostgres();
  server = await startServer({ env: { DATABASE_URL: database.url } });
  org = await seedOrganization(server, { users: ['Alice'], clients: ['Cora'] });
}, 120_000);
afterAll(async () => {
  await server.stop();
  await database.remove();
});

const whatsAppText = (phoneNumberId: string, from: string, id: string, body: string) =>
  JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [
      {
        id: 'waba',
        changes: [
          {
            field: 'messages',
            value: {
              messaging_product: 'whatsapp',
              metadata: { display_phone_number: '15550000000', phone_number_id: phoneNumberId },
              contacts: [{ profile: { name: 'Cora' }, wa_id: from }],
              messages: [{ from, id, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body } }],
            },
          },
        ],
      },
    ],
  });

describe('PostgreSQL restarts under a running server', () => {
  it('fails requests cleanly while it is down, serves the next ones without a restart, and loses no webhook', async () => {
    const channel = await createChannelViaApi(server, org.users.Alice!);
    const integration = await createIntegration(server, org, 'WHATSAPP', { platformAccountId: '1098765432101' });
    const phone = randomPhone();
    const { channel: clientChannel } = await routedClient(server, org, org.clients.Cora!, integration, {
      platformUserId: phone,
      scopedUserId: null,
    });
    const webhookUrl = `${server.url}/webhooks/whatsapp/${integration.id}`;

    // Sends in flight when the database goes away: each one either succeeds or fails with a retryable error.
    const rawSend = async (content: string) => {
      const response = await fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${org.users.Alice!.token}` },
        body: JSON.stringify({
          query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
          variables: { i: { channelId: channel.id, content } },
        }),
      });
      return {
        content,
        status: response.status,
        body: (await response.json()) as {
          data?: { sendMessage: { id: string } } | null;
          errors?: { extensions: { code: string } }[];
        },
      };
    };
    const inFlight = Array.from({ length: 40 }, (_, index) =>
      new Promise((resolve) => setTimeout(resolve, index * 5)).then(() => rawSend(`in flight ${index}`)),
    );
    await new Promise((resolve) => setTimeout(resolve, 40));
    await database.stop();
    const outcomes = await Promise.all(inFlight);
    for (const outcome of outcomes) {
      expect(outcome.status).toBeLessThan(500);
      if (!outcome.body.data?.sendMessage)
        expect(outcome.body.errors?.[0]?.extensions.code).toBe('SERVICE_UNAVAILABLE');
    }

    // GraphQL: a clear, retryable error; no stack, no SQL.
    const down = await gql(server.graphqlUrl, Viewer, {}, { token: org.users.Alice!.token });
    const sendWhileDown = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${org.users.Alice!.token}` },
      body: JSON.stringify({
        query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
        variables: { i: { channelId: channel.id, content: 'lost?' } },
      }),
    });
    const sendBody = await sendWhileDown.text();
    expect(sendBody).toContain('SERVICE_UNAVAILABLE');
    expect(sendBody).not.toMatch(/SELECT|INSERT|ECONNREFUSED|at .*\.(js|ts):\d+/);
    expect(JSON.stringify(down)).not.toMatch(/SELECT|INSERT|at .*\.(js|ts):\d+/);

    // A webhook during the outage is refused with a non-2xx, so Meta delivers it again later.
    const body = whatsAppText('1098765432101', phone, 'wamid.during-outage', 'sent while the database was down');
    const refused = await postWebhook(webhookUrl, body, { secret: integration.appSecret });
    expect(refused.status).toBe(503);

    await database.start();

    // The next requests succeed on the same server process.
    await waitFor(
      async () =>
        (await gql(server.graphqlUrl, Viewer, {}, { token: org.users.Alice!.token })).data?.viewer.id
          ? true
          : undefined,
      20_000,
      () => 'GraphQL to work again',
    );
    const message = await send(server, org.users.Alice!, channel.id, 'after the restart');
    expect(message.content).toBe('after the restart');

    // What succeeded is stored, what failed is not: nothing half-done.
    const stored = await server.app.db.prisma.message.findMany({
      where: { channelId: channel.id },
      select: { id: true, content: true },
    });
    const succeeded = outcomes
      .filter((outcome) => outcome.body.data?.sendMessage)
      .map((outcome) => outcome.body.data!.sendMessage.id);
    expect(
      stored
        .filter((row) => row.content?.startsWith('in flight'))
        .map((row) => row.id)
        .sort(),
    ).toEqual(succeeded.sort());

    // Meta's retry is stored and routed; exactly one message results.
    const retried = await postWebhook(webhookUrl, body, { secret: integration.appSecret });
    expect(retried.status).toBe(200);
    const fromWebhook = await waitFor(
      async () => {
        const rows = await server.app.db.prisma.message.findMany({
          where: { externalMessageId: 'wamid.during-outage' },
        });
        return rows.length > 0 ? rows : undefined;
      },
      10_000,
      () => 'the retried webhook message',
    );
    expect(fromWebhook).toHaveLength(1);
    expect(fromWebhook[0]).toMatchObject({
      channelId: clientChannel.id,
      userId: org.clients.Cora!.id,
      content: 'sent while the database was down',
    });
    expect(dataOf(await gql(server.graphqlUrl, Viewer, {}, { token: org.users.Alice!.token })).viewer.id).toBe(
      org.users.Alice!.id,
    );
  }, 120_000);
});
