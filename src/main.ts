// The server's entry point, and the only module with side effects: it reads the environment (and .env), starts an
// embedded PostgreSQL when no DATABASE_URL is given, applies migrations, serves, and stops gracefully.
import { createRequire } from 'node:module';
import { buildApp } from './app.js';
import { ConfigError, environmentWithDotEnv, loadConfig } from './config.js';
import type { EmbeddedDatabase } from './db/embedded-postgres.js';
import { prepareDatabase } from './db/prepare.js';
import { createLogger } from './logger.js';

let config;
try {
  config = loadConfig(environmentWithDotEnv());
} catch (error) {
  if (!(error instanceof ConfigError)) throw error;
  for (const problem of error.problems) console.error(`configuration error: ${problem}`);
  process.exit(1);
}

const prettyLogs = config.env === 'development' && process.stdout.isTTY && canResolve('pino-pretty');
const logger = createLogger({ level: config.logLevel, pretty: prettyLogs });
for (const name of config.developmentDefaults) {
  logger.warn(`${name} is not set: using a development default (never do this in production)`);
}

let embedded: EmbeddedDatabase | undefined;
try {
  const prepared = await prepareDatabase(config, logger);
  embedded = prepared.embedded;
  config = { ...config, databaseUrl: prepared.databaseUrl };
} catch (error) {
  logger.fatal({ err: error }, 'could not prepare the database');
  process.exit(1);
}

const app = buildApp(config, { logger });
await app.start();

let firstSignalAt: number | undefined;
const shutdown = async (signal: NodeJS.Signals) => {
  // A terminal's Ctrl-C reaches both tsx and this process, which tsx also relays: a repeat within a second
  // is that echo. A later one is the operator insisting.
  if (firstSignalAt !== undefined) {
    if (Date.now() - firstSignalAt < 1_000) return;
    logger.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  firstSignalAt = Date.now();
  logger.info({ signal }, 'shutting down');
  try {
    await app.stop();
    await embedded?.stop();
    process.exit(0);
  } catch (error) {
    logger.error({ err: error }, 'unclean shutdown');
    process.exit(1);
  }
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);

function canResolve(specifier: string): boolean {
  try {
    createRequire(import.meta.url).resolve(specifier);
    return true;
  } catch {
    return false;
  }
}
