import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp, type App } from '../../src/app.js';
import { type AppConfig, loadConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';

export const TEST_JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

export interface TestServer {
  app: App;
  config: AppConfig;
  url: string;
  graphqlUrl: string;
  wsUrl: string;
  stop(): Promise<void>;
}

/** The test run's configuration: its own database, its own Redis prefix, a fixed JWT secret, any free port. */
export function testConfig(overrides: Record<string, string | undefined> = {}): AppConfig {
  return loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: process.env.DATABASE_URL,
    DATABASE_POOL_SIZE: '5',
    REDIS_URL: process.env.REDIS_URL,
    REDIS_PREFIX: process.env.TEST_REDIS_PREFIX,
    JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    SHUTDOWN_TIMEOUT_MS: '5000',
    // Every test client is 127.0.0.1 and every app of the run shares its Redis prefix, so the per-IP and per-user
    // mutation limits would be one budget for the whole run: out of the way, unless a test sets its own.
    RATE_LIMIT_MUTATIONS_PER_USER: '1000000',
    RATE_LIMIT_MUTATIONS_PER_IP: '1000000',
    // Likewise the webhook routes' budget of refusals per address (the fuzz tests alone send thousands).
    WEBHOOK_MAX_REFUSALS_PER_IP: '1000000',
    // Sign-in failures per address are one budget for the run too (the fuzz tests sign in with hostile values).
    SIGN_IN_FAILURES_PER_IP: '1000000',
    // Test files share one database: only the tests of the outbox run a sender (against their fake Graph API).
    OUTBOX_WORKER_ENABLED: 'false',
    // Like the outbox sender: only the media tests download platform media (from their own fake Graph API).
    MEDIA_DOWNLOAD_WORKER_ENABLED: 'false',
    // Attachments go to a scratch directory, never into the working tree.
    STORAGE_DIR: path.join(tmpdir(), 'chat-test-media'),
    ...overrides,
  });
}

/** A real server (HTTP and graphql-ws) on a free port, backed by the run's PostgreSQL and, by default, Redis. */
export async function startServer(
  options: { redis?: boolean; env?: Record<string, string | undefined>; logger?: Logger } = {},
): Promise<TestServer> {
  const config = testConfig({ ...(options.redis === false ? { REDIS_URL: undefined } : {}), ...options.env });
  const app = buildApp(config, { logger: options.logger ?? createLogger({ level: config.logLevel }) });
  const { url } = await app.start();
  return {
    app,
    config,
    url,
    graphqlUrl: `${url}/graphql`,
    wsUrl: `${url.replace(/^http/, 'ws')}/graphql`,
    stop: () => app.stop(),
  };
}
