const MAX_RETRY_DELAY_MS = 3600_000;

/**
 * How long background work waits before its next attempt: `baseMs` after the first failure, doubling with each
 * further one, at most an hour, with ±20 % jitter so that work that failed together does not retry in one instant.
 */
export function retryDelay(baseMs: number, attempts: number): number {
  const exponential = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
  return Math.round(exponential * (0.8 + Math.random() * 0.4));
}
