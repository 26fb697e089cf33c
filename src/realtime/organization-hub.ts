import type pg from 'pg';
import type { Logger } from '../logger.js';
import { fromWire, MESSAGE_COLUMNS, type MessageRecord } from '../modules/messages/message-record.js';
import type { EventBus } from './event-bus.js';
import type {
  AccessBusEvent,
  MessageBusEvent,
  MessageEventKind,
  OrganizationBusEvent,
  ReactionBusEvent,
  StatusBusEvent,
} from './org-events.js';
import { organizationAccessTopic, organizationTopic } from './topics.js';

/** A message event as this instance delivers it: in sequence order, once. One object for all listeners. */
export interface DeliveredMessageEvent {
  kind: MessageEventKind;
  seq: bigint;
  message: MessageRecord;
  requestId?: string;
}

export interface HubListener {
  message?(event: DeliveredMessageEvent): void;
  reaction?(event: ReactionBusEvent): void;
  status?(event: StatusBusEvent): void;
  access?(event: AccessBusEvent): void;
}

export type AccessListener = (event: AccessBusEvent) => void;

export interface HubSubscription {
  /** The sequence number this instance had delivered up to when the listener joined. */
  readonly startSeq: bigint;
  stop(): void;
}

/** How long an out-of-order event waits for the ones before it before they are read from the database. */
const GAP_WAIT_MS = 150;
/** How often a hub with listeners checks that no event was lost after the last one it saw. */
const TAIL_CHECK_MS = 2_000;
const FILL_PAGE = 500;

/** A message event from the bus as it is delivered here. */
const delivered = (event: MessageBusEvent): DeliveredMessageEvent => ({
  kind: event.kind,
  seq: BigInt(event.seq),
  message: fromWire(event.message),
  requestId: event.requestId,
});

/** The kind of change a message row's latest sequence number stands for. */
export function kindOfRow(row: MessageRecord): MessageEventKind {
  if (row.deletedAt) return 'DELETED';
  return row.eventSeq === row.createdSeq ? 'CREATED' : 'UPDATED';
}

/**
 * One per organization with listeners on this instance. It holds the instance's only bus subscription for
 * that organization and delivers message events to every local listener in sequence order, exactly once:
 * events that arrive early wait for the ones before them, and whatever the bus lost (a publisher that died
 * after committing, a Redis outage) is read back from the database, once for the whole instance.
 */
class OrganizationHub {
  private readonly listeners = new Set<HubListener>();
  private delivered = 0n;
  private isReady = false;
  private readonly beforeReady: OrganizationBusEvent[] = [];
  private ready: Promise<void>;
  private readonly early = new Map<bigint, MessageBusEvent>();
  private gapTimer: NodeJS.Timeout | undefined;
  private filling: Promise<void> | undefined;
  private readonly tailTimer: NodeJS.Timeout;
  private readonly unsubscribe: () => void;
  private readonly stopReconnectWatch: () => void;

  constructor(
    private readonly organizationId: string,
    private readonly deps: { bus: EventBus; pool: pg.Pool; logger: Logger },
    private readonly onIdle: (hub: OrganizationHub) => void,
  ) {
    // Subscribe before reading the high-water mark: anything committed after the read is then on the bus.
    this.unsubscribe = deps.bus.subscribe(organizationTopic(organizationId), (raw) => {
      const event = raw as OrganizationBusEvent;
      if (this.isReady) this.receive(event);
      else this.beforeReady.push(event);
    });
    this.ready = this.start();
    this.tailTimer = setInterval(() => void this.checkTail(), TAIL_CHECK_MS).unref();
    this.stopReconnectWatch = deps.bus.onReconnect(() => void this.checkTail());
  }

  async join(listener: HubListener): Promise<HubSubscription> {
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
    return { startSeq: this.delivered, stop: () => this.leave(listener) };
  }

  get isIdle(): boolean {
    return this.listeners.size === 0;
  }

  applyAccess(event: AccessBusEvent): void {
    this.listeners.forEach((listener) => listener.access?.(event));
  }

  close(): void {
    clearInterval(this.tailTimer);
    clearTimeout(this.gapTimer);
    this.unsubscribe();
    this.stopReconnectWatch();
  }

  private async start(): Promise<void> {
    this.delivered = await this.readHighWater();
    this.isReady = true;
    this.beforeReady.splice(0).forEach((event) => this.receive(event));
  }

  private leave(listener: HubListener): void {
    this.listeners.delete(listener);
    if (this.listeners.size === 0) this.onIdle(this);
  }

  private receive(event: OrganizationBusEvent): void {
    switch (event.type) {
      case 'message':
        this.receiveMessage(event);
        return;
      case 'reaction':
        this.listeners.forEach((listener) => listener.reaction?.(event));
        return;
      case 'status':
        this.listeners.forEach((listener) => listener.status?.(event));
        return;
      case 'access':
        this.applyAccess(event);
        return;
    }
  }

  private receiveMessage(event: MessageBusEvent): void {
    const seq = BigInt(event.seq);
    if (seq <= this.delivered) return;
    if (seq === this.delivered + 1n && !this.filling) {
      this.deliver(delivered(event));
      this.drainEarly();
      return;
    }
    this.early.set(seq, event);
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      void this.fill(this.maxEarly());
    }, GAP_WAIT_MS);
  }

  private drainEarly(): void {
    for (let next = this.early.get(this.delivered + 1n); next; next = this.early.get(this.delivered + 1n)) {
      this.early.delete(this.delivered + 1n);
      this.deliver(delivered(next));
    }
    if (this.early.size === 0 && this.gapTimer) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  private deliver(event: DeliveredMessageEvent): void {
    this.delivered = event.seq;
    this.deps.logger.debug(
      {
        messageId: event.message.id,
        seq: event.seq.toString(),
        kind: event.kind,
        listeners: this.listeners.size,
        requestId: event.requestId,
      },
      'message event delivered',
    );
    for (const listener of this.listeners) {
      try {
        listener.message?.(event);
      } catch (error) {
        this.deps.logger.error({ err: error }, 'message listener failed');
      }
    }
  }

  private maxEarly(): bigint {
    let max = this.delivered;
    for (const seq of this.early.keys()) if (seq > max) max = seq;
    return max;
  }

  /** Delivers everything up to `upTo` in order: events at hand, the rest from the database. */
  private fill(upTo: bigint): Promise<void> {
    if (this.filling) return this.filling;
    this.filling = (async () => {
      try {
        while (this.delivered < upTo) {
          const { rows } = await this.deps.pool.query<MessageRecord>(
            `SELECT ${MESSAGE_COLUMNS} FROM messages m
             WHERE m.organization_id = $1 AND m.event_seq > $2 AND m.event_seq <= $3
             ORDER BY m.event_seq LIMIT ${FILL_PAGE}`,
            [this.organizationId, this.delivered.toString(), upTo.toString()],
          );
          const pageEnd = rows.length === FILL_PAGE ? BigInt(rows.at(-1)!.eventSeq) : upTo;
          const fromDatabase = new Map(rows.map((row) => [BigInt(row.eventSeq), row]));
          for (let seq = this.delivered + 1n; seq <= pageEnd; seq++) {
            const early = this.early.get(seq);
            this.early.delete(seq);
            const row = fromDatabase.get(seq);
            // A number with neither an event nor a row belongs to a message changed again since: its later
            // number carries the current state.
            if (early) this.deliver(delivered(early));
            else if (row) this.deliver({ kind: kindOfRow(row), seq, message: row });
            else this.delivered = seq;
          }
        }
      } catch (error) {
        this.deps.logger.warn(
          { err: error, organizationId: this.organizationId },
          'could not fill an event gap; will retry',
        );
      } finally {
        this.filling = undefined;
      }
      this.drainEarly();
      if (this.early.size > 0)
        this.gapTimer ??= setTimeout(() => {
          this.gapTimer = undefined;
          void this.fill(this.maxEarly());
        }, GAP_WAIT_MS);
    })();
    return this.filling;
  }

  /** Events after the last one seen may have been lost rather than delayed: compare with the database. */
  private async checkTail(): Promise<void> {
    if (this.listeners.size === 0 || this.filling) return;
    try {
      const highWater = await this.readHighWater();
      if (highWater > this.delivered && this.early.size === 0) await this.fill(highWater);
    } catch (error) {
      this.deps.logger.debug({ err: error }, 'event tail check failed');
    }
  }

  private async readHighWater(): Promise<bigint> {
    const { rows } = await this.deps.pool.query<{ seq: string }>(
      'SELECT last_seq::text AS seq FROM message_sequences WHERE organization_id = $1',
      [this.organizationId],
    );
    return BigInt(rows[0]?.seq ?? 0);
  }
}

/** The instance's hubs, created on first listener and closed after the last one leaves. */
export class OrganizationHubs {
  private readonly hubs = new Map<string, OrganizationHub>();
  private readonly accessWatches = new Map<string, { listeners: Set<AccessListener>; stop: () => void }>();

  constructor(private readonly deps: { bus: EventBus; pool: pg.Pool; logger: Logger }) {}

  async join(organizationId: string, listener: HubListener): Promise<HubSubscription> {
    let hub = this.hubs.get(organizationId);
    if (!hub) {
      hub = new OrganizationHub(organizationId, this.deps, (idle) => {
        if (!idle.isIdle || this.hubs.get(organizationId) !== idle) return;
        idle.close();
        this.hubs.delete(organizationId);
      });
      this.hubs.set(organizationId, hub);
    }
    return hub.join(listener);
  }

  /**
   * The organization's access events only, from every instance, without joining its hub: an instance that
   * merely checks access (for a send, say) then receives none of the organization's message traffic.
   */
  watchAccess(organizationId: string, listener: AccessListener): () => void {
    let watch = this.accessWatches.get(organizationId);
    if (!watch) {
      const listeners = new Set<AccessListener>();
      const stop = this.deps.bus.subscribe(organizationAccessTopic(organizationId), (event) =>
        listeners.forEach((each) => each(event as AccessBusEvent)),
      );
      this.accessWatches.set(organizationId, (watch = { listeners, stop }));
    }
    const { listeners } = watch;
    listeners.add(listener);
    return () => {
      if (!listeners.delete(listener) || listeners.size > 0 || this.accessWatches.get(organizationId) !== watch) return;
      watch.stop();
      this.accessWatches.delete(organizationId);
    };
  }

  /** Whether access events of the organization published from now on reach its watchers here. */
  isWatchingAccess(organizationId: string): boolean {
    return (
      this.accessWatches.has(organizationId) && this.deps.bus.isSubscribed(organizationAccessTopic(organizationId))
    );
  }

  /**
   * Publishes an event to every instance's hub of the organization (this one's included); an access change
   * also to every instance's access watchers. An access change reaches this instance's listeners and
   * watchers at once, so that what it took away is refused here from the next request on; its later arrival
   * through the bus changes nothing more.
   */
  publish(organizationId: string, event: OrganizationBusEvent): Promise<void> {
    if (event.type === 'access') {
      this.hubs.get(organizationId)?.applyAccess(event);
      this.accessWatches.get(organizationId)?.listeners.forEach((listener) => listener(event));
      void this.deps.bus.publish(organizationAccessTopic(organizationId), event);
    }
    return this.deps.bus.publish(organizationTopic(organizationId), event);
  }

  close(): void {
    this.hubs.forEach((hub) => hub.close());
    this.hubs.clear();
    this.accessWatches.forEach((watch) => watch.stop());
    this.accessWatches.clear();
  }
}
