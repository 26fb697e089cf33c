import { describe, expect, it } from '@jest/globals';
import { seedOrganization } from '../support/seed.js';
import { startServer } from '../support/server.js';

// A client that holds a subscription open must not be able to hold up a deployment.

describe('a graceful stop', () => {
  it('ends open SSE subscriptions at once, cleanly, instead of waiting out the shutdown timeout', async () => {
    const server = await startServer({ env: { SHUTDOWN_TIMEOUT_MS: '10000' } });
    const org = await seedOrganization(server);
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${org.admin.token}`,
      },
      body: JSON.stringify({ query: 'subscription { viewerEvents { __typename } }' }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    // The stream is open once its first bytes (a keep-alive comment) have arrived.
    expect((await reader.read()).done).toBe(false);

    const startedAt = Date.now();
    const stopped = server.stop();
    let ended: 'cleanly' | 'with an error' | undefined;
    const readToEnd = (async () => {
      try {
        while (!(await reader.read()).done);
        ended = 'cleanly';
      } catch {
        ended = 'with an error';
      }
    })();
    await stopped;
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    await readToEnd;
    expect(ended).toBe('cleanly');
  }, 20_000);
});
