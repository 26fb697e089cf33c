import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../lib/project-root.js';
import type { Logger } from '../logger.js';

/**
 * Applies prisma/migrations with `prisma migrate deploy` itself, so the `_prisma_migrations` bookkeeping is
 * Prisma's own: a database migrated at start-up and one migrated by an operator's `prisma migrate deploy` are
 * the same. Concurrent instances are safe (Prisma takes an advisory lock).
 */
export async function applyMigrations(databaseUrl: string, logger: Logger): Promise<void> {
  const prismaPackage = createRequire(import.meta.url).resolve('prisma/package.json');
  const cli = path.join(path.dirname(prismaPackage), 'build', 'index.js');
  const output: string[] = [];
  const exitCode = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(process.execPath, [cli, 'migrate', 'deploy'], {
      cwd: projectRoot,
      env: { ...process.env, DATABASE_URL: databaseUrl, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.on('error', reject);
    child.on('close', resolve);
  });
  const text = output.join('').trim();
  if (exitCode !== 0) throw new Error(`prisma migrate deploy failed (exit ${exitCode}):\n${text}`);
  const applied = /(\d+) migrations? found/.exec(text)?.[1];
  logger.info({ migrationsFound: applied ? Number(applied) : undefined }, 'database migrations applied');
}
