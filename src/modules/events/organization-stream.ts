import type { Logger } from '../../logger.js';
import type { EventBus } from '../../realtime/event-bus.js';
import type { SequenceSource } from '../../realtime/sequenced-delivery.js';
import { StreamHubs, type StreamSubscription } from '../../realtime/stream-hubs.js';
import { organizationAccessTopic, organizationTopic } from '../../realtime/topics.js';
import { type AccessChange, type OrganizationEvent, organizationEventCodec } from './organization-events.js';

export type AccessListener = (event: AccessChange) => void;

export interface OrganizationStreamDeps {
  bus: EventBus;
  logger: Logger;
  /** Where an organization's sequenced events are read back from (the messages module's event source). */
  sourceOf: (organizationId: string) => SequenceSource<OrganizationEvent>;
}

/**
 * Each organization's realtime stream, shared by every instance: the services publish what they committed,
 * subscriptions join to receive it in order. Access changes also go to a topic of their own, which is all that
 * per-instance access caches listen to: an instance that serves no subscriber of an organization receives none
 * of its message traffic.
 */
export class OrganizationStream {
  private readonly hubs: StreamHubs<OrganizationEvent>;
  private readonly accessWatches = new Map<string, { listeners: Set<AccessListener>; stop: () => void }>();

  constructor(private readonly deps: OrganizationStreamDeps) {
    this.hubs = new StreamHubs({
      bus: deps.bus,
      logger: deps.logger,
      codec: organizationEventCodec,
      topicOf: organizationTopic,
      sourceOf: deps.sourceOf,
      onDispatch: (event, listeners) => {
        if (event.type !== 'message') return;
        deps.logger.debug(
          {
            messageId: event.message.id,
            seq: event.seq.toString(),
            kind: event.kind,
            listeners,
            requestId: event.requestId,
          },
          'message event delivered',
        );
      },
    });
  }

  /** Receives the organization's events from now on; `startSeq` says where the stream stood when it joined. */
  join(organizationId: string, listener: (event: OrganizationEvent) => void): Promise<StreamSubscription> {
    return this.hubs.join(organizationId, listener);
  }

  /**
   * Publishes a committed change to every instance (this one's included). An access change reaches this
   * instance's subscriptions and access caches at once, so that what it took away is refused here from the
   * next request on; its later arrival through the bus changes nothing more.
   */
  publish(organizationId: string, event: OrganizationEvent): Promise<void> {
    if (event.type === 'access') {
      this.hubs.deliverLocally(organizationId, event);
      this.accessWatches.get(organizationId)?.listeners.forEach((listener) => listener(event));
      void this.deps.bus.publish(organizationAccessTopic(organizationId), organizationEventCodec.encode(event));
    }
    return this.hubs.publish(organizationId, event);
  }

  /** The organization's access changes only, from every instance, without joining its stream. */
  watchAccess(organizationId: string, listener: AccessListener): () => void {
    let watch = this.accessWatches.get(organizationId);
    if (!watch) {
      const listeners = new Set<AccessListener>();
      const stop = this.deps.bus.subscribe(organizationAccessTopic(organizationId), (wire) => {
        const event = organizationEventCodec.decode(wire) as AccessChange;
        listeners.forEach((each) => each(event));
      });
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

  /** Whether access changes of the organization published from now on reach its watchers here. */
  isWatchingAccess(organizationId: string): boolean {
    return (
      this.accessWatches.has(organizationId) && this.deps.bus.isSubscribed(organizationAccessTopic(organizationId))
    );
  }

  close(): void {
    this.hubs.close();
    this.accessWatches.forEach((watch) => watch.stop());
    this.accessWatches.clear();
  }
}
