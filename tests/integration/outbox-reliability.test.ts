import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { GraphApiClient } from '../../src/modules/outbox/graph-api.js';
import { claimDueSends } from '../../src/modules/outbox/outbox-claims.js';
import { recordOutcome } from '../../src/modules/outbox/outbox-outcomes.js';
import { OutboxWorker, type OutboxWorkerDeps } from '../../src/modules/outbox/outbox-worker.js';
import { type Conversation, customerWrites, openConversation } from '../support/conversations.js';
import { graphError, graphSuccess } from '../support/fake-graph.js';
import { graphql } from '../gql/index.js';
import { dataOf, gql } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { sendMessage, type SendingWorld, settledOutbound, startSendingWorld } from '../support/outbound.js';
import { createIntegration } from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';
import { startServer } from '../support/server.js';
import { waitFor } from '../support/webhooks.js';

// The outbox when Meta or the sender misbehaves: transient and permanent failures, the client's status when it
// moved on before Meta answered, workers racing for rows, dying with them, stopping and starting later. Meta
// is a fake Graph API inside the test.

const ClientReads = graphql(`
  mutation ClientReads($input: MarkMessagesReadInput!) {
    markMessagesRead(input: $input) {
      markedMessageIds
    }
  }
`);

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
const open = (platform: 'WHATSAPP' | 'INSTAGRAM' = 'WHATSAPP') => openConversation(server(), org, platform);
const statusOf = (messageId: string, userId: string) =>
  prisma().messageUserStatus.findUnique({ where: { messageId_userId: { messageId, userId } } });
/** A staff message (the admin's) that must have been accepted; returns it. */
const staffSends = async (input: Parameters<typeof sendMessage>[2]) =>
  dataOf(await sendMessage(server(), org.admin, input)).sendMessage;
describe('failures', () => {
  it('retries a transient failure with backoff, then succeeds', async () => {
    const conversation = await open();
    world.respondTo(conversation.platformUserId!, (request, nth) =>
      nth === 0 ? graphError(503, 2, 'Service temporarily unavailable') : graphSuccess(request, nth),
    );
    await customerWrites(server(), conversation);
    const message = await staffSends({ channelId: conversation.channelId, content: 'again' });
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT', attempts: 2, lastError: null });
    expect(world.requestsTo(conversation.platformUserId!)).toHaveLength(2);
  });

  it("fails after the last retry with Meta's reason, on the row and the client's status, and announces it", async () => {
    const conversation = await open();
    world.respondTo(conversation.platformUserId!, () => graphError(500, 131000, 'Something went wrong'));
    await customerWrites(server(), conversation);
    const message = await staffSends({ channelId: conversation.channelId, content: 'doomed' });
    expect(await settledOutbound(server(), message.id)).toMatchObject({
      status: 'FAILED',
      attempts: 3,
      lastError: '131000: Something went wrong',
    });
    expect(world.requestsTo(conversation.platformUserId!)).toHaveLength(3);
    expect(await statusOf(message.id, conversation.client.id)).toMatchObject({
      status: 'FAILED',
      errorCode: '131000',
      errorTitle: 'Something went wrong',
    });
    expect((await events.settled(conversation.channelId, 3)).at(-1)).toEqual({
      type: 'status',
      messageId: message.id,
      status: 'FAILED',
      userId: conversation.client.id,
    });
  });

  it('does not retry a permanent refusal, and fails what cannot be sent without calling Meta', async () => {
    const conversation = await open();
    world.respondTo(conversation.platformUserId!, () => graphError(400, 131047, 'Re-engagement message'));
    await customerWrites(server(), conversation);
    const refused = await staffSends({ channelId: conversation.channelId, content: 'late reply' });
    expect(await settledOutbound(server(), refused.id)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      lastError: '131047: Re-engagement message',
    });
    expect(world.requestsTo(conversation.platformUserId!)).toHaveLength(1);

    // A template (it passes the window check) to a client on Instagram, which has no templates.
    const instagram = await open('INSTAGRAM');
    const template = await staffSends({
      channelId: instagram.channelId,
      content: 'order update',
      metadata: { template: { name: 'order_update', language: 'en_US' } },
    });
    expect(await settledOutbound(server(), template.id)).toMatchObject({
      status: 'FAILED',
      attempts: 1,
      lastError: 'unsendable: Templates are a WhatsApp feature',
    });
    expect(world.requestsTo(instagram.platformUserId!)).toEqual([]);
    expect(await statusOf(template.id, instagram.client.id)).toMatchObject({
      status: 'FAILED',
      errorCode: 'unsendable',
    });
  });
});
describe("the client's status, as the sender records it", () => {
  it('never announces SENT over a status that is already further along (the client read it in the app first)', async () => {
    const conversation = await open();
    const phone = conversation.platformUserId!;
    world.respondTo(phone, (request, nth) => ({ ...graphSuccess(request, nth), delayMs: 600 }));
    const inbound = await customerWrites(server(), conversation);
    const message = await staffSends({ channelId: conversation.channelId, content: 'read me' });
    await waitFor(async () => world.requestsTo(phone).length > 0, 5_000, 'the send to start');
    // While Meta has not answered yet, the client (who also uses the app) reads the channel.
    dataOf(
      await gql(
        server().graphqlUrl,
        ClientReads,
        { input: { channelId: conversation.channelId } },
        {
          token: conversation.client.token,
        },
      ),
    );
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT' });
    expect(await statusOf(message.id, conversation.client.id)).toMatchObject({ status: 'READ' });
    expect(await events.settled(conversation.channelId, 3)).toEqual([
      expect.objectContaining({ type: 'message', messageId: inbound.id }),
      expect.objectContaining({ type: 'message', messageId: message.id }),
      { type: 'status', messageId: message.id, status: 'READ', userId: conversation.client.id },
    ]);
  });

  it('keeps a read that happened when the platform send then fails, and announces nothing', async () => {
    const conversation = await open();
    const phone = conversation.platformUserId!;
    world.respondTo(phone, () => ({ ...graphError(400, 131026, 'Message undeliverable'), delayMs: 600 }));
    await customerWrites(server(), conversation);
    const message = await staffSends({ channelId: conversation.channelId, content: 'read in the app' });
    await waitFor(async () => world.requestsTo(phone).length > 0, 5_000, 'the send to start');
    dataOf(
      await gql(
        server().graphqlUrl,
        ClientReads,
        { input: { channelId: conversation.channelId } },
        { token: conversation.client.token },
      ),
    );
    expect(await settledOutbound(server(), message.id)).toMatchObject({
      status: 'FAILED',
      lastError: '131026: Message undeliverable',
    });
    expect(await statusOf(message.id, conversation.client.id)).toMatchObject({ status: 'READ', errorCode: null });
    expect((await events.settled(conversation.channelId, 3)).at(-1)).toEqual({
      type: 'status',
      messageId: message.id,
      status: 'READ',
      userId: conversation.client.id,
    });
  });
});

describe('several workers, leases and restarts', () => {
  let deps: OutboxWorkerDeps;
  const worker = () =>
    new OutboxWorker(deps, {
      graph: new GraphApiClient({
        graphApiUrl: `${world.fake.url}/v22.0`,
        instagramApiUrl: `${world.fake.url}/ig/v22.0`,
        timeoutMs: 5_000,
      }),
      integrations: server().app.services.integrations,
      maxAttempts: 3,
      pacing: server().app.services.sendPacing,
      retryBaseMs: 30,
      pollIntervalMs: 50,
      leaseMs: 30_000,
      statuses: server().app.services.statuses,
      stream: server().app.services.stream,
      mediaLinkOf: (uploadId) => server().app.services.mediaLinks.downloadUrl(uploadId),
    });
  /** A staff message to a customer who just wrote, queued while no sender of this app runs. */
  const queuedFor = async (conversation: Conversation, content: string) => {
    await customerWrites(server(), conversation);
    const message = await staffSends({ channelId: conversation.channelId, content });
    const [row] = await prisma().outboundMessage.findMany({ where: { messageId: message.id } });
    return { message, row: row! };
  };
  const outboundRow = (id: string) => prisma().outboundMessage.findUniqueOrThrow({ where: { id } });

  beforeAll(async () => {
    // From here on the only senders are the ones the tests start.
    await server().app.services.outboxWorker.stop();
    const { db, logger, metrics } = server().app;
    deps = { db, logger, metrics };
  });

  it('takes over a row whose lease expired (its worker died), and leaves a live lease alone', async () => {
    const conversation = await open();
    const { message, row } = await queuedFor(conversation, 'orphaned');
    expect(row.status).toBe('PENDING');
    // A worker claimed it (attempt 1) and died before sending.
    await prisma().outboundMessage.update({
      where: { id: row.id },
      data: { attempts: 1, lockedUntil: new Date(Date.now() + 60_000) },
    });
    const successor = worker();
    await successor.runOnce();
    expect(await outboundRow(row.id)).toMatchObject({ status: 'PENDING', attempts: 1 });
    expect(world.requestsTo(conversation.platformUserId!)).toEqual([]);

    await prisma().outboundMessage.update({ where: { id: row.id }, data: { lockedUntil: new Date(Date.now() - 1) } });
    await successor.runOnce();
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(world.requestsTo(conversation.platformUserId!)).toHaveLength(1);
  });

  it("a claim whose lease expired cannot record its outcome after another worker's uncounted try of the row", async () => {
    const conversation = await open();
    const { message, row } = await queuedFor(conversation, 'fenced');
    const { pool } = server().app.db;
    const { statuses } = server().app.services;
    // A worker claims the row and stalls past its lease; another takes the row over.
    const [stale] = await claimDueSends(pool, 1, 1);
    expect(stale?.id).toBe(row.id);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const [current] = await claimDueSends(pool, 1, 30_000);
    expect(current?.id).toBe(row.id);
    // Meta's pair limit: a try that is not counted (the row goes back to pending with its attempts as before).
    const pairLimited = { httpStatus: 400, code: '131056', title: 'Pair rate limit hit', transient: true };
    const paced = { paced: pairLimited, retryInMs: 6_000 };
    expect(await recordOutcome(pool, statuses, current!, paced, 30)).toMatchObject({ held: true });
    // The stalled worker's send comes back: the row is no longer its own, whatever its attempts say.
    expect(await recordOutcome(pool, statuses, stale!, { sent: 'wamid.stale' }, 30)).toMatchObject({ held: false });
    // The stalled claim's attempt stays counted (it may have reached Meta); the uncounted try is given back.
    expect(await outboundRow(row.id)).toMatchObject({ status: 'PENDING', attempts: 1, externalMessageId: null });

    // Due again at once rather than after the pair limit's pause: sent once, by the worker that holds it.
    await prisma().outboundMessage.update({ where: { id: row.id }, data: { nextAttemptAt: new Date() } });
    await worker().runOnce();
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(world.requestsTo(conversation.platformUserId!)).toHaveLength(1);
  });

  it('two workers never send the same row twice', async () => {
    const integration = await createIntegration(server(), org, 'WHATSAPP', { platformAccountId: `${Date.now()}` });
    const queued = [];
    for (let i = 0; i < 12; i++) {
      const conversation = await openConversation(server(), org, 'WHATSAPP', { integration });
      world.respondTo(conversation.platformUserId!, (request, nth) => ({ ...graphSuccess(request, nth), delayMs: 30 }));
      queued.push({ conversation, ...(await queuedFor(conversation, 'once')) });
    }
    const workers = [worker(), worker()];
    workers.forEach((each) => each.start());
    try {
      for (const { message } of queued) await settledOutbound(server(), message.id);
    } finally {
      await Promise.all(workers.map((each) => each.stop()));
    }
    expect(queued.map(({ conversation }) => world.requestsTo(conversation.platformUserId!).length)).toEqual(
      queued.map(() => 1),
    );
  });

  it('stop() waits for the send in flight and records it', async () => {
    const conversation = await open();
    world.respondTo(conversation.platformUserId!, (request, nth) => ({ ...graphSuccess(request, nth), delayMs: 400 }));
    const { row } = await queuedFor(conversation, 'slow');
    const running = worker();
    running.start();
    await waitFor(async () => world.requestsTo(conversation.platformUserId!).length > 0, 5_000, 'the send to start');
    await running.stop();
    expect(await outboundRow(row.id)).toMatchObject({ status: 'SENT', lockedUntil: null });
  });

  it('an app instance started later sends what was queued while no sender ran', async () => {
    const conversation = await open();
    const { message, row } = await queuedFor(conversation, 'queued');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await outboundRow(row.id)).status).toBe('PENDING');
    const restarted = await startServer({ env: world.env });
    try {
      expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT', attempts: 1 });
      expect(world.requestsTo(conversation.platformUserId!)).toHaveLength(1);
    } finally {
      await restarted.stop();
    }
  });
});
