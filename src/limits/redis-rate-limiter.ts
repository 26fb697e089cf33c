import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import {
  closeRedisClient,
  connectWithin,
  createRedisClient,
  type RedisClient,
  type RedisTarget,
} from '../lib/redis-connection.js';
import {
  type RateLimitCheck,
  type RateLimiter,
  type RateLimitVerdict,
  type SlotPolicy,
  type SlotVerdict,
  verdictFor,
} from './rate-limiter.js';

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

// A subject's next free slot, in microseconds of Redis's clock (one clock for every instance), under one key: on
// a Redis Cluster the script touches one slot. A slot further than the longest wait is not taken, so a refusal
// changes nothing. ARGV: the interval between slots (us) and the longest wait (us). Returns whether the slot was
// taken and its wait (us). Numbers are written with %d: Lua would write large ones in exponent form.
const TAKE_SLOT_SCRIPT = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local nextFree = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
local wait = nextFree - now
if wait > tonumber(ARGV[2]) then
  return {0, wait}
end
redis.call('SET', KEYS[1], string.format('%d', nextFree + interval), 'PX', math.ceil((wait + interval) / 1000) + 1000)
return {1, wait}
`;

interface PendingConsume {
  checks: RateLimitCheck[];
  cost: number;
  resolve: (verdicts: RateLimitVerdict[]) => void;
  reject: (error: unknown) => void;
}

interface WithLimiterScripts {
  chatRateLimitConsume(keyCount: number, ...keysThenArgs: (string | number)[]): Promise<number[]>;
  chatTakeSlot(key: string, intervalUs: number, maxWaitUs: number): Promise<[number, number]>;
}

/**
 * Keys per script call: a turn of the event loop may gather thousands of checks, and one call with all of them
 * would hold Redis (and spread more arguments than a JavaScript call takes).
 */
const MAX_KEYS_PER_CALL = 500;

interface ConsumeItem {
  check: RateLimitCheck;
  cost: number;
  key: string;
}

/**
 * Counters in Redis, shared by every instance that uses the same REDIS_PREFIX. On a Redis Cluster each counter
 * lives in its own key's slot (so subjects spread over the shards), and the script of a batch runs once per slot
 * its keys fall in: a script may only touch keys of one slot.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  private readonly redis: RedisClient;
  private readonly pending: PendingConsume[] = [];

  constructor(private readonly options: { target: RedisTarget; prefix: string }) {
    // Like the event bus's publisher: while Redis is away, commands fail at once rather than queue, and the
    // caller (RateLimits) lets the request through.
    this.redis = createRedisClient(options.target, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: 'chat-rate-limiter',
    });
    // Errors reach the caller through the failed command; without a listener ioredis would also print them.
    this.redis.on('error', () => undefined);
    // EVALSHA with the script's digest, falling back to EVAL once per connection.
    this.redis.defineCommand('chatRateLimitConsume', { lua: CONSUME_SCRIPT });
    this.redis.defineCommand('chatTakeSlot', { lua: TAKE_SLOT_SCRIPT, numberOfKeys: 1 });
  }

  /** Resolves once connected, or after the timeout with reconnects continuing (requests pass meanwhile). */
  async connect(timeoutMs = 3_000): Promise<void> {
    await connectWithin(this.redis, timeoutMs);
  }

  consume(checks: RateLimitCheck[], cost = 1): Promise<RateLimitVerdict[]> {
    if (checks.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      this.pending.push({ checks, cost, resolve, reject });
      // After the other requests of this turn of the event loop have queued theirs: one script for all.
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  async takeSlot(policy: SlotPolicy, subject: string): Promise<SlotVerdict> {
    const [taken, waitUs] = await (this.redis as unknown as WithLimiterScripts).chatTakeSlot(
      `${this.options.prefix}slots:${policy.name}:${subject}`,
      Math.ceil(policy.intervalUs),
      policy.maxWaitMs * 1_000,
    );
    return { taken: taken === 1, waitMs: waitUs / 1_000 };
  }

  private async flush(): Promise<void> {
    const batch = this.pending.splice(0);
    const items = batch.flatMap((pending) =>
      pending.checks.map((check): ConsumeItem => ({
        check,
        cost: pending.cost,
        key: `${this.options.prefix}ratelimit:${check.policy.name}:${check.subject}`,
      })),
    );
    try {
      const verdicts = new Map<ConsumeItem, RateLimitVerdict>();
      await Promise.all(
        this.bySlot(items).map(async (group) => {
          const results = await (this.redis as unknown as WithLimiterScripts).chatRateLimitConsume(
            group.length,
            ...group.map((item) => item.key),
            ...group.flatMap((item) => [item.cost, item.check.policy.windowMs]),
          );
          group.forEach((item, index) =>
            verdicts.set(item, verdictFor(item.check.policy, results[index * 2]!, results[index * 2 + 1]!)),
          );
        }),
      );
      let offset = 0;
      for (const pending of batch) {
        pending.resolve(items.slice(offset, offset + pending.checks.length).map((item) => verdicts.get(item)!));
        offset += pending.checks.length;
      }
    } catch (error) {
      batch.forEach((pending) => pending.reject(error));
    }
  }

  /**
   * The script calls for a batch: on a cluster one group per hash slot, and no group larger than
   * MAX_KEYS_PER_CALL. Calls on one connection run in the order sent, so a key's repeats are counted in order.
   */
  private bySlot(items: ConsumeItem[]): ConsumeItem[][] {
    const groups = new Map<number, ConsumeItem[]>();
    for (const item of items) {
      const slot = this.redis instanceof Cluster ? calculateSlot(item.key) : 0;
      const group = groups.get(slot);
      if (group) group.push(item);
      else groups.set(slot, [item]);
    }
    return [...groups.values()].flatMap((group) =>
      Array.from({ length: Math.ceil(group.length / MAX_KEYS_PER_CALL) }, (_, index) =>
        group.slice(index * MAX_KEYS_PER_CALL, (index + 1) * MAX_KEYS_PER_CALL),
      ),
    );
  }

  async close(): Promise<void> {
    await closeRedisClient(this.redis);
  }
}
