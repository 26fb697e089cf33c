import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { freePort, runTs, waitFor } from '../support/process.js';

describe('npm start (src/main.ts)', () => {
  it('with no configuration runs an embedded PostgreSQL, migrates, serves GraphQL, and stops cleanly on SIGTERM', async () => {
    const dataDir = await mkdtemp(path.join(tmpdir(), 'chat-embedded-'));
    // As root, PostgreSQL runs as the postgres user, who must be able to enter the directory.
    await chmod(dataDir, 0o755);
    const port = await freePort();
    const server = runTs('src/main.ts', [], { PORT: String(port), EMBEDDED_POSTGRES_DIR: path.join(dataDir, 'pg') });
    try {
      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined),
        60_000,
        () => `readiness (output: ${server.output()})`,
        server,
      );
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
      expect(server.output()).toContain('in-process event bus');
      expect(server.output()).toContain('JWT_SECRET is not set');
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      expect(server.output()).toContain('"msg":"stopped"');
    } finally {
      server.child.kill('SIGKILL');
      await rm(dataDir, { recursive: true, force: true });
    }
  }, 90_000);

  it('refuses a bad configuration with one line per problem and exit code 1', async () => {
    const run = runTs('src/main.ts', [], { PORT: 'none', REDIS_URL: 'http://redis', NODE_ENV: 'production' });
    expect(await run.exited).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines).toEqual([
      expect.stringMatching(/^configuration error: PORT: /),
      expect.stringMatching(/^configuration error: REDIS_URL: /),
    ]);
  }, 30_000);
});
