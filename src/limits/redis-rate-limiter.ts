import { Redis } from 'ioredis';
import { type RateLimitCheck, type RateLimiter, type RateLimitVerdict, verdictFor } from './rate-limiter.js';

// One round trip for all of a request's checks, atomic: count each key, and open its window (its expiry) with
// the first unit. The expiry lives in Redis, so every instance sees the same window whatever its own clock says.
// ARGV: the cost, then each key's window in ms. Returns count and remaining ttl per key, flattened.
const CONSUME_SCRIPT = `
local results = {}
for index, key in ipairs(KEYS) do
  local count = redis.call('INCRBY', key, ARGV[1])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[index + 1])
    ttl = tonumber(ARGV[index + 1])
  end
  results[#results + 1] = count
  results[#results + 1] = ttl
end
return results
`;

interface WithConsumeCommand {
  chatRateLimitConsume(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
}

/** Counters in Redis, shared by every instance that uses the same REDIS_PREFIX. */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  private readonly redis: Redis;

  constructor(private readonly options: { url: string; prefix: string }) {
    // Like the event bus's publisher: while Redis is away, commands fail at once rather than queue, and the
    // caller (RateLimits) lets the request through.
    this.redis = new Redis(options.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      retryStrategy: (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000),
      connectionName: 'chat-rate-limiter',
      // A request's checks (per user, per IP) and those of concurrent requests share one write.
      enableAutoPipelining: true,
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

  async consume(checks: RateLimitCheck[], cost = 1): Promise<RateLimitVerdict[]> {
    if (checks.length === 0) return [];
    const keys = checks.map(({ policy, subject }) => `${this.options.prefix}ratelimit:${policy.name}:${subject}`);
    const results = await (this.redis as unknown as WithConsumeCommand).chatRateLimitConsume(
      keys.length,
      ...keys,
      cost,
      ...checks.map(({ policy }) => policy.windowMs),
    );
    return checks.map(({ policy }, index) => verdictFor(policy, results[index * 2]!, results[index * 2 + 1]!));
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
