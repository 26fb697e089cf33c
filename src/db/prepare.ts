import type { AppConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { startEmbeddedPostgres, type EmbeddedDatabase } from './embedded-postgres.js';
import { applyMigrations } from './migrations.js';

/**
 * The database the server (or the CLI) will use: DATABASE_URL, or else the embedded PostgreSQL. Migrations
 * are applied when configured, and always for the embedded database, which nobody else migrates.
 */
export async function prepareDatabase(
  config: AppConfig,
  logger: Logger,
): Promise<{ databaseUrl: string; embedded?: EmbeddedDatabase }> {
  let embedded: EmbeddedDatabase | undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    logger.info('DATABASE_URL is not set: using an embedded PostgreSQL');
    embedded = await startEmbeddedPostgres({ dir: config.embeddedPostgresDir, logger });
    databaseUrl = embedded.url;
  }
  try {
    if (config.migrateOnStart || embedded) await applyMigrations(databaseUrl, logger);
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  return { databaseUrl, embedded };
}
