import { Cluster, Redis, type RedisOptions } from 'ioredis';
import type { AppConfig } from '../config.js';

/** Where the instance's Redis is: one server (REDIS_URL), or the seed nodes of a cluster (REDIS_CLUSTER_NODES). */
export type RedisTarget = { url: string } | RedisClusterTarget;

export interface RedisClusterTarget {
  clusterNodes: { host: string; port: number }[];
  /** Credentials of every node (one Redis takes them in its URL). */
  auth?: { username?: string; password?: string };
}

export type RedisClient = Redis | Cluster;

export function redisTargetOf(config: AppConfig): RedisTarget | undefined {
  if (config.redisClusterNodes.length > 0)
    return { clusterNodes: config.redisClusterNodes, auth: config.redisClusterAuth };
  return config.redisUrl ? { url: config.redisUrl } : undefined;
}

/** Reconnects with capped exponential backoff, for one server and for a whole cluster alike. */
export const redisRetryDelay = (attempt: number) => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);

/**
 * A client for the target. The options are those of a single connection; against a cluster they apply to each
 * node's connection, and the reconnect and offline-queue rules to the cluster as a whole (ioredis reconnects a
 * cluster, not its nodes: a node that went away is found again by refreshing the slot map).
 */
export function createRedisClient(target: RedisTarget, options: RedisOptions): RedisClient {
  if ('url' in target) return new Redis(target.url, { retryStrategy: redisRetryDelay, ...options });
  const { lazyConnect, enableOfflineQueue, retryStrategy, ...nodeOptions } = options;
  return new Cluster(target.clusterNodes, {
    lazyConnect,
    enableOfflineQueue,
    clusterRetryStrategy: retryStrategy ?? redisRetryDelay,
    redisOptions: { ...target.auth, ...nodeOptions },
  });
}

/** Connects; resolves once connected or after the timeout, with reconnects continuing meanwhile. */
export async function connectWithin(client: RedisClient, timeoutMs: number): Promise<void> {
  await Promise.race([
    client.connect().catch(() => undefined),
    new Promise((resolve) => setTimeout(resolve, timeoutMs).unref()),
  ]);
}

export async function closeRedisClient(client: RedisClient): Promise<void> {
  await client.quit().then(
    () => undefined,
    () => client.disconnect(),
  );
}
