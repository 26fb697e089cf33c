import type { Logger } from '../../logger.js';
import type { EventBus } from '../../realtime/event-bus.js';
import type { SequenceSource } from '../../realtime/sequenced-delivery.js';
import { StreamHubs, type StreamSubscription } from '../../realtime/stream-hubs.js';
import { organizationAccessTopic, organizationTopic } from '../../realtime/topics.js';
import {
  type ChannelChange,
  type OrganizationEvent,
  organizationEventCodec,
  type SequencedEvent,
  type TypingChange,
} from './organization-events.js';

export type ChannelChangeListener = (event: ChannelChange) => void;

/** How long someone counts as typing after their last signal. */
export const TYPING_LASTS_MS = 6_000;

export interface OrganizationStreamDeps {
  bus: EventBus;
  logger: Logger;
  /** Where an organization's numbered changes are read back from (messages and the event log). */
  sourceOf: (organizationId: string) => SequenceSource<SequencedEvent>;
}

/**
 * Each organization's realtime stream, shared by every instance: the services publish what they committed,
 * subscriptions join to receive it in order. Channel changes also go to a topic of their own, which is all that
 * per-instance access caches listen to: an instance that serves no subscriber of an organization receives none
 * of its message traffic.
 */
export class OrganizationStream {
  private readonly hubs: StreamHubs<OrganizationEvent>;
  private readonly accessWatches = new Map<string, { listeners: Set<ChannelChangeListener>; stop: () => void }>();
  /** Typing that will end by itself on this instance unless refreshed, by organization, channel and user. */
  private readonly typing = new Map<string, NodeJS.Timeout>();

  constructor(private readonly deps: OrganizationStreamDeps) {
    this.hubs = new StreamHubs<OrganizationEvent>({
      bus: deps.bus,
      logger: deps.logger,
      codec: organizationEventCodec,
      topicOf: organizationTopic,
      sourceOf: deps.sourceOf,
      onDispatch: (key, event, listeners) => {
        if (event.type === 'typing') this.expireTyping(key, event);
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
   * Publishes a committed change to every instance (this one's included). A channel change also reaches this
   * instance's access caches at once, so that what it took away is refused here from the next request on.
   */
  publish(organizationId: string, event: OrganizationEvent): Promise<void> {
    if (event.type === 'channel') {
      this.accessWatches.get(organizationId)?.listeners.forEach((listener) => listener(event));
      void this.deps.bus.publish(organizationAccessTopic(organizationId), organizationEventCodec.encode(event));
    }
    return this.hubs.publish(organizationId, event);
  }

  /** The organization's channel changes only, from every instance, without joining its stream. */
  watchAccess(organizationId: string, listener: ChannelChangeListener): () => void {
    let watch = this.accessWatches.get(organizationId);
    if (!watch) {
      const listeners = new Set<ChannelChangeListener>();
      const stop = this.deps.bus.subscribe(organizationAccessTopic(organizationId), (wire) => {
        const event = organizationEventCodec.decode(wire) as ChannelChange;
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

  /** Whether channel changes of the organization published from now on reach its watchers here. */
  isWatchingAccess(organizationId: string): boolean {
    return (
      this.accessWatches.has(organizationId) && this.deps.bus.isSubscribed(organizationAccessTopic(organizationId))
    );
  }

  close(): void {
    this.hubs.close();
    this.accessWatches.forEach((watch) => watch.stop());
    this.accessWatches.clear();
    this.typing.forEach((timer) => clearTimeout(timer));
    this.typing.clear();
  }

  /**
   * Typing ends by itself when nobody refreshes it: every instance with listeners ends it for its own, so a
   * client that vanished mid-sentence (or an instance that crashed) leaves no one typing forever.
   */
  private expireTyping(organizationId: string, event: TypingChange): void {
    const key = `${organizationId}:${event.channelId}:${event.userId}`;
    clearTimeout(this.typing.get(key));
    this.typing.delete(key);
    if (!event.typing) return;
    const timer = setTimeout(() => {
      this.typing.delete(key);
      this.hubs.deliverLocally(organizationId, { ...event, typing: false });
    }, TYPING_LASTS_MS);
    timer.unref();
    this.typing.set(key, timer);
  }
}
