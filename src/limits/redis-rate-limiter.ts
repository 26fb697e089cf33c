import { Redis } from 'ioredis';
import { type RateLimitCheck, type RateLimiter, type RateLimitVerdict, verdictFor } from './rate-limiter.js';

// One round trip, atomic, for the checks of every request that arrived in the same turn of the event loop:
// count each key, and open its window (its expiry) with the first unit. The expiry lives in Redis, so every
// instance sees the same window whatever its own clock says. A key that occurs twice is counted twice, in
// order, exactly as two round trips would. ARGV: each key's cost and window in ms, in pairs. Returns count
// and remaining ttl per key, flattened.
const CONSUME_SCRIPT = `
local results = {}
for index, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, ARGV[index * 2 - 1])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[index * 2])
    ttl = tonumber(ARGV[index * 2])
  end
  results[#results + 1] = count
  results[#results + 1] = ttl
end
return results
`;

interface PendingConsume {
  checks: RateLimitCheck[];
  cost: number;
  resolve: (verdicts: RateLimitVerdict[]) => void;
  reject: (error: unknown) => void;
}

interface WithConsumeCommand {
  chatRateLimitConsume(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
}

/** Counters in Redis, shared by every instance that uses the same REDIS_PREFIX. */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  private readonly redis: Redis;
  private readonly pending: PendingConsume[] = [];

  constructor(private readonly options: { url: string; prefix: string }) {
    // Like the event bus's publisher: while Redis is away, commands fail at once rather than queue, and the
    // caller (RateLimits) lets the request through.
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000),
      connectionName: 'chat-rate-limiter',
    });
    // Errors reach the caller through the failed command; without a listener ioredis would also print them.
    this.redis.on('error', () => undefined);
    // EVALSHA with the script's digest, falling back to EVAL once per connection.
    this.redis.defineCommand('chatRateLimitConsume', { lua: CONSUME_SCRIPT });
  }

  /** Resolves once connected, or after the timeout with reconnects continuing (requests pass meanwhile). */
  async connect(timeoutMs = 3_000): Promise<void> {
    await Promise.race([
      this.redis.connect().catch(() => undefined),
      new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
    ]);
  }

  consume(checks: RateLimitCheck[], cost = 1): Promise<RateLimitVerdict[]> {
    if (checks.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ checks, cost, resolve, reject });
      // After the other requests of this turn of the event loop have queued theirs: one script for all.
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    const checks = batch.flatMap((item) => item.checks.map((check) => ({ check, cost: item.cost })));
    try {
      const results = await (this.redis as unknown as WithConsumeCommand).chatRateLimitConsume(
        checks.length,
        ...checks.map(({ check }) => `${this.options.prefix}ratelimit:${check.policy.name}:${check.subject}`),
        ...checks.flatMap(({ check, cost }) => [cost, check.policy.windowMs]),
      );
      let offset = 0;
      for (const item of batch) {
        item.resolve(
          item.checks.map((check, index) =>
            verdictFor(check.policy, results[(offset + index) * 2]!, results[(offset + index) * 2 + 1]!),
          ),
        );
        offset += item.checks.length;
      }
    } catch (error) {
      batch.forEach((item) => item.reject(error));
    }
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
