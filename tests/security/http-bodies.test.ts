import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createIntegration } from '../support/platform.js';
import { rawRequest, trickleRequest } from '../support/raw-http.js';
import { seedOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { capturingLogger } from '../support/webhooks.js';

// Request bodies as an attacker sends them: malformed, trickling in, or abandoned halfway.

const log = capturingLogger('debug');
let server: TestServer;
let webhookPath: string;

beforeAll(async () => {
  server = await startServer({ logger: log.logger, env: { GRAPHQL_BODY_TIMEOUT_MS: '1000' } });
  const integration = await createIntegration(server, await seedOrganization(server), 'WHATSAPP');
  webhookPath = `/webhooks/whatsapp/${integration.id}`;
});
afterAll(() => server.stop());

describe('a malformed JSON body on /graphql', () => {
  it.each([
    ['no Accept header', undefined],
    ['application/json', 'application/json'],
    ['the GraphQL response type', 'application/graphql-response+json'],
    ['anything', '*/*'],
  ])('is a 400 with a GraphQL error body and a code, accepting %s', async (_case, accept) => {
    const answer = await rawRequest(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(accept ? { accept } : {}) },
      body: '{"query": "{ __typename }"',
    });
    if (answer === 'no answer') throw new Error('no answer');
    expect(answer.status).toBe(400);
    const body = JSON.parse(answer.body) as { errors: { message: string; extensions: { code: string } }[] };
    expect(body.errors).toEqual([{ message: expect.any(String), extensions: { code: 'BAD_REQUEST' } }]);
  });
});

describe('a body that trickles in', () => {
  it.each([
    ['announcing its length', {}],
    ['in chunks', { 'transfer-encoding': 'chunked' }],
  ])('is answered 408 once GRAPHQL_BODY_TIMEOUT_MS has passed (%s)', async (_case, headers) => {
    // Long enough that, a byte at a time, it would still be arriving when the test gives up.
    const query = JSON.stringify({ query: `{ __typename }${' '.repeat(60)}` });
    const body = 'transfer-encoding' in headers ? `${query.length.toString(16)}\r\n${query}\r\n0\r\n\r\n` : query;
    const requestId = `trickling-${Math.random().toString(36).slice(2)}`;
    const answer = await trickleRequest(server.graphqlUrl, {
      headers: { 'content-type': 'application/json', 'x-request-id': requestId, ...headers },
      body,
    });
    expect(answer.status).toBe(408);
    expect(answer.afterMs).toBeLessThan(3_000);
    expect(answer.text).toMatch(/connection: close/i);
    expect(answer.text).toContain('"code":"REQUEST_TIMEOUT"');
    // Cutting the client off is not a failure of the server's either.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const lines = log.lines().filter((line) => line.requestId === requestId);
    expect(lines.filter((line) => (line.level as number) > 30)).toEqual([]);
  });
});

describe('a client that leaves in the middle of its body', () => {
  it.each([
    ['/graphql, announcing its length', () => '/graphql', 'content-length: 1000'],
    ['/graphql, in chunks', () => '/graphql', 'transfer-encoding: chunked'],
    ['a webhook', () => webhookPath, 'content-length: 1000'],
  ])('is logged as an aborted request, not as a failure of the server (%s)', async (_case, pathOf, framing) => {
    const requestId = `aborting-${Math.random().toString(36).slice(2)}`;
    const target = new URL(server.url);
    const socket = connect(Number(target.port), target.hostname);
    await new Promise((resolve) => socket.once('connect', resolve));
    const part = '{"query":"{ __typ';
    const chunk = framing.startsWith('transfer') ? `100\r\n${part}` : part;
    socket.write(
      `POST ${pathOf()} HTTP/1.1\r\nhost: ${target.host}\r\ncontent-type: application/json\r\n${framing}\r\n` +
        `x-hub-signature-256: sha256=${'0'.repeat(64)}\r\nx-request-id: ${requestId}\r\n\r\n${chunk}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    socket.destroy();

    const deadline = Date.now() + 3_000;
    const ours = () => log.lines().filter((line) => line.requestId === requestId);
    while (!ours().some((line) => line.msg === 'request completed') && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 20));
    await new Promise((resolve) => setTimeout(resolve, 200));
    const lines = ours();
    expect(lines.find((line) => line.msg === 'request completed')).toMatchObject({ res: { aborted: true } });
    // Info (30) at most: the client's doing, not the server's.
    expect(lines.filter((line) => (line.level as number) > 30)).toEqual([]);
    expect(JSON.stringify(lines)).not.toMatch(/backing service|unavailable|request failed/i);
  });
});
