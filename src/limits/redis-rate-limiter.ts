import calculateSlot from 'cluster-key-slot';
import { Cluster } from 'ioredis';
import {
  closeRedisClient,
  connectWithin,
  createRedisClient,
  type RedisClient,
  type RedisTarget,
} from '../lib/redis-connection.js';
import { RateLimitLeases } from './rate-limit-leases.js';
import {
  type RateLimitCheck,
  type RateLimiter,
  type RateLimitPolicy,
  type RateLimitVerdict,
  type SlotPolicy,
  type SlotVerdict,
  verdictFor,
} from './rate-limiter.js';

// One round trip, atomic, for the checks of every request that arrived in the same turn of the event loop:
// count each key, and open its window (its expiry) with the first unit. The expiry lives in Redis, so every
// instance sees the same window whatever its own clock says. A key that occurs twice is counted twice, in
// order, exactly as two round trips would. A key may also lease spare units for the instance to allow later
// without asking (RateLimitLeases): they are counted at once, as many as were asked for and still fit under
// the limit, none when the cost alone goes over it (so a refusal counts its cost only, like any other). ARGV:
// each key's cost, window in ms, limit and spare units wanted, in fours. Returns count (spare units included),
// remaining ttl and spare units granted per key, flattened.
const CONSUME_SCRIPT = `
local results = {}
for index, key in ipairs(KEYS) do
  local base = index * 4 - 4
  local count = redis.call('INCRBY', key, ARGV[base + 1])
  local ttl = redis.call('PTTL', key)
  if ttl < 0 then
    redis.call('PEXPIRE', key, ARGV[base + 2])
    ttl = tonumber(ARGV[base + 2])
  end
  local granted = math.min(tonumber(ARGV[base + 4]), tonumber(ARGV[base + 3]) - count)
  if granted > 0 then
    count = redis.call('INCRBY', key, granted)
  else
    granted = 0
  end
  results[#results + 1] = count
  results[#results + 1] = ttl
  results[#results + 1] = granted
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

/** One key of a script call: what to count and lease, and where its reply goes. */
interface CountRequest {
  key: string;
  policy: RateLimitPolicy;
  cost: number;
  spare: number;
  resolve: (reply: CountReply) => void;
  reject: (error: unknown) => void;
}

interface CountReply {
  count: number;
  ttlMs: number;
  granted: number;
  /** When the script was sent, on the monotonic clock: the window ends no sooner than `sentAt + ttlMs`. */
  sentAt: number;
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

/** Keys that may hold a lease at once, unless the constructor is told otherwise. */
const DEFAULT_MAX_LEASED_KEYS = 100_000;

/**
 * Counters in Redis, shared by every instance that uses the same REDIS_PREFIX. On a Redis Cluster each counter
 * lives in its own key's slot (so subjects spread over the shards), and the script of a batch runs once per slot
 * its keys fall in: a script may only touch keys of one slot. Checks of policies with `leaseUnits` are decided
 * here while this instance holds spare units of their key (RateLimitLeases), without a round trip.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly kind = 'redis';
  private readonly redis: RedisClient;
  private readonly pending: CountRequest[] = [];
  private readonly leases: RateLimitLeases;

  constructor(private readonly options: { target: RedisTarget; prefix: string; maxLeasedKeys?: number }) {
    this.leases = new RateLimitLeases(options.maxLeasedKeys ?? DEFAULT_MAX_LEASED_KEYS);
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
    // Checks decided from leases are plain values: when all are, nothing waits for the next turn.
    return Promise.all(checks.map((check) => this.consumeOne(check, cost)));
  }

  async takeSlot(policy: SlotPolicy, subject: string): Promise<SlotVerdict> {
    const [taken, waitUs] = await (this.redis as unknown as WithLimiterScripts).chatTakeSlot(
      `${this.options.prefix}slots:${policy.name}:${subject}`,
      Math.ceil(policy.intervalUs),
      policy.maxWaitMs * 1_000,
    );
    return { taken: taken === 1, waitMs: waitUs / 1_000 };
  }

  private consumeOne(check: RateLimitCheck, cost: number): RateLimitVerdict | Promise<RateLimitVerdict> {
    const { policy } = check;
    const key = `${this.options.prefix}ratelimit:${policy.name}:${check.subject}`;
    const plan = this.leases.plan(key, policy, cost, performance.now());
    if ('verdict' in plan) return plan.verdict;
    if ('waitFor' in plan) {
      const again = () => this.consumeOne(check, cost);
      return plan.waitFor.then(again, again);
    }
    const verdict = this.count(key, policy, plan.cost, plan.spare).then(({ count, ttlMs, granted, sentAt }) => {
      this.leases.record(key, count, granted, sentAt + ttlMs);
      return verdictFor(policy, count - granted, ttlMs);
    });
    if (plan.spare > 0) this.leases.requesting(key, verdict);
    return verdict;
  }

  private count(key: string, policy: RateLimitPolicy, cost: number, spare: number): Promise<CountReply> {
    return new Promise((resolve, reject) => {
      this.pending.push({ key, policy, cost, spare, resolve, reject });
      // After the other requests of this turn of the event loop have queued theirs: one script for all.
      if (this.pending.length === 1) setImmediate(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    await Promise.all(this.bySlot(this.pending.splice(0)).map((group) => this.run(group)));
  }

  private async run(group: CountRequest[]): Promise<void> {
    const sentAt = performance.now();
    try {
      const results = await (this.redis as unknown as WithLimiterScripts).chatRateLimitConsume(
        group.length,
        ...group.map((request) => request.key),
        ...group.flatMap((request) => [request.cost, request.policy.windowMs, request.policy.limit, request.spare]),
      );
      group.forEach((request, index) =>
        request.resolve({
          count: results[index * 3]!,
          ttlMs: results[index * 3 + 1]!,
          granted: results[index * 3 + 2]!,
          sentAt,
        }),
      );
    } catch (error) {
      group.forEach((request) => request.reject(error));
    }
  }

  /**
   * The script calls for a batch: on a cluster one group per hash slot, and no group larger than
   * MAX_KEYS_PER_CALL. Calls on one connection run in the order sent, so a key's repeats are counted in order.
   */
  private bySlot(requests: CountRequest[]): CountRequest[][] {
    const groups = new Map<number, CountRequest[]>();
    for (const request of requests) {
      const slot = this.redis instanceof Cluster ? calculateSlot(request.key) : 0;
      const group = groups.get(slot);
      if (group) group.push(request);
      else groups.set(slot, [request]);
    }
    return [...groups.values()].flatMap((group) =>
      Array.from({ length: Math.ceil(group.length / MAX_KEYS_PER_CALL) }, (_, index) =>
        group.slice(index * MAX_KEYS_PER_CALL, (index + 1) * MAX_KEYS_PER_CALL),
      ),
    );
  }

  async close(): Promise<void> {
    this.leases.clear();
    await closeRedisClient(this.redis);
  }
}
