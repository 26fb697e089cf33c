import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { dedicatedPostgres, type DedicatedPostgres } from '../support/dedicated-services.js';
import { graphSuccess, startFakeGraph, type FakeGraph } from '../support/fake-graph.js';
import { createChannel } from '../support/messaging.js';
import { createIntegration, randomPhone, routedClient } from '../support/platform.js';
import { freePort, runTs, waitFor, type Running } from '../support/process.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, TEST_JWT_SECRET, type TestServer } from '../support/server.js';

// The server runs as a real process here (SIGTERM is the point), on a database of its own, so that no other
// test's outbox sender can pick up its rows.
let database: DedicatedPostgres;
let graph: FakeGraph;
let seeding: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  [database, graph] = await Promise.all([dedicatedPostgres(), startFakeGraph()]);
  seeding = await startServer({ env: { DATABASE_URL: database.url, OUTBOX_WORKER_ENABLED: 'false' } });
  org = await seedOrganization(seeding, { users: ['Alice'], clients: ['Cora'] });
}, 120_000);
afterAll(async () => {
  await seeding.stop();
  await graph.stop();
  await database.remove();
});

async function serverProcess(port: number): Promise<Running> {
  const running = runTs('src/main.ts', [], {
    NODE_ENV: 'test',
    PORT: String(port),
    HOST: '127.0.0.1',
    DATABASE_URL: database.url,
    MIGRATE_ON_START: 'false',
    REDIS_URL: process.env.REDIS_URL,
    REDIS_PREFIX: `${process.env.TEST_REDIS_PREFIX}sigterm:`,
    JWT_SECRET: TEST_JWT_SECRET,
    META_GRAPH_API_URL: `${graph.url}/v22.0`,
    META_INSTAGRAM_API_URL: `${graph.url}/ig/v22.0`,
    OUTBOX_POLL_INTERVAL_MS: '100',
    SHUTDOWN_TIMEOUT_MS: '10000',
    RATE_LIMIT_MUTATIONS_PER_USER: '1000000',
    RATE_LIMIT_MUTATIONS_PER_IP: '1000000',
    LOG_LEVEL: 'info',
  });
  await waitFor(
    async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined),
    60_000,
    () => `the server process (output: ${running.output()})`,
    running,
  );
  return running;
}

describe('SIGTERM under load', () => {
  it('completes in-flight requests, closes sockets with 1001, and sends no outbox message twice', async () => {
    const integration = await createIntegration(seeding, org, 'WHATSAPP', { platformAccountId: '1098765432102' });
    const { channel } = await routedClient(seeding, org, org.clients.Cora!, integration, {
      platformUserId: randomPhone(),
      scopedUserId: null,
    });
    await seeding.app.db.prisma.clientPlatformLink.updateMany({
      where: { clientUserId: org.clients.Cora!.id },
      data: { lastInboundAt: new Date() },
    });
    const staffChannel = await createChannel(seeding, org.users.Alice!);
    await seeding.app.services.channels.addMembers(org.admin.session, {
      channelId: channel.id,
      userIds: [org.users.Alice!.id],
    });
    // Meta answers slowly, so that sends are in flight when the signal arrives.
    graph.respond((request, index) => ({ ...graphSuccess(request, index), delayMs: 150 }));

    const port = await freePort();
    const first = await serverProcess(port);
    const url = `http://127.0.0.1:${port}/graphql`;
    const closeCode = new Promise<number>((resolve) => {
      createClient({
        url: url.replace('http', 'ws'),
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${org.users.Alice!.token}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: () => undefined,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
    });

    const send = async (channelId: string, content: string) => {
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${org.users.Alice!.token}` },
          body: JSON.stringify({
            query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id content } }',
            variables: { i: { channelId, content } },
          }),
        });
        return {
          content,
          status: response.status,
          body: (await response.json()) as { data?: { sendMessage: { id: string } } | null },
        };
      } catch {
        return { content, status: 0, body: {} };
      }
    };

    // Load on both kinds of channel; the signal arrives in the middle of it.
    const load = Array.from({ length: 60 }, (_, index) =>
      new Promise((resolve) => setTimeout(resolve, index * 8)).then(() =>
        send(index % 3 === 0 ? staffChannel.id : channel.id, `load ${index}`),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    first.child.kill('SIGTERM');
    const outcomes = await Promise.all(load);
    expect(await first.exited).toBe(0);
    expect(await closeCode).toBe(1001);

    // Every request the server accepted was answered in full; the rest were refused before they started.
    const answered = outcomes.filter((outcome) => outcome.status !== 0);
    expect(answered.length).toBeGreaterThan(0);
    for (const outcome of answered) {
      expect(outcome.status).toBe(200);
      expect(outcome.body.data?.sendMessage.id).toEqual(expect.any(String));
    }

    // A new instance finishes the outbox; each client message reached Meta exactly once.
    const second = await serverProcess(port);
    const clientMessages = answered.filter((outcome) => {
      const index = Number(outcome.content.split(' ')[1]);
      return index % 3 !== 0;
    });
    const sentTexts = () => graph.requests.map((request) => (request.body.text as { body?: string } | undefined)?.body);
    await waitFor(
      async () => (clientMessages.every((outcome) => sentTexts().includes(outcome.content)) ? true : undefined),
      30_000,
      () => `every accepted client message at the Graph API (got ${JSON.stringify(sentTexts())})`,
    );
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const counts = new Map<string, number>();
    for (const text of sentTexts()) if (text) counts.set(text, (counts.get(text) ?? 0) + 1);
    expect([...counts.values()].every((count) => count === 1)).toBe(true);
    const outbox = await seeding.app.db.prisma.outboundMessage.findMany({ where: { organizationId: org.id } });
    expect(outbox.every((row) => row.status === 'SENT')).toBe(true);
    expect(outbox).toHaveLength(clientMessages.length);
  }, 120_000);
});
