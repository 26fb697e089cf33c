import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { jwtVerify } from 'jose';
import { environmentWithDotEnv } from '../../src/config.js';
import { freePort, runTs, waitFor } from '../support/process.js';

// A `.env` file in the working directory configures the server and the CLI alike; the process environment wins.

const secret = (label: string) => `${label}-${randomBytes(24).toString('hex')}`;

describe('.env', () => {
  it('is read under the process environment, which wins; no file is no change', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dotenv-'));
    try {
      expect(environmentWithDotEnv({ PORT: '1' }, dir)).toEqual({ PORT: '1' });
      await writeFile(
        path.join(dir, '.env'),
        '# settings\nPORT=4100\nLOG_LEVEL="debug"\nPUBLIC_URL=https://chat.example.com\n',
      );
      expect(environmentWithDotEnv({ PORT: '5000' }, dir)).toEqual({
        PORT: '5000',
        LOG_LEVEL: 'debug',
        PUBLIC_URL: 'https://chat.example.com',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a token minted by the CLI from .env works against the server started from the same .env', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'dotenv-'));
    const fromFile = secret('file');
    const port = await freePort();
    await writeFile(
      path.join(dir, '.env'),
      [
        `DATABASE_URL=${process.env.DATABASE_URL}`,
        `JWT_SECRET=${fromFile}`,
        'MIGRATE_ON_START=false',
        'LOG_LEVEL=error',
        'MEDIA_DOWNLOAD_WORKER_ENABLED=false',
        'OUTBOX_WORKER_ENABLED=false',
        `STORAGE_DIR=${path.join(dir, 'media')}`,
      ].join('\n'),
    );
    // Only what a shell would add: the rest comes from .env.
    const cli = async (args: string[], env: Record<string, string> = {}) => {
      const run = runTs('src/cli/index.ts', args, env, { cwd: dir });
      const code = await run.exited;
      if (code !== 0) throw new Error(`cli ${args[0]} exited ${code}: ${run.output()}`);
      return run.output().trim().split('\n').at(-1)!;
    };
    const server = runTs('src/main.ts', [], { PORT: String(port), HOST: '127.0.0.1' }, { cwd: dir });
    try {
      const email = `dotenv-${randomBytes(4).toString('hex')}@example.test`;
      const ids = JSON.parse(await cli(['create-organization', '--name', 'Dotenv Co', '--admin-email', email])) as {
        adminUserId: string;
      };
      const token = await cli(['token', '--email', email]);
      await jwtVerify(token, new TextEncoder().encode(fromFile));

      await waitFor(
        async () => ((await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok ? true : undefined),
        60_000,
        () => `readiness (output: ${server.output()})`,
        server,
      );
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: '{ viewer { id } }' }),
      });
      expect(await response.json()).toEqual({ data: { viewer: { id: ids.adminUserId } } });

      // The process environment wins over the file.
      const fromEnvironment = secret('env');
      const overridden = await cli(['token', '--email', email], { JWT_SECRET: fromEnvironment });
      await jwtVerify(overridden, new TextEncoder().encode(fromEnvironment));
      await expect(jwtVerify(overridden, new TextEncoder().encode(fromFile))).rejects.toThrow();
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
