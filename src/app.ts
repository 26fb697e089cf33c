import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Authenticator } from './auth/authenticator.js';
import { TokenVerifier } from './auth/tokens.js';
import type { AppConfig } from './config.js';
import { createBackingServices } from './backing-services.js';
import type { Database } from './db/database.js';
import { clientAddress } from './http/client-address.js';
import { EventStreams } from './http/event-streams.js';
import { createErrorHandling } from './http/errors.js';
import { createGraphQLServer, GRAPHQL_PATH } from './http/graphql.js';
import { SharedSubscriptionExecution } from './http/shared-subscription-execution.js';
import { withBodyLimit } from './http/graphql-body-limit.js';
import { attachWebSocketServer } from './http/graphql-ws.js';
import { addHealthRoutes } from './http/health.js';
import { createRequestObserver } from './http/request-observer.js';
import { createHttpServer } from './http/http-server.js';
import { Router } from './http/router.js';
import type { RateLimits } from './limits/rate-limits.js';
import { createLogger, type Logger } from './logger.js';
import { GraphQLMetrics } from './metrics/graphql-metrics.js';
import type { Metrics } from './metrics/metrics.js';
import { addMetricsRoute } from './metrics/metrics-route.js';
import type { EventBus } from './realtime/event-bus.js';
import { addWebhookRoutes } from './modules/webhooks/webhook.routes.js';
import { addOidcRoutes } from './modules/accounts/oidc.routes.js';
import { addMediaRoutes } from './modules/media/media.routes.js';
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
  const logger = options.logger ?? createLogger({ level: config.logLevel });
  const backing = createBackingServices(config, logger);
  const { db, bus, metrics } = backing;
  const clientAddressOf = (request: IncomingMessage) => clientAddress(request, config.trustedProxyHops);
  const services = createServices(backing);
  const { rateLimits } = services;
  const authenticator = new Authenticator(new TokenVerifier(config.jwt), services.directory);

  const router = new Router();
  addHealthRoutes(router, { db, bus, isStopping: () => http.isStopping });
  addMetricsRoute(router, { metrics, token: config.metricsToken });
  addWebhookRoutes(router, {
    integrations: services.integrations,
    deliveries: services.webhookDeliveries,
    logger,
    metrics,
    rateLimits,
    limits: config.webhooks,
  });
  addOidcRoutes(router, {
    singleSignOn: services.singleSignOn,
    rateLimits,
    logger,
    linksUrl: config.accounts.linksUrl,
    secureCookies: config.publicUrl.startsWith('https:'),
  });
  addMediaRoutes(router, {
    uploads: services.uploads,
    links: services.mediaLinks,
    uploadTimeoutMs: config.media.uploadTimeoutMs,
  });
  const graphqlMetrics = new GraphQLMetrics(metrics, logger);
  const eventStreams = new EventStreams();
  const errors = createErrorHandling(logger, { suggestions: config.graphql.suggestions });
  const subscriptionExecution = new SharedSubscriptionExecution({
    counted: (scope) => graphqlMetrics.countSubscriptionExecution(scope),
    finish: errors.finishResult,
  });
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
    errors,
    subscriptionExecution,
  });
  const http = createHttpServer({
    router,
    graphql: {
      path: GRAPHQL_PATH,
      serve: withBodyLimit(yoga, { maxBytes: config.graphql.maxBodyBytes, timeoutMs: config.graphql.bodyTimeoutMs }),
    },
    observe: createRequestObserver({ metrics, logger, clientAddressOf }),
    logger,
    bodyTimeoutMs: Math.max(config.graphql.bodyTimeoutMs, config.webhooks.bodyTimeoutMs),
    uploadTimeoutMs: config.media.uploadTimeoutMs,
  });
  const { server } = http;
  const webSockets = attachWebSocketServer(server, {
    yoga,
    authenticator,
    users: services.directory,
    presence: services.presence,
    logger,
    metrics,
    graphqlMetrics,
    clientAddressOf,
    limits: config.webSocket,
    maxMessageBytes: config.graphql.maxBodyBytes,
    errors,
    subscriptionExecution,
  });

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      logger.info({ inFlight: http.inFlight, sockets: webSockets.clientCount() }, 'stopping');
      const closed = http.stopAccepting();
      await webSockets.close();
      // Subscriptions over SSE never finish on their own: ended like the sockets, not waited for.
      eventStreams.endAll();
      await http.drain(config.shutdownTimeoutMs);
      await closed;
      await yoga.dispose();
      await services.stop();
      await backing.close();
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
      await backing.connect();
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
