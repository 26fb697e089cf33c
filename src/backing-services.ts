import type { AppConfig } from './config.js';
import { createDatabase } from './db/database.js';
import type { Infrastructure } from './infrastructure.js';
import { MemoryRateLimiter, type RateLimiter } from './limits/rate-limiter.js';
import { RedisRateLimiter } from './limits/redis-rate-limiter.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { createStorage } from './modules/media/storage/create-storage.js';
import { MemoryPresenceStore, type PresenceStore, RedisPresenceStore } from './modules/presence/presence-store.js';
import { redisTargetOf } from './lib/redis-connection.js';
import { type EventBus, MemoryEventBus, RedisEventBus } from './realtime/event-bus.js';
import { ShardedRedisEventBus } from './realtime/sharded-event-bus.js';

/**
 * The instance's infrastructure for its configuration: PostgreSQL, and Redis for the event bus, the rate limits
 * and presence when REDIS_URL or REDIS_CLUSTER_NODES is set (in-process stand-ins otherwise, which stay inside
 * this instance). On a cluster the bus uses sharded pub/sub.
 */
export function createBackingServices(config: AppConfig, logger: Logger) {
  if (!config.databaseUrl)
    throw new Error('needs config.databaseUrl (main.ts starts an embedded PostgreSQL when it is unset)');
  const metrics = new Metrics();
  const db = createDatabase({ url: config.databaseUrl, poolSize: config.databasePoolSize, logger });
  const redis = redisTargetOf(config);
  const prefix = config.redisPrefix;
  const bus: EventBus = !redis
    ? new MemoryEventBus({ logger, metrics })
    : 'url' in redis
      ? new RedisEventBus({ url: redis.url, prefix, logger, metrics })
      : new ShardedRedisEventBus({ ...redis, prefix, logger, metrics });
  const limiter: RateLimiter = redis ? new RedisRateLimiter({ target: redis, prefix }) : new MemoryRateLimiter();
  const presenceTiming = { ttlMs: config.presence.timeoutMs, awayAfterMs: config.presence.awayAfterMs };
  const presence: PresenceStore = redis
    ? new RedisPresenceStore({ target: redis, prefix }, presenceTiming)
    : new MemoryPresenceStore(presenceTiming);
  const storage = createStorage(config.media.storage, logger);
  const infrastructure: Infrastructure = {
    config,
    db,
    bus,
    limiter,
    presenceStore: presence,
    storage,
    logger,
    metrics,
  };
  return {
    ...infrastructure,
    /** Connects to Redis; resolves even when it is down (readiness reports it, reconnects continue). */
    async connect(): Promise<void> {
      if (!redis)
        logger.warn(
          'neither REDIS_URL nor REDIS_CLUSTER_NODES is set: using the in-process event bus and rate limits; both stay inside this instance',
        );
      await Promise.all([
        (bus instanceof RedisEventBus || bus instanceof ShardedRedisEventBus) && bus.connect(),
        limiter instanceof RedisRateLimiter && limiter.connect(),
        presence instanceof RedisPresenceStore && presence.connect(),
      ]);
    },
    async close(): Promise<void> {
      await bus.close();
      await limiter.close();
      await presence.close();
      storage.close?.();
      await db.close();
    },
  };
}
