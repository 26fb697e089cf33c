import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createIntegration, type TestIntegration } from '../support/platform.js';
import { randomLoopbackAddress, rawRequest, type RawAnswer, trickleRequest } from '../support/raw-http.js';
import { seedOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { signatureOf } from '../support/webhooks.js';

// The webhook routes are open to the internet: a sender whose requests are refused gets a bounded budget per
// address, spent before any signature is checked, and a body is not waited for forever.

const MEGABYTE = 1024 * 1024;
// The contract's budget: 100 refused requests per address per minute.
const BUDGET = 100;

let server: TestServer;
let integration: TestIntegration;
let url: string;

beforeAll(async () => {
  // The test run's servers give 127.0.0.1 an unlimited budget (every test file sends from it); this one has the
  // default, and each test below sends from an address of its own.
  server = await startServer({ env: { WEBHOOK_MAX_REFUSALS_PER_IP: undefined, WEBHOOK_BODY_TIMEOUT_MS: '1000' } });
  integration = await createIntegration(server, await seedOrganization(server), 'WHATSAPP');
  url = `${server.url}/webhooks/whatsapp/${integration.id}`;
});
afterAll(() => server.stop());

const answered = (answer: RawAnswer | 'no answer'): RawAnswer => {
  if (answer === 'no answer') throw new Error('no answer in time');
  return answer;
};

const unsigned = (localAddress: string) =>
  rawRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"object":"whatsapp_business_account","entry":[]}',
    localAddress,
  }).then(answered);

const badlySigned = (localAddress: string) =>
  rawRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureOf('not the secret', '{}') },
    body: '{}',
    localAddress,
  }).then(answered);

const handshake = (localAddress: string, token: string) =>
  rawRequest(`${url}?hub.mode=subscribe&hub.verify_token=${encodeURIComponent(token)}&hub.challenge=4242`, {
    localAddress,
  }).then(answered);

const signedDelivery = (localAddress: string) => {
  const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [] });
  return rawRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureOf(integration.appSecret, body) },
    body,
    localAddress,
  }).then(answered);
};

/** A POST announcing a 1 MiB body that it never sends: only an answer given without reading the body arrives. */
const stalledMegabyte = (localAddress: string) =>
  rawRequest(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureOf('guess', 'guess') },
    holdBody: MEGABYTE,
    localAddress,
    timeoutMs: 5_000,
  });

describe('refused webhook requests', () => {
  it('spend a budget per address: past 100, a request is answered 429 without its body being read', async () => {
    const attacker = randomLoopbackAddress();
    const refused: number[] = [];
    for (let index = 0; index < BUDGET; index += 1) {
      const answer = await [unsigned, badlySigned, (address: string) => handshake(address, 'wrong')][index % 3]!(
        attacker,
      );
      refused.push(answer.status);
    }
    expect(new Set(refused)).toEqual(new Set([401, 403]));

    const startedAt = Date.now();
    const next = await stalledMegabyte(attacker);
    expect(next).not.toBe('no answer');
    const answer = answered(next);
    expect(answer.status).toBe(429);
    expect(Number(answer.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    expect(Number(answer.headers['retry-after'])).toBeLessThanOrEqual(60);
    expect(JSON.parse(answer.body)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Date.now() - startedAt).toBeLessThan(2_000);

    // The flood goes on: each of its requests is turned away at once, whatever it claims to carry.
    const flood = await Promise.all(Array.from({ length: 200 }, () => stalledMegabyte(attacker)));
    expect(flood.map((reply) => (reply === 'no answer' ? reply : reply.status))).toEqual(flood.map(() => 429));
    expect((await handshake(attacker, integration.verifyToken)).status).toBe(429);

    // Meta, from its own addresses, is not affected.
    const meta = randomLoopbackAddress();
    expect((await signedDelivery(meta)).status).toBe(200);
    const verified = await handshake(meta, integration.verifyToken);
    expect([verified.status, verified.body]).toEqual([200, '4242']);
  }, 30_000);

  it("are counted only when refused: Meta's own deliveries spend nothing", async () => {
    const meta = randomLoopbackAddress();
    const statuses = new Set<number>();
    for (let index = 0; index < BUDGET + 20; index += 1) statuses.add((await signedDelivery(meta)).status);
    expect([...statuses]).toEqual([200]);
    expect((await handshake(meta, integration.verifyToken)).status).toBe(200);
  }, 30_000);
});

describe('a webhook body that trickles in', () => {
  it('is answered 408 once WEBHOOK_BODY_TIMEOUT_MS has passed', async () => {
    const body = JSON.stringify({ object: 'whatsapp_business_account', entry: [] });
    const answer = await trickleRequest(url, {
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': signatureOf(integration.appSecret, body) },
      body,
      localAddress: randomLoopbackAddress(),
    });
    expect(answer.status).toBe(408);
    expect(answer.afterMs).toBeLessThan(3_000);
  });
});
