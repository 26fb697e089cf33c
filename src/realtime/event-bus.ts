import { Redis } from 'ioredis';
import type { Histogram } from 'prom-client';
import { redisRetryDelay } from '../lib/redis-connection.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { open, PublishBatches } from './bus-messages.js';

export type BusListener = (message: unknown) => void;

/**
 * Topic-based publish/subscribe between server instances. Messages are JSON: the in-process bus serialises
 * too, so that code behaves the same with and without Redis. Publishing never throws and never blocks a
 * write: events are a notification, the database stays the record, and subscribers recover anything a
 * broken bus lost by reading it back (see OrganizationStream).
 */
export interface EventBus {
  readonly kind: 'memory' | 'redis';
  /**
   * Resolves (never rejects) once the bus has passed the message on, so that a writer that must order its
   * events after another instance's can hold its lock until then.
   */
  publish(topic: string, message: unknown): Promise<void>;
  subscribe(topic: string, listener: BusListener): () => void;
  /** Whether messages published to the topic from now on reach this instance's listeners. */
  isSubscribed(topic: string): boolean;
  /** Called after the bus came back from an outage, when messages may have been missed. */
  onReconnect(listener: () => void): () => void;
  isHealthy(): boolean;
  close(): Promise<void>;
}

export const lagHistogram = (metrics: Metrics) =>
  metrics.histogram({
    name: 'chat_event_bus_lag_seconds',
    help: 'Time from publishing an event to its delivery on this instance',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
  });

/** This instance's listeners of each topic, and delivery to them of what arrives from the bus. */
export class Topics {
  private readonly listeners = new Map<string, Set<BusListener>>();

  constructor(
    private readonly logger: Logger,
    private readonly lag: Histogram,
  ) {}

  add(topic: string, listener: BusListener): { first: boolean } {
    let set = this.listeners.get(topic);
    const first = !set;
    if (!set) this.listeners.set(topic, (set = new Set()));
    set.add(listener);
    return { first };
  }

  has(topic: string): boolean {
    return this.listeners.has(topic);
  }

  names(): IterableIterator<string> {
    return this.listeners.keys();
  }

  remove(topic: string, listener: BusListener): { last: boolean } {
    const set = this.listeners.get(topic);
    if (!set?.delete(listener) || set.size > 0) return { last: false };
    this.listeners.delete(topic);
    return { last: true };
  }

  /** Hands each event of a bus message (see bus-messages.ts) to the topic's listeners, in order. */
  deliver(topic: string, raw: string): void {
    const set = this.listeners.get(topic);
    if (!set) return;
    const { publishedAt, events } = open(raw);
    const lag = Math.max(0, Date.now() - publishedAt) / 1000;
    for (const event of events) {
      this.lag.observe(lag);
      for (const listener of [...set]) {
        try {
          listener(event);
        } catch (error) {
          this.logger.error({ err: error, topic }, 'event listener failed');
        }
      }
    }
  }
}

/**
 * What both Redis buses report: publishes that failed, and whether their connections are up. An outage produces
 * an error per retry; the log gets one line every few seconds, which says it without flooding.
 */
export function redisBusInstruments(options: { logger: Logger; metrics: Metrics }, isHealthy: () => boolean) {
  const publishFailures = options.metrics.counter({
    name: 'chat_event_bus_publish_failures_total',
    help: 'Events the Redis event bus could not publish (subscribers catch up from the database)',
  });
  options.metrics.gauge({
    name: 'chat_event_bus_connected',
    help: '1 when every Redis event bus connection is ready, else 0',
    collect() {
      this.set(isHealthy() ? 1 : 0);
    },
  });
  let lastErrorLogAt = 0;
  let closing = false;
  const logError = (error: unknown): void => {
    if (closing) return options.logger.debug({ err: error }, 'redis event bus closing');
    const now = Date.now();
    if (now - lastErrorLogAt < 5_000) return;
    lastErrorLogAt = now;
    options.logger.error({ err: error }, 'redis event bus error');
  };
  return {
    /** From now on the connections are being closed: commands still under way (an unsubscribe) fail, as expected. */
    closing(): void {
      closing = true;
    },
    logError,
    /** A bus message carrying `events` events was not published. */
    publishFailed(error: unknown, events: number): void {
      publishFailures.inc(events);
      logError(error);
    },
  };
}

export class MemoryEventBus implements EventBus {
  readonly kind = 'memory';
  private readonly topics;
  // Asynchronous like a network bus, so no listener runs inside the publisher's call stack; immediates run in
  // the order they were set, so events are delivered in publishing order.
  private readonly batches = new PublishBatches((topic, raw) => {
    setImmediate(() => this.topics.deliver(topic, raw));
    return Promise.resolve();
  });

  constructor(options: { logger: Logger; metrics: Metrics }) {
    this.topics = new Topics(options.logger, lagHistogram(options.metrics));
  }

  publish(topic: string, message: unknown): Promise<void> {
    return this.batches.publish(topic, message);
  }

  subscribe(topic: string, listener: BusListener): () => void {
    this.topics.add(topic, listener);
    return () => void this.topics.remove(topic, listener);
  }

  isSubscribed(topic: string): boolean {
    return this.topics.has(topic);
  }

  onReconnect(): () => void {
    return () => {};
  }

  isHealthy(): boolean {
    return true;
  }

  async close(): Promise<void> {}
}

export interface RedisBusOptions {
  url: string;
  prefix: string;
  logger: Logger;
  metrics: Metrics;
}

/** Two ioredis connections (a subscriber connection cannot publish), reconnecting with capped backoff. */
export class RedisEventBus implements EventBus {
  readonly kind = 'redis';
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly topics;
  private readonly reconnectListeners = new Set<() => void>();
  /** Topics whose SUBSCRIBE Redis has acknowledged (ioredis subscribes them again after a reconnect). */
  private readonly confirmed = new Set<string>();
  private readonly instruments;
  private readyOnce = false;
  // Redis has handed a bus message to every subscriber connection by the time it answers the PUBLISH.
  private readonly batches = new PublishBatches((topic, raw, events) =>
    this.publisher.publish(this.options.prefix + topic, raw).then(
      () => undefined,
      (error: unknown) => this.instruments.publishFailed(error, events),
    ),
  );

  constructor(private readonly options: RedisBusOptions) {
    const common = { lazyConnect: true, retryStrategy: redisRetryDelay, maxRetriesPerRequest: 1 };
    // Publishes while Redis is down fail fast instead of piling up in memory; subscribers catch up from the
    // database after the reconnect. No auto-pipelining: a turn's events to a topic are one PUBLISH already
    // (PublishBatches), and the pipeline it would build every turn costs more than it saves.
    this.publisher = new Redis(options.url, {
      ...common,
      enableOfflineQueue: false,
      // A Redis that accepts connections but stops answering holds a writer (see publish) for at most this.
      commandTimeout: 2_000,
      connectionName: 'chat-publisher',
    });
    this.subscriber = new Redis(options.url, { ...common, connectionName: 'chat-subscriber' });
    for (const client of [this.publisher, this.subscriber]) client.on('error', (error) => this.logError(error));
    this.topics = new Topics(options.logger, lagHistogram(options.metrics));
    this.subscriber.on('message', (channel: string, raw: string) => {
      this.topics.deliver(channel.slice(options.prefix.length), raw);
    });
    this.instruments = redisBusInstruments(options, () => this.isHealthy());
    this.subscriber.on('ready', () => {
      if (this.readyOnce) {
        options.logger.info('redis event bus reconnected');
        for (const listener of this.reconnectListeners) listener();
      }
      this.readyOnce = true;
    });
  }

  /** Connects both clients; resolves even when Redis is down (readiness reports it, reconnects continue). */
  async connect(timeoutMs = 3_000): Promise<void> {
    const attempts = [this.publisher, this.subscriber].map((client) => client.connect().catch(() => undefined));
    await Promise.race([Promise.all(attempts), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
  }

  publish(topic: string, message: unknown): Promise<void> {
    return this.batches.publish(topic, message);
  }

  subscribe(topic: string, listener: BusListener): () => void {
    if (this.topics.add(topic, listener).first) {
      this.subscriber.subscribe(this.options.prefix + topic).then(
        () => this.topics.has(topic) && this.confirmed.add(topic),
        (error: unknown) => this.logError(error),
      );
    }
    return () => {
      if (this.topics.remove(topic, listener).last) {
        this.confirmed.delete(topic);
        this.subscriber.unsubscribe(this.options.prefix + topic).catch((error: unknown) => this.logError(error));
      }
    };
  }

  isSubscribed(topic: string): boolean {
    return this.subscriber.status === 'ready' && this.confirmed.has(topic);
  }

  onReconnect(listener: () => void): () => void {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  isHealthy(): boolean {
    return this.publisher.status === 'ready' && this.subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    this.instruments.closing();
    await Promise.all(
      [this.publisher, this.subscriber].map((client) => client.quit().catch(() => client.disconnect())),
    );
  }

  private logError(error: unknown): void {
    this.instruments.logError(error);
  }
}
