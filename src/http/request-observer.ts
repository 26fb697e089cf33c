import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { pathOf } from './router.js';

export interface ObservedRoute {
  /** The route's label: a router route's name, `graphql`, or `unmatched`. */
  name: string;
  /** Logged at debug level (probes, scrapes). */
  quiet: boolean;
}

/**
 * Records each HTTP request when its response is done or abandoned: its count by route, method and status, its
 * latency, and one access log line with the request id. Headers are logged as they came (the logger redacts
 * Authorization, cookies and signatures); the query string is not, since it may carry tokens.
 */
export function createRequestObserver(deps: {
  metrics: Metrics;
  logger: Logger;
  clientAddressOf: (request: IncomingMessage) => string;
}) {
  const requests = deps.metrics.counter({
    name: 'chat_http_requests_total',
    help: 'HTTP requests by route, method and status ("aborted": the client left before the response)',
    labelNames: ['route', 'method', 'status'],
  });
  const duration = deps.metrics.histogram({
    name: 'chat_http_request_duration_seconds',
    help: 'HTTP request latency by route and method',
    labelNames: ['route', 'method'],
  });
  return (request: IncomingMessage, response: ServerResponse, route: ObservedRoute, requestId: string): void => {
    const startedAt = performance.now();
    // Read now: by the time the response closes, the request may no longer have its socket.
    const remoteAddress = deps.clientAddressOf(request);
    response.once('close', () => {
      const seconds = (performance.now() - startedAt) / 1_000;
      const method = request.method ?? 'GET';
      const aborted = !response.writableFinished;
      requests.inc({ route: route.name, method, status: aborted ? 'aborted' : String(response.statusCode) });
      duration.observe({ route: route.name, method }, seconds);
      const entry = {
        requestId,
        req: { method, path: pathOf(request), headers: request.headers, remoteAddress },
        res: { statusCode: response.statusCode, ...(aborted ? { aborted } : {}) },
        durationMs: Math.round(seconds * 1_000),
      };
      if (route.quiet) deps.logger.debug(entry, 'request completed');
      else deps.logger.info(entry, 'request completed');
    });
  };
}
