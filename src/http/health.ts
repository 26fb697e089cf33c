import type { Database } from '../db/database.js';
import type { EventBus } from '../realtime/event-bus.js';
import { type Router, sendJson } from './router.js';

const CHECK_TIMEOUT_MS = 2_000;

const withTimeout = <T>(work: Promise<T>, ms: number) =>
  Promise.race([work, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), ms).unref())]);

/** `/healthz`: the process answers. `/readyz`: it can serve, i.e. the database and (when configured) Redis answer. */
export function addHealthRoutes(
  router: Router,
  deps: { db: Database; bus: EventBus; isStopping: () => boolean },
): void {
  router.add({
    name: 'healthz',
    quiet: true,
    method: ['GET', 'HEAD'],
    path: /^\/healthz\/?$/,
    handler: (_request, response) => sendJson(response, 200, { status: 'ok' }),
  });
  router.add({
    name: 'readyz',
    quiet: true,
    method: ['GET', 'HEAD'],
    path: /^\/readyz\/?$/,
    handler: async (_request, response) => {
      const checks: Record<string, string> = {};
      checks.database = await withTimeout(deps.db.ping(), CHECK_TIMEOUT_MS).then(
        () => 'ok',
        () => 'unreachable',
      );
      if (deps.bus.kind === 'redis') checks.redis = deps.bus.isHealthy() ? 'ok' : 'unreachable';
      if (deps.isStopping()) checks.server = 'stopping';
      const ready = Object.values(checks).every((value) => value === 'ok');
      sendJson(response, ready ? 200 : 503, { status: ready ? 'ok' : 'unavailable', checks });
    },
  });
}
