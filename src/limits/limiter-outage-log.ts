import type { Logger } from '../logger.js';

const OUTAGE_LOG_INTERVAL_MS = 5_000;

/**
 * Logs that the rate limiter is unreachable at most once every few seconds: while Redis is down every request
 * and every paced send would otherwise log the same failure.
 */
export function limiterOutageLog(logger: Logger, message: string): (fields: Record<string, unknown>) => void {
  let lastLoggedAt = 0;
  return (fields) => {
    const now = Date.now();
    if (now - lastLoggedAt < OUTAGE_LOG_INTERVAL_MS) return;
    lastLoggedAt = now;
    logger.error(fields, message);
  };
}
