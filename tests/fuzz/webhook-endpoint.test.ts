import { createHmac } from 'node:crypto';
import { useFixture } from '../support/fixture.js';
import { beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createChannel } from '../support/messaging.js';
import { createIntegration, type TestIntegration } from '../support/platform.js';
import { waitFor } from '../support/process.js';

// Thousands of hostile deliveries against the real webhook route: unsigned, wrongly signed, signed garbage, and
// signed JSON in shapes near and far from Meta's. FUZZ_RUNS sets the runs per property (default 1000).
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const REQUEST_TIMEOUT_MS = 10_000;

const { server, org } = useFixture({ organization: { users: ['Alice'], clients: ['Cora'] } });
let integration: TestIntegration;
let url: string;

beforeAll(async () => {
  integration = await createIntegration(server(), org(), 'WHATSAPP', { platformAccountId: '1098765432199' });
  const channel = await createChannel(server(), org().users.Alice!, { channelType: 'PRIVATE' });
  await server().app.services.clientAssignments.assign(org().admin.session, {
    clientUserId: org().clients.Cora!.id,
    channelId: channel.id,
  });
  // A linked customer, so that generated messages that do route create real rows.
  const link = await server().app.services.clientLinks.create(org().admin.session, {
    clientUserId: org().clients.Cora!.id,
    platformIntegrationId: integration.id,
  });
  await server().app.services.clientLinks.verify(
    integration,
    { platformUserId: '4915000000001', scopedUserId: null },
    link.verificationCode!,
  );
  url = `${server().url}/webhooks/whatsapp/${integration.id}`;
});

const sign = (body: Uint8Array | string) =>
  `sha256=${createHmac('sha256', integration.appSecret).update(body).digest('hex')}`;

async function post(payload: Uint8Array, headers: Record<string, string>): Promise<{ status: number; text: string }> {
  const response = await fetch(url, {
    method: 'POST',
    headers,
    body: Buffer.from(payload),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: response.status, text: await response.text() };
}

/** Meta's WhatsApp envelope with generated values where Meta puts real ones. */
const nearlyMeta = fc
  .record({
    from: fc.oneof(fc.constant('4915000000001'), fc.string({ maxLength: 20 })),
    id: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.uuid().map((id) => `wamid.${id}`),
    ),
    type: fc.constantFrom(
      'text',
      'image',
      'audio',
      'document',
      'reaction',
      'button',
      'interactive',
      'unsupported',
      'sticker',
      '',
      'x',
    ),
    text: fc.oneof(fc.record({ body: fc.string({ maxLength: 200 }) }), fc.anything()),
    timestamp: fc.oneof(fc.string({ maxLength: 12 }), fc.integer().map(String), fc.constant('1697043223')),
    extra: fc.dictionary(fc.string({ maxLength: 8 }), fc.anything(), { maxKeys: 4 }),
    phoneNumberId: fc.oneof(fc.constant('1098765432199'), fc.string({ maxLength: 15 })),
    statuses: fc.array(fc.anything(), { maxLength: 3 }),
  })
  .map((generated) =>
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
                metadata: { display_phone_number: '1555', phone_number_id: generated.phoneNumberId },
                contacts: [{ profile: { name: 'x' }, wa_id: generated.from }],
                messages: [
                  {
                    from: generated.from,
                    id: generated.id,
                    timestamp: generated.timestamp,
                    type: generated.type,
                    text: generated.text,
                    ...generated.extra,
                  },
                ],
                statuses: generated.statuses,
              },
            },
          ],
        },
      ],
    }),
  );

const anyJson = fc.jsonValue({ maxDepth: 6 }).map((value) => JSON.stringify(value));
const bytes = fc.uint8Array({ maxLength: 4_096 });
const body = fc.oneof(
  { weight: 3, arbitrary: nearlyMeta.map((text) => new TextEncoder().encode(text)) },
  { weight: 1, arbitrary: anyJson.map((text) => new TextEncoder().encode(text)) },
  { weight: 1, arbitrary: bytes },
);

describe('the webhook route under hostile input', () => {
  it('never answers 5xx, never hangs, and answers every request as the contract says', async () => {
    await fc.assert(
      fc.asyncProperty(
        body,
        fc.constantFrom('signed', 'unsigned', 'wrong', 'malformed'),
        fc.constantFrom('application/json', 'text/plain', ''),
        async (payload, signing, contentType) => {
          const signature = {
            signed: sign(payload),
            unsigned: undefined,
            wrong: sign(`${Buffer.from(payload).toString('latin1')}!`),
            malformed: 'sha256=not-hex',
          }[signing];
          const { status } = await post(payload, {
            ...(contentType ? { 'content-type': contentType } : {}),
            ...(signature ? { 'x-hub-signature-256': signature } : {}),
          });
          expect(status).toBeLessThan(500);
          if (signing !== 'signed') expect(status).toBe(401);
          else {
            let isJson = true;
            try {
              JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(payload));
            } catch {
              isJson = false;
            }
            expect(status).toBe(isJson ? 200 : 400);
          }
        },
      ),
      { numRuns: RUNS, seed: SEED },
    );
  }, 300_000);

  it('leaves no delivery half-processed and no message half-stored', async () => {
    // Everything stored above is processed to an end state...
    await waitFor(
      async () => {
        const pending = await server().app.db.prisma.webhookDelivery.count({
          where: { platformIntegrationId: integration.id, status: 'RECEIVED' },
        });
        return pending === 0 ? true : undefined;
      },
      60_000,
      () => 'every fuzzed delivery to be processed',
    );
    // ...and every message the fuzzing created is whole: routed to the client's channel, with its platform key.
    const messages = await server().app.db.prisma.message.findMany({
      where: { platformIntegrationId: integration.id },
    });
    expect(messages.length).toBeGreaterThan(0);
    for (const message of messages) {
      expect(message.userId).toBe(org().clients.Cora!.id);
      expect(message.externalMessageId).toEqual(expect.any(String));
      expect(message.messageSource).toBe('WHATSAPP');
      expect(message.eventSeq).toBeGreaterThan(0n);
    }
    const failed = await server().app.db.prisma.webhookDelivery.findMany({
      where: { platformIntegrationId: integration.id, status: 'FAILED' },
      select: { errors: true },
    });
    for (const delivery of failed) expect(Array.isArray(delivery.errors) && delivery.errors.length > 0).toBe(true);
  }, 120_000);
});
