import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authenticator } from './auth/authenticator.js';
import { TokenVerifier } from './auth/tokens.js';
import type { AppConfig } from './config.js';
import { createDatabase, type Database } from './db/database.js';
import { clientAddress } from './http/client-address.js';
import { EventStreams } from './http/event-streams.js';
import { createGraphQLServer, GRAPHQL_PATH } from './http/graphql.js';
import { withBodyLimit } from './http/graphql-body-limit.js';
import { attachWebSocketServer } from './http/graphql-ws.js';
import { addHealthRoutes } from './http/health.js';
import { createRequestObserver } from './http/request-observer.js';
import { pathOf, Router, sendJson } from './http/router.js';
import { MemoryRateLimiter, type RateLimiter } from './limits/rate-limiter.js';
import { RateLimits } from './limits/rate-limits.js';
import { RedisRateLimiter } from './limits/redis-rate-limiter.js';
import { isServiceUnavailable } from './lib/errors.js';
import { requestIdOf } from './lib/request-context.js';
import { createLogger, type Logger } from './logger.js';
import { GraphQLMetrics } from './metrics/graphql-metrics.js';
import { Metrics } from './metrics/metrics.js';
import { addMetricsRoute } from './metrics/metrics-route.js';
import { type EventBus, MemoryEventBus, RedisEventBus } from './realtime/event-bus.js';
import { addWebhookRoutes } from './modules/webhooks/webhook.routes.js';
import { schema } from './schema/index.js';
import { createServices } from './services.js';

export interface App {
  /** Listens on config.port (0: any free port) and resolves with the base URL. */
  start(): Promise<{ url: string }>;
  /** Graceful stop: refuse new work, let in-flight requests finish, close sockets with 1001, disconnect. */
  stop(): Promise<void>;
  readonly services: ReturnType<typeof createServices>;
  readonly db: Database;
  readonly logger: Logger;
  readonly bus: EventBus;
  /** This app's metrics registry, served at /metrics; modules register their own metrics here. */
  readonly metrics: Metrics;
  /** Rate limits shared by GraphQL and the plain routes (`guardRoute`), in Redis when configured. */
  readonly rateLimits: RateLimits;
  /** The plain HTTP routes served beside /graphql. */
  readonly router: Router;
}

export function buildApp(config: AppConfig, options: { logger?: Logger } = {}): App {
  if (!config.databaseUrl)
    throw new Error('buildApp needs config.databaseUrl (main.ts starts an embedded PostgreSQL when it is unset)');
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const metrics = new Metrics();
  const db = createDatabase({ url: config.databaseUrl, poolSize: config.databasePoolSize, logger });
  const bus: EventBus = config.redisUrl
    ? new RedisEventBus({ url: config.redisUrl, prefix: config.redisPrefix, logger, metrics })
    : new MemoryEventBus({ logger, metrics });
  const limiter: RateLimiter = config.redisUrl
    ? new RedisRateLimiter({ url: config.redisUrl, prefix: config.redisPrefix })
    : new MemoryRateLimiter();
  const clientAddressOf = (request: IncomingMessage) => clientAddress(request, config.trustedProxyHops);
  const rateLimits = new RateLimits({ limiter, metrics, logger, clientAddressOf });
  const services = createServices({ config, db, bus, logger, metrics });
  const authenticator = new Authenticator(new TokenVerifier(config.jwt), services.directory);

  let stopping = false;
  const router = new Router();
  addHealthRoutes(router, { db, bus, isStopping: () => stopping });
  addMetricsRoute(router, { metrics, token: config.metricsToken });
  addWebhookRoutes(router, {
    integrations: services.integrations,
    deliveries: services.webhookDeliveries,
    logger,
    metrics,
    rateLimits,
    limits: config.webhooks,
  });
  const graphqlMetrics = new GraphQLMetrics(metrics, logger);
  const eventStreams = new EventStreams();
  const yoga = createGraphQLServer({
    config,
    schema,
    services,
    authenticator,
    prisma: db.prisma,
    logger,
    rateLimits,
    graphqlMetrics,
    eventStreams,
  });
  const observe = createRequestObserver({ metrics, logger, clientAddressOf });

  const serveGraphQL = withBodyLimit(yoga, {
    maxBytes: config.graphql.maxBodyBytes,
    timeoutMs: config.graphql.bodyTimeoutMs,
  });
  // /graphql and the webhooks answer a late body with 408 themselves; Node's own deadlines (whose 408 has no body)
  // come a little later and close whatever else a client keeps half-sent: headers, or a body no route reads.
  const bodyTimeoutMs = Math.max(config.graphql.bodyTimeoutMs, config.webhooks.bodyTimeoutMs);
  const serverTimeouts = {
    headersTimeout: bodyTimeoutMs,
    requestTimeout: bodyTimeoutMs + 5_000,
    connectionsCheckingInterval: 1_000,
  };
  let inFlight = 0;
  const server = createServer(serverTimeouts, (request: IncomingMessage, response: ServerResponse) => {
    const requestId = requestIdOf(request);
    response.setHeader('x-request-id', requestId);
    inFlight += 1;
    response.once('close', () => (inFlight -= 1));
    // Once stopping, keep-alive connections are told to close after their current response.
    if (stopping) response.setHeader('connection', 'close');
    const route = router.match(request, response);
    const isGraphQL = !route && pathOf(request) === GRAPHQL_PATH;
    observe(request, response, route ?? { name: isGraphQL ? 'graphql' : 'unmatched', quiet: false }, requestId);
    const handled = route
      ? route.handle()
      : isGraphQL
        ? serveGraphQL(request, response)
        : sendJson(response, 404, { error: 'Not found' });
    Promise.resolve(handled).catch((error: unknown) => {
      // The client left, or was cut off (408), before its request was complete: nothing failed on this side.
      if (!request.complete && (request.destroyed || response.destroyed)) {
        logger.debug({ err: error, requestId }, 'request aborted before its body arrived');
        return;
      }
      if (isServiceUnavailable(error)) {
        logger.warn({ err: error, requestId }, 'request failed: a backing service is unavailable');
        sendJson(response, 503, { error: 'Service temporarily unavailable; retry shortly' }, { 'retry-after': '5' });
        return;
      }
      logger.error({ err: error, requestId }, 'request failed');
      // A response already under way cannot change its status any more: end it, so the client is not left hanging.
      if (response.headersSent) response.destroy();
      else sendJson(response, 500, { error: 'Internal error' });
    });
  });
  const webSockets = attachWebSocketServer(server, {
    yoga,
    authenticator,
    users: services.directory,
    logger,
    metrics,
    graphqlMetrics,
    clientAddressOf,
    limits: config.webSocket,
    maxMessageBytes: config.graphql.maxBodyBytes,
    suggestions: config.graphql.suggestions,
  });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      stopping = true;
      logger.info({ inFlight, sockets: webSockets.clientCount() }, 'stopping');
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await webSockets.close();
      // Subscriptions over SSE never finish on their own: ended like the sockets, not waited for.
      eventStreams.endAll();
      const deadline = Date.now() + config.shutdownTimeoutMs;
      while (inFlight > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      server.closeAllConnections();
      await closed;
      await yoga.dispose();
      await services.stop();
      await bus.close();
      await limiter.close();
      await db.close();
      logger.info('stopped');
    })());

  return {
    services,
    db,
    logger,
    bus,
    metrics,
    rateLimits,
    router,
    async start() {
      if (!config.redisUrl)
        logger.warn(
          'REDIS_URL is not set: using the in-process event bus and rate limits; both stay inside this instance',
        );
      await Promise.all([
        bus instanceof RedisEventBus && bus.connect(),
        limiter instanceof RedisRateLimiter && limiter.connect(),
      ]);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      services.start();
      const { port } = server.address() as AddressInfo;
      const host = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
      const url = `http://${host}:${port}`;
      logger.info({ url: `${url}/graphql` }, 'serving GraphQL');
      return { url };
    },
    stop,
  };
}
