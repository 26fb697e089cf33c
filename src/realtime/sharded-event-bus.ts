import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { connectWithin, closeRedisClient, type RedisClusterTarget, redisRetryDelay } from '../lib/redis-connection.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { PublishBatches } from './bus-messages.js';
import { type BusListener, type EventBus, lagHistogram, redisBusInstruments, Topics } from './event-bus.js';

/** How often the slot map is read again, so that subscriptions follow slots that moved. */
const SLOT_MAP_REFRESH_MS = 5_000;

export interface ShardedBusOptions extends RedisClusterTarget {
  prefix: string;
  logger: Logger;
  metrics: Metrics;
}

/**
 * The event bus on a Redis Cluster, over sharded pub/sub (Redis 7): a topic's messages travel only through the
 * shard that owns the hash slot of its channel, so each shard added adds fan-out capacity (a classic PUBLISH in a
 * cluster goes to every node). Topics put the organization in a hash tag (topics.ts), so an organization's topics
 * share one shard. A Cluster client publishes (it routes SPUBLISH by slot); this instance holds one subscriber
 * connection per master that owns slots of topics it listens to, placed by the cluster's slot map and moved when
 * a refresh of that map (every few seconds, and after errors) shows a slot elsewhere (resharding, failover).
 * Whatever a move or an outage lost, listeners read back from the database (onReconnect).
 */
export class ShardedRedisEventBus implements EventBus {
  readonly kind = 'redis';
  private readonly publisher: Cluster;
  /** Subscriber connections by master node ("host:port"), with the number of topics placed on each. */
  private readonly shards = new Map<string, { connection: Redis; topics: number }>();
  /** The node each subscribed topic is SSUBSCRIBEd on. */
  private readonly placement = new Map<string, string>();
  /** Topics whose SSUBSCRIBE their shard acknowledged (ioredis subscribes them again after a reconnect). */
  private readonly confirmed = new Set<string>();
  /** Topics a shard unsubscribed by itself (their slot moved), until they are subscribed where it went. */
  private readonly displaced = new Set<string>();
  private readonly topics;
  private readonly reconnectListeners = new Set<() => void>();
  private readonly instruments;
  // The shard has handed a bus message to every subscriber connection by the time it answers the SPUBLISH.
  private readonly batches = new PublishBatches((topic, raw, events) =>
    this.publisher.spublish(this.options.prefix + topic, raw).then(
      () => undefined,
      (error: unknown) => this.instruments.publishFailed(error, events),
    ),
  );

  constructor(private readonly options: ShardedBusOptions) {
    // As with one Redis: publishes while a shard is away fail fast rather than pile up; subscribers catch up.
    this.publisher = new Cluster(options.clusterNodes, {
      lazyConnect: true,
      enableOfflineQueue: false,
      // No auto-pipelining, as with one Redis (RedisEventBus).
      clusterRetryStrategy: redisRetryDelay,
      // ioredis reads the slot map only after errors unless told to; a subscriber never sees those errors.
      slotsRefreshInterval: SLOT_MAP_REFRESH_MS,
      redisOptions: {
        ...options.auth,
        maxRetriesPerRequest: 1,
        commandTimeout: 2_000,
        connectionName: 'chat-publisher',
      },
    });
    this.publisher.on('error', (error: unknown) => this.logError(error));
    this.publisher.on('refresh', () => this.placeAll());
    this.topics = new Topics(options.logger, lagHistogram(options.metrics));
    this.instruments = redisBusInstruments(options, () => this.isHealthy());
  }

  /** Connects to the cluster; resolves even when it is down (readiness reports it, reconnects continue). */
  async connect(timeoutMs = 3_000): Promise<void> {
    await connectWithin(this.publisher, timeoutMs);
    this.placeAll();
  }

  publish(topic: string, message: unknown): Promise<void> {
    return this.batches.publish(topic, message);
  }

  subscribe(topic: string, listener: BusListener): () => void {
    if (this.topics.add(topic, listener).first) this.place(topic);
    return () => {
      if (!this.topics.remove(topic, listener).last) return;
      this.displaced.delete(topic);
      this.unplace(topic);
    };
  }

  isSubscribed(topic: string): boolean {
    const node = this.placement.get(topic);
    return node !== undefined && this.confirmed.has(topic) && this.shards.get(node)?.connection.status === 'ready';
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  isHealthy(): boolean {
    if (this.publisher.status !== 'ready') return false;
    for (const shard of this.shards.values()) if (shard.connection.status !== 'ready') return false;
    return true;
  }

  async close(): Promise<void> {
    this.instruments.closing();
    const shards = [...this.shards.values()];
    this.shards.clear();
    await Promise.all([closeRedisClient(this.publisher), ...shards.map((shard) => closeRedisClient(shard.connection))]);
  }

  /** The master that owns the topic's slot, by the slot map last read (undefined before the first read). */
  private ownerOf(topic: string): string | undefined {
    return this.publisher.slots[calculateSlot(this.options.prefix + topic)]?.[0];
  }

  /** Subscribes the topic on its owner's connection, or moves it there; says whether it moved. */
  private place(topic: string): boolean {
    const owner = this.ownerOf(topic);
    const current = this.placement.get(topic);
    if (owner === current) return false;
    if (current !== undefined) this.unplace(topic);
    // Before the first slot map: placed when it arrives (connect, or the next refresh).
    if (owner === undefined) return false;
    const moved = current !== undefined || this.displaced.delete(topic);
    this.placement.set(topic, owner);
    const shard = this.shardOf(owner);
    shard.topics += 1;
    shard.connection.ssubscribe(this.options.prefix + topic).then(
      () => this.placement.get(topic) === owner && this.confirmed.add(topic),
      (error: unknown) => {
        this.logError(error);
        // Tried again at the next refresh of the slot map.
        if (this.placement.get(topic) === owner) this.unplace(topic);
      },
    );
    return moved;
  }

  private unplace(topic: string): void {
    const node = this.placement.get(topic);
    if (node === undefined) return;
    this.placement.delete(topic);
    this.confirmed.delete(topic);
    const shard = this.shards.get(node);
    if (!shard) return;
    shard.topics -= 1;
    if (shard.topics > 0) {
      shard.connection.sunsubscribe(this.options.prefix + topic).catch((error: unknown) => this.logError(error));
      return;
    }
    this.shards.delete(node);
    void closeRedisClient(shard.connection);
  }

  /** After a (re)read of the slot map: every topic on the node that owns it now. */
  private placeAll(): void {
    let moved = false;
    for (const topic of [...this.topics.names()]) moved = this.place(topic) || moved;
    if (moved) this.announceReconnect('redis event bus moved subscriptions to new slot owners');
  }

  private shardOf(node: string): { connection: Redis; topics: number } {
    const existing = this.shards.get(node);
    if (existing) return existing;
    const separator = node.lastIndexOf(':');
    const connection = new Redis({
      ...this.options.auth,
      host: node.slice(0, separator),
      port: Number(node.slice(separator + 1)),
      retryStrategy: redisRetryDelay,
      maxRetriesPerRequest: 1,
      connectionName: 'chat-subscriber',
    });
    const shard = { connection, topics: 0 };
    this.shards.set(node, shard);
    connection.on('error', (error: unknown) => {
      // A shard that gives up a slot unsubscribes its channels itself; ioredis reports that reply, which answers
      // no command of ours, as an error ("... Last reply: sunsubscribe,<channel>,<count>"). The topic is no longer
      // subscribed from here on (isSubscribed says so at once); the slot map says where it went.
      const dropped = error instanceof Error ? /Last reply: sunsubscribe,(.+),\d+$/.exec(error.message) : null;
      if (dropped) {
        const topic = dropped[1]!.slice(this.options.prefix.length);
        if (this.placement.get(topic) === node) {
          this.unplace(topic);
          this.displaced.add(topic);
        }
        this.publisher.refreshSlotsCache();
        return;
      }
      this.logError(error);
    });
    connection.on('smessage', (channel: string, raw: string) => {
      this.topics.deliver(channel.slice(this.options.prefix.length), raw);
    });
    let readyOnce = false;
    connection.on('ready', () => {
      if (readyOnce) this.announceReconnect('redis event bus reconnected to a shard');
      readyOnce = true;
    });
    return shard;
  }

  private announceReconnect(what: string): void {
    this.options.logger.info(what);
    for (const listener of this.reconnectListeners) listener();
  }

  private logError(error: unknown): void {
    this.instruments.logError(error);
  }
}
