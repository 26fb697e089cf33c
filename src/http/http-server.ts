import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isServiceUnavailable } from '../lib/errors.js';
import { requestIdOf } from '../lib/request-context.js';
import type { Logger } from '../logger.js';
import type { ObservedRoute } from './request-observer.js';
import { pathOf, type Router, sendJson } from './router.js';

export interface HttpServerDeps {
  router: Router;
  /** The path and handler of GraphQL over HTTP (yoga, behind its body limits). */
  graphql: { path: string; serve: (request: IncomingMessage, response: ServerResponse) => Promise<void> };
  /** Records each request (metrics, access log) once its response is done. */
  observe: (request: IncomingMessage, response: ServerResponse, route: ObservedRoute, requestId: string) => void;
  logger: Logger;
  /**
   * The longest time a route may wait for a request's body. /graphql and the webhooks answer a late body with 408
   * themselves; Node's own deadlines (whose 408 has no body) come a little later and close whatever else a client
   * keeps half-sent: headers, or a body no route reads.
   */
  bodyTimeoutMs: number;
  /** How long an upload's body may take (the upload route answers 408 itself, a little before Node would). */
  uploadTimeoutMs: number;
}

/**
 * The one HTTP server: each request gets its id, is routed (plain routes first, then GraphQL, else 404) and
 * observed; a failure nobody answered becomes a 503 when a backing service is down, else a 500 without detail.
 * It counts the requests in flight, so that a graceful stop can wait for them.
 */
export function createHttpServer(deps: HttpServerDeps) {
  const { router, graphql, observe, logger } = deps;
  let inFlight = 0;
  let stopping = false;
  const server = createServer(
    {
      headersTimeout: deps.bodyTimeoutMs,
      requestTimeout: Math.max(deps.bodyTimeoutMs, deps.uploadTimeoutMs) + 5_000,
      connectionsCheckingInterval: 1_000,
    },
    (request: IncomingMessage, response: ServerResponse) => {
      const requestId = requestIdOf(request);
      response.setHeader('x-request-id', requestId);
      inFlight += 1;
      response.once('close', () => (inFlight -= 1));
      // Once stopping, keep-alive connections are told to close after their current response.
      if (stopping) response.setHeader('connection', 'close');
      const route = router.match(request, response);
      const isGraphQL = !route && pathOf(request) === graphql.path;
      observe(request, response, route ?? { name: isGraphQL ? 'graphql' : 'unmatched', quiet: false }, requestId);
      const handled = route
        ? route.handle()
        : isGraphQL
          ? graphql.serve(request, response)
          : sendJson(response, 404, { error: 'Not found' });
      Promise.resolve(handled).catch((error: unknown) => answerFailure(request, response, error, requestId));
    },
  );

  function answerFailure(request: IncomingMessage, response: ServerResponse, error: unknown, requestId: string) {
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
  }

  return {
    server,
    get isStopping() {
      return stopping;
    },
    get inFlight() {
      return inFlight;
    },
    /** Stops accepting connections; resolves once the server has closed (see `drain`). */
    stopAccepting(): Promise<void> {
      stopping = true;
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
    /** Lets the requests in flight finish, for at most `timeoutMs`; then closes every connection. */
    async drain(timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0 && Date.now() < deadline) {
        server.closeIdleConnections();
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      server.closeAllConnections();
    },
  };
}
