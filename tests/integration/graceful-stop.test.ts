import { describe, expect, it } from '@jest/globals';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { seedOrganization } from '../support/seed.js';
import { startServer } from '../support/server.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('stop()', () => {
  it('finishes in-flight requests, closes sockets with 1001, and refuses new work', async () => {
    const server = await startServer();
    const org = await seedOrganization(server);
    const closed = new Promise<number>((resolve) => {
      const client = createClient({
        url: server.wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${org.admin.token}` },
        retryAttempts: 0,
        lazy: false,
        // The close is what this test waits for, not an error to report.
        onNonLazyError: () => undefined,
        on: { closed: (event) => resolve((event as { code: number }).code) },
      });
      void client;
    });
    await sleep(100);

    // A request whose body is still arriving when the stop begins.
    const body = new TransformStream<Uint8Array, Uint8Array>();
    const writer = body.writable.getWriter();
    const inFlight = fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: body.readable,
      duplex: 'half',
    } as RequestInit);
    await writer.write(new TextEncoder().encode('{"query":"{ __typ'));
    await sleep(100);
    const stopping = server.stop();
    await sleep(100);
    await writer.write(new TextEncoder().encode('ename }"}'));
    await writer.close();

    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    expect(await closed).toBe(1001);
    await stopping;
    await expect(fetch(`${server.url}/healthz`)).rejects.toThrow();
  });
});
