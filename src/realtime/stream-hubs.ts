import type { Logger } from '../logger.js';
import type { EventBus } from './event-bus.js';
import { SequencedDelivery, type SequenceSource } from './sequenced-delivery.js';

/** How a stream's events travel on the bus, and which of them are sequenced. */
export interface StreamCodec<E> {
  encode(event: E): unknown;
  decode(wire: unknown): E;
  /** The event's sequence number; undefined for a notification that needs no order (delivered at once). */
  seqOf(event: E): bigint | undefined;
}

export interface StreamHubsOptions<E> {
  bus: EventBus;
  logger: Logger;
  codec: StreamCodec<E>;
  /** The bus topic of a stream. */
  topicOf: (key: string) => string;
  /** Where a stream's sequenced events are read back from when the bus lost them. */
  sourceOf: (key: string) => SequenceSource<E>;
  /** How often a stream with listeners checks that nothing was lost after the last event it saw. */
  tailCheckMs?: number;
  /** Called once for each event handed to this instance's listeners of a stream. */
  onDispatch?: (key: string, event: E, listeners: number) => void;
  /** At most this many listeners are handed an event in one turn of the event loop (default 1,000). */
  dispatchSlice?: number;
}

export type StreamListener<E> = (event: E) => void;

export interface StreamSubscription {
  /** The sequence number this instance had delivered up to when the listener joined. */
  readonly startSeq: bigint;
  stop(): void;
}

const DEFAULT_TAIL_CHECK_MS = 2_000;
/** Listeners handed an event in one turn of the event loop, by default. */
const DEFAULT_DISPATCH_SLICE = 1_000;

/**
 * Streams of events keyed by name (an organization, say), fanned out to this instance's listeners. Each stream
 * with listeners holds the instance's only bus subscription for it and delivers its sequenced events to every
 * listener in order, exactly once (SequencedDelivery reads back whatever the bus lost, once for the whole
 * instance); notifications go out as they come. Streams are opened by their first listener and closed after
 * their last one leaves.
 */
export class StreamHubs<E> {
  private readonly hubs = new Map<string, Hub<E>>();

  constructor(private readonly options: StreamHubsOptions<E>) {}

  async join(key: string, listener: StreamListener<E>): Promise<StreamSubscription> {
    let hub = this.hubs.get(key);
    if (!hub) {
      hub = new Hub(key, this.options, (idle) => {
        if (!idle.isIdle || this.hubs.get(key) !== idle) return;
        idle.close();
        this.hubs.delete(key);
      });
      this.hubs.set(key, hub);
    }
    return hub.join(listener);
  }

  /** Sends an event to every instance's listeners of the stream (this one's included, through the bus). */
  publish(key: string, event: E): Promise<void> {
    return this.options.bus.publish(this.options.topicOf(key), this.options.codec.encode(event));
  }

  /** Hands a notification to this instance's listeners of the stream now, ahead of its trip through the bus. */
  deliverLocally(key: string, event: E): void {
    this.hubs.get(key)?.dispatch(event);
  }

  close(): void {
    this.hubs.forEach((hub) => hub.close());
    this.hubs.clear();
  }
}

/** One stream on this instance: its bus subscription, its ordered delivery and its listeners. */
class Hub<E> {
  private readonly listeners = new Set<StreamListener<E>>();
  /** While an event is handed out in slices: the events that came after it, in order. */
  private backlog: E[] | undefined;
  private readonly slice: number;
  private closed = false;
  private readonly sequenced: SequencedDelivery<E>;
  private isReady = false;
  private readonly beforeReady: E[] = [];
  private ready: Promise<void>;
  private readonly tailTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly stopReconnectWatch: () => void;

  constructor(
    private readonly key: string,
    private readonly options: StreamHubsOptions<E>,
    private readonly onIdle: (hub: Hub<E>) => void,
  ) {
    const { bus, codec, logger } = options;
    this.slice = options.dispatchSlice ?? DEFAULT_DISPATCH_SLICE;
    this.sequenced = new SequencedDelivery({
      source: options.sourceOf(key),
      deliver: (item) => this.dispatch(item.event),
      onReadError: (error) => logger.warn({ err: error, stream: key }, 'could not read missed events; will retry'),
    });
    // Subscribe before reading the high-water mark: anything committed after the read is then on the bus.
    this.unsubscribe = bus.subscribe(options.topicOf(key), (wire) => {
      let event: E;
      try {
        event = codec.decode(wire);
      } catch (error) {
        logger.error({ err: error, stream: key }, 'undecodable event on the bus');
        return;
      }
      if (this.isReady) this.receive(event);
      else this.beforeReady.push(event);
    });
    this.ready = this.start();
    this.tailTimer = setInterval(() => this.checkTail(), options.tailCheckMs ?? DEFAULT_TAIL_CHECK_MS).unref();
    this.stopReconnectWatch = bus.onReconnect(() => this.checkTail());
  }

  async join(listener: StreamListener<E>): Promise<StreamSubscription> {
    this.listeners.add(listener);
    try {
      await this.ready;
    } catch (error) {
      this.listeners.delete(listener);
      // A failed start (the database was down) is tried again by the next listener.
      this.ready = this.start();
      this.ready.catch(() => undefined);
      this.onIdle(this);
      throw error;
    }
    return { startSeq: this.sequenced.position, stop: () => this.leave(listener) };
  }

  get isIdle(): boolean {
    return this.listeners.size === 0;
  }

  dispatch(event: E): void {
    this.options.onDispatch?.(this.key, event, this.listeners.size);
    if (this.backlog) {
      this.backlog.push(event);
      return;
    }
    if (this.listeners.size <= this.slice) {
      for (const listener of this.listeners) this.handTo(listener, event);
      return;
    }
    this.backlog = [];
    this.dispatchInSlices(event, [...this.listeners], 0);
  }

  /**
   * Hands the event to a slice of listeners now and to the next slice in a later turn of the event loop, and
   * the events that came meanwhile after it, in order. What a slice's deliveries make is garbage by the next
   * slice; handed to every listener at once, all of it would be alive together, surviving into the old
   * generation and collected in long pauses.
   */
  private dispatchInSlices(event: E, listeners: StreamListener<E>[], from: number): void {
    if (this.closed) return;
    const to = Math.min(from + this.slice, listeners.length);
    for (let index = from; index < to; index++) {
      const listener = listeners[index]!;
      // One that left meanwhile gets nothing more.
      if (this.listeners.has(listener)) this.handTo(listener, event);
    }
    if (to < listeners.length) {
      setImmediate(() => this.dispatchInSlices(event, listeners, to));
      return;
    }
    const next = this.backlog!.shift();
    if (next === undefined) this.backlog = undefined;
    else setImmediate(() => this.dispatchInSlices(next, [...this.listeners], 0));
  }

  private handTo(listener: StreamListener<E>, event: E): void {
    try {
      listener(event);
    } catch (error) {
      this.options.logger.error({ err: error, stream: this.key }, 'stream listener failed');
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.tailTimer);
    this.sequenced.close();
    this.unsubscribe();
    this.stopReconnectWatch();
  }

  private async start(): Promise<void> {
    await this.sequenced.start();
    this.isReady = true;
    this.beforeReady.splice(0).forEach((event) => this.receive(event));
  }

  private receive(event: E): void {
    const seq = this.options.codec.seqOf(event);
    if (seq === undefined) this.dispatch(event);
    else this.sequenced.receive({ seq, event });
  }

  private leave(listener: StreamListener<E>): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.onIdle(this);
  }

  private checkTail(): void {
    if (this.listeners.size > 0 && this.isReady) void this.sequenced.checkTail();
  }
}
