import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken } from '../auth/tokens.js';
import { type Router, sendJson } from '../http/router.js';
import type { Metrics } from './metrics.js';

/**
 * `GET /metrics`: the Prometheus text exposition. With a token configured (METRICS_TOKEN) a scraper must send it
 * as a bearer token; without one the route is open, for deployments that keep it on an internal network.
 */
export function addMetricsRoute(router: Router, deps: { metrics: Metrics; token: string | undefined }): void {
  router.add({
    name: 'metrics',
    quiet: true,
    method: ['GET', 'HEAD'],
    path: /^\/metrics\/?$/,
    handler: async (request, response) => {
      if (deps.token !== undefined && !presentsToken(request, deps.token)) {
        sendJson(response, 401, { error: 'A valid bearer token is required' }, { 'www-authenticate': 'Bearer' });
        return;
      }
      const { contentType, body } = await deps.metrics.exposition();
      response.writeHead(200, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
      response.end(request.method === 'HEAD' ? undefined : body);
    },
  });
}

function presentsToken(request: IncomingMessage, expected: string): boolean {
  const presented = Buffer.from(bearerToken(request.headers.authorization) ?? '');
  const wanted = Buffer.from(expected);
  return presented.length === wanted.length && timingSafeEqual(presented, wanted);
}
