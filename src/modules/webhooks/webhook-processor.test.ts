import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { fixtureJson, fixtureText } from '../../../tests/support/fixtures.js';
import {
  createChannel,
  createIntegration,
  linkClient,
  randomPhone,
  routedClient,
  type TestIntegration,
} from '../../../tests/support/platform.js';
import { seedOrganization, type TestOrganization } from '../../../tests/support/seed.js';
import { startServer, type TestServer } from '../../../tests/support/server.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import { ClientLinkService } from '../client-links/links.service.js';
import type { InboundEventHandler } from './inbound-handler.js';
import { InboundRouter } from './inbound-router.js';
import { WebhookProcessor } from './webhook-processor.js';

// The processor's routing decisions against the real database, with a handler that records what it is given
// (what the messaging module's handler then does is tested end to end in tests/integration). Deliveries are
// written directly, so the app's own processor never sees them.

type Call = { method: 'message' | Exclude<keyof InboundEventHandler, 'messages'>; routed: Record<string, unknown> };

function recordingHandler(options: { failOn?: (routed: Record<string, unknown>) => boolean } = {}) {
  const calls: Call[] = [];
  const record = (method: Call['method']) => async (routed: object) => {
    if (options.failOn?.(routed as Record<string, unknown>)) throw new Error('handler failed');
    calls.push({ method, routed: routed as Record<string, unknown> });
  };
  const handler: InboundEventHandler = {
    // A run of messages is recorded message by message; a failing one is reported, the others still count.
    messages: (run) =>
      Promise.all(
        run.map((routed) =>
          record('message')(routed).then(
            () => null,
            (error: Error) => error,
          ),
        ),
      ),
    reaction: record('reaction'),
    status: record('status'),
    deletion: record('deletion'),
    seen: record('seen'),
    echo: record('echo'),
    templateStatus: record('templateStatus'),
    edit: record('edit'),
    numberChange: record('numberChange'),
  };
  return { handler, calls };
}

let server: TestServer;
let org: TestOrganization;
let deps: { db: Database; logger: Logger };

beforeAll(async () => {
  server = await startServer();
  org = await seedOrganization(server, { clients: ['Cora', 'Cleo', 'Carl', 'Cara', 'Cody', 'Coco'] });
  deps = { db: server.app.db, logger: server.app.logger };
});
const started: WebhookProcessor[] = [];
afterAll(async () => {
  await Promise.all(started.map((processor) => processor.stop()));
  await server.stop();
});

/**
 * A running processor with its own handler. Its sweep looks only for deliveries left a day ago, so it never
 * takes another test's.
 */
function processorWith(handler: InboundEventHandler) {
  const links = new ClientLinkService({ db: deps.db });
  const processor = new WebhookProcessor(deps, {
    router: new InboundRouter({ db: deps.db }, links),
    links,
    handler,
    sweepIntervalMs: 60_000,
    staleAfterMs: 86_400_000,
  });
  processor.start();
  started.push(processor);
  return processor;
}

/** Stores a delivery as the route would, without queueing it anywhere. */
async function storeDelivery(integration: TestIntegration, body: unknown) {
  const raw = typeof body === 'string' ? body : JSON.stringify(body);
  const { rows } = await deps.db.pool.query<{ id: string }>(
    `INSERT INTO webhook_deliveries (organization_id, platform_integration_id, platform, raw_body, body_sha256)
     VALUES ($1, $2, $3::platform, $4, $5) RETURNING id`,
    [
      integration.organizationId,
      integration.id,
      integration.platform.toLowerCase(),
      raw,
      createHash('sha256')
        .update(raw + randomBytes(8).toString('hex'))
        .digest('hex'),
    ],
  );
  return rows[0]!.id;
}

const deliveryRow = (id: string) => deps.db.prisma.webhookDelivery.findUniqueOrThrow({ where: { id } });

/** A WhatsApp delivery from one fixture, re-addressed to a sender and phone number id of the test's own. */
function whatsAppBody(fixture: string, edit: (value: Record<string, any>) => void = () => undefined) {
  const body = fixtureJson<{ entry: { changes: { value: Record<string, any> }[] }[] }>(fixture);
  for (const entry of body.entry) for (const change of entry.changes) edit(change.value);
  return body;
}

const fromSender = (phone: string, text?: string) => (value: Record<string, any>) => {
  for (const contact of value.contacts ?? []) {
    contact.wa_id = phone;
    contact.user_id = `US.${phone}`;
  }
  for (const message of value.messages ?? []) {
    message.from = phone;
    message.id = `wamid.${randomBytes(6).toString('hex')}`;
    if (text !== undefined) message.text = { body: text };
  }
};

/** A message the customer sent earlier, stored the way the messaging module stores inbound messages. */
async function receivedEarlier(
  integration: TestIntegration,
  channelId: string,
  clientUserId: string,
  externalMessageId: string,
) {
  const { message } = await server.app.services.messages.ingest(org.id, {
    channelId,
    userId: clientUserId,
    content: 'earlier',
    messageType: 'TEXT',
    metadata: null,
    threadId: null,
    platformIntegrationId: integration.id,
    externalMessageId,
    messageSource: integration.platform,
  });
  return message;
}

/**
 * A staff message that went out to the client as `externalMessageId`. It is written through the messaging
 * service before the client links (so nothing is queued that a sender elsewhere in the test run could pick
 * up); the outbox row is then the one the sender records once Meta has accepted the message.
 */
async function sentToClient(
  integration: TestIntegration,
  clientName: string,
  sender: { platformUserId: string; scopedUserId: null },
  content: string,
  externalMessageId: string,
) {
  const client = org.clients[clientName]!;
  const channel = await createChannel(server, org);
  await server.app.services.clientAssignments.assign(org.admin.session, {
    clientUserId: client.id,
    channelId: channel.id,
  });
  const message = await server.app.services.sendMessage.execute(org.admin.session, { channelId: channel.id, content });
  const link = await linkClient(server, org, client, integration, sender);
  const outbound = await deps.db.prisma.outboundMessage.create({
    data: {
      organizationId: org.id,
      messageId: message.id,
      platformIntegrationId: integration.id,
      clientPlatformLinkId: link.id,
      messageSeq: BigInt(message.createdSeq),
      status: 'SENT',
      externalMessageId,
    },
  });
  return { channel, message, outbound };
}

describe('routing messages', () => {
  it("hands a linked customer's message to the handler with client, channel and link; notes the time", async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    const { channel, link } = await routedClient(server, org, org.clients.Cora!, integration, {
      platformUserId: phone,
      scopedUserId: null,
    });
    const { handler, calls } = recordingHandler();
    const id = await storeDelivery(integration, whatsAppBody('wa_inbound_text.json', fromSender(phone)));

    expect(await processorWith(handler).enqueue(id, integration.id)).toEqual({ status: 'PROCESSED', errors: [] });
    expect(calls).toEqual([
      {
        method: 'message',
        routed: {
          event: expect.objectContaining({
            kind: 'message',
            content: 'Body Text',
            customer: expect.objectContaining({ platformUserId: phone }),
          }),
          integration: { id: integration.id, organizationId: org.id, platform: 'WHATSAPP' },
          deliveryId: id,
          linkId: link.id,
          clientUserId: org.clients.Cora!.id,
          channelId: channel.id,
          replyToMessageId: null,
        },
      },
    ]);
    const delivery = await deliveryRow(id);
    expect(delivery).toMatchObject({ status: 'PROCESSED', attempts: 1, errors: null });
    expect(delivery.processedAt).not.toBeNull();
    const stored = await deps.db.prisma.clientPlatformLink.findUniqueOrThrow({ where: { id: link.id } });
    expect(stored.lastInboundAt).toEqual(new Date(1697043223 * 1000));
    expect(stored.platformScopedUserId).toBe(`US.${phone}`);
  });

  it('keeps an unknown sender unroutable, then routes them once they link, replaying what they sent before', async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    const { handler, calls } = recordingHandler();
    const processor = processorWith(handler);
    const early = await storeDelivery(
      integration,
      whatsAppBody('wa_inbound_text.json', fromSender(phone, 'hello, anyone?')),
    );
    expect(await processor.enqueue(early, integration.id)).toEqual({
      status: 'FAILED',
      errors: [
        {
          kind: 'unroutable',
          path: 'entry[0].changes[0].value.messages[0]',
          reason: 'sender is not linked to a client',
          customer: { platformUserId: phone, scopedUserId: `US.${phone}` },
        },
      ],
    });
    expect(calls).toEqual([]);

    // The admin links the client; the customer sends the code.
    const channel = await server.app.db.prisma.channel.create({
      data: { organizationId: org.id, name: 'c', channelType: 'PUBLIC', createdBy: org.admin.id },
    });
    await server.app.services.clientAssignments.assign(org.admin.session, {
      clientUserId: org.clients.Cleo!.id,
      channelId: channel.id,
    });
    const link = await server.app.services.clientLinks.create(org.admin.session, {
      clientUserId: org.clients.Cleo!.id,
      platformIntegrationId: integration.id,
    });
    const withCode = await storeDelivery(
      integration,
      whatsAppBody('wa_inbound_text.json', fromSender(phone, `code ${link.verificationCode}`)),
    );
    expect(await processor.enqueue(withCode, integration.id)).toEqual({ status: 'PROCESSED', errors: [] });
    expect(await deps.db.prisma.clientPlatformLink.findUniqueOrThrow({ where: { id: link.id } })).toMatchObject({
      verificationStatus: 'VERIFIED',
      platformUserId: phone,
    });

    // The earlier delivery is replayed by itself and now reaches the channel too.
    const replayed = await waitForStatus(early, 'PROCESSED');
    expect(replayed.attempts).toBe(2);
    expect(
      calls.map((call) => [call.method, (call.routed.event as { content: string }).content, call.routed.channelId]),
    ).toEqual([
      ['message', `code ${link.verificationCode}`, channel.id],
      ['message', 'hello, anyone?', channel.id],
    ]);
  });

  it('says why a code was refused, and when a linked client has no channel', async () => {
    const integration = await createIntegration(server, org, 'INSTAGRAM');
    const processor = processorWith(recordingHandler().handler);
    const body = fixtureJson<{
      entry: { messaging: { sender: { id: string }; message: { text: string; mid: string } }[] }[];
    }>('ig_inbound_text.json');
    body.entry[0]!.messaging[0]!.sender.id = `igsid-${randomBytes(4).toString('hex')}`;
    body.entry[0]!.messaging[0]!.message.text = 'my code is AB2CD3EF';
    const id = await storeDelivery(integration, body);
    const outcome = await processor.enqueue(id, integration.id);
    expect(outcome?.errors[0]?.reason).toBe(
      'sender is not linked to a client (verification refused: no pending link has that code)',
    );

    const link = await server.app.services.clientLinks.create(org.admin.session, {
      clientUserId: org.clients.Carl!.id,
      platformIntegrationId: integration.id,
    });
    body.entry[0]!.messaging[0]!.message.text = link.verificationCode!;
    body.entry[0]!.messaging[0]!.message.mid = 'm-2';
    const unassigned = await processor.enqueue(await storeDelivery(integration, body), integration.id);
    expect(unassigned?.errors[0]?.reason).toBe(`client ${org.clients.Carl!.id} is inactive or has no channel assigned`);
  });
});

describe('reactions, replies, statuses and echoes', () => {
  it('resolves reply and reaction targets to our message ids; unknown targets are failures', async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    const { channel } = await routedClient(server, org, org.clients.Cara!, integration, {
      platformUserId: phone,
      scopedUserId: null,
    });
    const target = await receivedEarlier(integration, channel.id, org.clients.Cara!.id, 'wamid.yzxyzx=');
    const replied = await receivedEarlier(integration, channel.id, org.clients.Cara!.id, 'wamid.xyzxyz==');
    const { handler, calls } = recordingHandler();
    const processor = processorWith(handler);

    const reaction = whatsAppBody('wa_inbound_reaction.json', fromSender(phone));
    const reply = whatsAppBody('wa_inbound_reply_with_context.json', fromSender(phone));
    expect(await processor.enqueue(await storeDelivery(integration, reaction), integration.id)).toMatchObject({
      status: 'PROCESSED',
    });
    expect(await processor.enqueue(await storeDelivery(integration, reply), integration.id)).toMatchObject({
      status: 'PROCESSED',
    });
    expect(calls.map((call) => [call.method, call.routed.targetMessageId ?? call.routed.replyToMessageId])).toEqual([
      ['reaction', target.id],
      ['message', replied.id],
    ]);

    const toUnknown = whatsAppBody('wa_inbound_reaction_removed.json', (value) => {
      fromSender(phone)(value);
      value.messages[0].reaction.message_id = 'wamid.unknown';
    });
    expect(await processor.enqueue(await storeDelivery(integration, toUnknown), integration.id)).toEqual({
      status: 'FAILED',
      errors: [
        {
          kind: 'unknown-target',
          path: 'entry[0].changes[0].value.messages[0]',
          reason: 'no known message has id wamid.unknown',
        },
      ],
    });
  });

  it('routes statuses of our sends through the outbox row; statuses of unknown ids are ignored', async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    const externalId = `wamid.${randomBytes(6).toString('hex')}`;
    const { message, outbound } = await sentToClient(
      integration,
      'Cody',
      { platformUserId: phone, scopedUserId: null },
      'hi',
      externalId,
    );
    const { handler, calls } = recordingHandler();
    const body = whatsAppBody('wa_batched_constructed.json', (value) => {
      for (const status of value.statuses ?? []) status.id = externalId;
      value.statuses?.push({ ...value.statuses[0], id: 'wamid.not-ours' });
      fromSender(phone)(value);
    });
    expect(await processorWith(handler).enqueue(await storeDelivery(integration, body), integration.id)).toEqual({
      status: 'PROCESSED',
      errors: [],
    });
    expect(
      calls.map((call) => [
        call.method,
        (call.routed.event as { status?: string }).status,
        call.routed.messageId,
        call.routed.clientUserId,
      ]),
    ).toEqual([
      ['message', undefined, undefined, org.clients.Cody!.id],
      ['message', undefined, undefined, org.clients.Cody!.id],
      ['status', 'DELIVERED', message.id, org.clients.Cody!.id],
      ['status', 'READ', message.id, org.clients.Cody!.id],
    ]);
    expect(calls[2]!.routed.outboundMessageId).toBe(outbound.id);
  });

  it('skips echoes of our own sends and hands over the others', async () => {
    const integration = await createIntegration(server, org, 'INSTAGRAM');
    const customer = `igsid-${randomBytes(4).toString('hex')}`;
    const echo = fixtureJson<{ entry: { messaging: { recipient: { id: string }; message: { mid: string } }[] }[] }>(
      'ig_echo_real_capture.json',
    );
    echo.entry[0]!.messaging[0]!.recipient.id = customer;
    const ownMid = echo.entry[0]!.messaging[0]!.message.mid;
    const { channel } = await sentToClient(
      integration,
      'Coco',
      { platformUserId: customer, scopedUserId: null },
      'test',
      ownMid,
    );
    const { handler, calls } = recordingHandler();
    const processor = processorWith(handler);
    expect(await processor.enqueue(await storeDelivery(integration, echo), integration.id)).toEqual({
      status: 'PROCESSED',
      errors: [],
    });
    expect(calls).toEqual([]);
    echo.entry[0]!.messaging[0]!.message.mid = 'sent-from-the-instagram-app';
    expect(await processor.enqueue(await storeDelivery(integration, echo), integration.id)).toEqual({
      status: 'PROCESSED',
      errors: [],
    });
    expect(calls.map((call) => [call.method, call.routed.channelId])).toEqual([['echo', channel.id]]);
  });
});

describe('integrations, failures and concurrency', () => {
  it("routes a WhatsApp change by phone_number_id to the organization's integration for that number", async () => {
    const phoneNumberId = `${Date.now()}`;
    const viaUrl = await createIntegration(server, org, 'WHATSAPP', { platformAccountId: `${phoneNumberId}1` });
    const owner = await createIntegration(server, org, 'WHATSAPP', { platformAccountId: phoneNumberId });
    const phone = randomPhone();
    await routedClient(server, org, org.clients.Carl!, owner, { platformUserId: phone, scopedUserId: null });
    const { handler, calls } = recordingHandler();
    const processor = processorWith(handler);
    const body = whatsAppBody('wa_inbound_text.json', (value) => {
      fromSender(phone)(value);
      value.metadata.phone_number_id = phoneNumberId;
    });
    expect(await processor.enqueue(await storeDelivery(viaUrl, body), viaUrl.id)).toEqual({
      status: 'PROCESSED',
      errors: [],
    });
    expect((calls[0]!.routed.integration as { id: string }).id).toBe(owner.id);

    const stranger = whatsAppBody('wa_inbound_text.json', (value) => {
      fromSender(phone)(value);
      value.metadata.phone_number_id = '999';
    });
    const outcome = await processor.enqueue(await storeDelivery(viaUrl, stranger), viaUrl.id);
    expect(outcome?.errors).toEqual([
      expect.objectContaining({
        kind: 'unroutable',
        reason: 'phone_number_id 999 belongs to no active integration of this organization',
      }),
    ]);
  });

  it('records shape problems and handler failures, and processes the rest', async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    await routedClient(server, org, org.clients.Cleo!, integration, { platformUserId: phone, scopedUserId: null });
    const body = whatsAppBody('wa_batched_constructed.json', fromSender(phone));
    body.entry[0]!.changes[0]!.value.messages.push({ type: 'text' });
    const { handler, calls } = recordingHandler({
      failOn: (routed) => (routed.event as { messageType?: string }).messageType === 'IMAGE',
    });
    const outcome = await processorWith(handler).enqueue(await storeDelivery(integration, body), integration.id);
    expect(outcome).toEqual({
      status: 'FAILED',
      errors: [
        { kind: 'shape', path: 'entry[0].changes[0].value.messages[2]', reason: expect.stringContaining('id: ') },
        {
          kind: 'failed',
          path: 'entry[0].changes[0].value.messages[1]',
          reason: 'could not be applied (see the server log); replay to retry',
        },
      ],
    });
    expect(calls.map((call) => call.method)).toEqual(['message']);

    const wrongShape = await processorWith(handler).enqueue(
      await storeDelivery(integration, { hello: 'world' }),
      integration.id,
    );
    expect(wrongShape).toEqual({
      status: 'FAILED',
      errors: [
        {
          kind: 'shape',
          path: '(delivery)',
          reason: expect.stringMatching(/object: must be "whatsapp_business_account"/),
        },
      ],
    });
  });

  it('processes a delivery once when two instances race for it, and re-runs it on replay', async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    await routedClient(server, org, org.clients.Cara!, integration, { platformUserId: phone, scopedUserId: null });
    const first = recordingHandler();
    const second = recordingHandler();
    const id = await storeDelivery(integration, whatsAppBody('wa_inbound_text.json', fromSender(phone)));
    const outcomes = await Promise.all([
      processorWith(first.handler).enqueue(id, integration.id),
      processorWith(second.handler).enqueue(id, integration.id),
    ]);
    expect(outcomes.filter(Boolean)).toHaveLength(1);
    expect(first.calls.length + second.calls.length).toBe(1);

    // A new delivery is not processed twice; a replay is.
    expect(await processorWith(first.handler).enqueue(id, integration.id)).toBeNull();
    expect(await processorWith(first.handler).enqueue(id, integration.id, { replay: true })).toMatchObject({
      status: 'PROCESSED',
    });
    expect((await deliveryRow(id)).attempts).toBe(2);
  });

  it('stop() lets the running batch finish and leaves what was queued behind it RECEIVED', async () => {
    const integration = await createIntegration(server, org, 'WHATSAPP');
    const phone = randomPhone();
    await routedClient(server, org, org.clients.Coco!, integration, { platformUserId: phone, scopedUserId: null });
    // A handler that holds the first run of messages until the test lets it go.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const running = new Promise<void>((resolve) => (entered = resolve));
    const { handler } = recordingHandler();
    const holding: InboundEventHandler = {
      ...handler,
      messages: async (run) => {
        entered();
        await held;
        return handler.messages(run);
      },
    };
    const processor = processorWith(holding);
    const first = processor.enqueue(
      await storeDelivery(integration, whatsAppBody('wa_inbound_text.json', fromSender(phone))),
      integration.id,
    );
    await running;
    const queuedId = await storeDelivery(integration, fixtureText('wa_inbound_image.json'));
    const queued = processor.enqueue(queuedId, integration.id);
    const stopped = processor.stop();
    release();
    await stopped;
    expect(await first).toEqual({ status: 'PROCESSED', errors: [] });
    expect(await queued).toBeNull();
    expect((await deliveryRow(queuedId)).status).toBe('RECEIVED');
    await deps.db.prisma.webhookDelivery.update({ where: { id: queuedId }, data: { status: 'FAILED' } });
  });
});

async function waitForStatus(id: string, status: 'PROCESSED' | 'FAILED') {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const row = await deliveryRow(id);
    if (row.status === status) return row;
    if (Date.now() > deadline) throw new Error(`delivery ${id} is ${row.status}, expected ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
