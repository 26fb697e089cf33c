import type { Session } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { assertReadable } from '../access/channel-rules.js';
import { loadChannelFacts } from '../access/channel-visibility.js';
import { ViewerChannels } from '../access/viewer-channels.js';
import { cursorOfEvent, issuedCursor } from '../messages/message-cursor.js';
import { MessageDetails, shareDetails, sharedDetailsFor } from '../messages/message-details.js';
import type { UserDirectory } from '../users/user-directory.js';
import { EventSubscription, type SubscriptionDeps, type SubscriptionScope } from './event-subscription.js';
import type { MessageChange } from './organization-events.js';
import type { OrganizationStream } from './organization-stream.js';
import type { MessageEvent, ViewerEvent } from './subscriber-events.js';

/** What EventService is built from. */
export interface EventServiceDeps {
  db: Database;
  stream: OrganizationStream;
  logger: Logger;
  metrics: Metrics;
  users: UserDirectory;
}

/** The subscriptions of the API: each is an EventSubscription over the organization's stream. */
export class EventService {
  private readonly subscriptionDeps: SubscriptionDeps;
  private readonly messageEvents = new WeakMap<MessageChange, MessageEvent>();

  constructor(private readonly deps: EventServiceDeps) {
    const active = deps.metrics.gauge({
      name: 'chat_subscriptions_active',
      help: 'Subscriptions being served by this instance (graphql-ws and SSE)',
    });
    const overflows = deps.metrics.counter({
      name: 'chat_subscription_overflows_total',
      help: 'Subscriptions ended because their client stopped reading',
    });
    this.subscriptionDeps = {
      pool: deps.db.pool,
      stream: deps.stream,
      users: deps.users,
      logger: deps.logger,
      messageEvent: (change) => this.messageEvent(change),
      overflowed: () => overflows.inc(),
      closed: () => active.dec(),
    };
    this.opened = () => active.inc();
  }

  private readonly opened: () => void;

  channelMessages(session: Session, args: { channelId: string; after?: string | null }) {
    return this.subscribe(session, args.after, {
      channelId: args.channelId,
      messages: true,
      reactions: false,
      statuses: false,
    });
  }

  channelReactions(session: Session, args: { channelId: string }) {
    return this.subscribe(session, null, {
      channelId: args.channelId,
      messages: false,
      reactions: true,
      statuses: false,
    });
  }

  channelStatuses(session: Session, args: { channelId: string }) {
    return this.subscribe(session, null, {
      channelId: args.channelId,
      messages: false,
      reactions: false,
      statuses: true,
    });
  }

  viewerEvents(session: Session, args: { after?: string | null }) {
    return this.subscribe(session, args.after, { messages: true, reactions: true, statuses: true });
  }

  /** A channel the viewer cannot see is NOT_FOUND, as if it did not exist. */
  private async subscribe(
    session: Session,
    after: string | null | undefined,
    scope: SubscriptionScope,
  ): Promise<AsyncIterableIterator<ViewerEvent>> {
    const viewer = session.viewer;
    const { pool } = this.deps.db;
    if (scope.channelId) assertReadable(viewer, await loadChannelFacts(pool, viewer, scope.channelId));
    // A cursor the server did not issue is BAD_USER_INPUT here, before anything is subscribed.
    const cursor =
      after && scope.messages ? await issuedCursor(pool, viewer.organizationId, after, 'after') : undefined;
    const channels = await ViewerChannels.load(pool, viewer);
    const subscription = new EventSubscription(this.subscriptionDeps, viewer, channels, scope);
    this.opened();
    await subscription.open(cursor?.seq, session.requestId);
    return subscription.queue;
  }

  /**
   * A message change as every local subscriber receives it: one object per change, whose cursor is encoded
   * once and whose details (reactions, replies, readers) are read once for all of them.
   */
  private messageEvent(change: MessageChange): MessageEvent {
    let event = this.messageEvents.get(change);
    if (!event) {
      if (!sharedDetailsFor(change.message)) {
        const details = new MessageDetails(this.deps.db.pool, this.deps.users);
        if (change.kind === 'CREATED') details.primeNew(change.message);
        shareDetails(change.message, details);
      }
      event = {
        type: 'message',
        kind: change.kind,
        message: change.message,
        cursor: cursorOfEvent(change.message, change.seq.toString()),
      };
      this.messageEvents.set(change, event);
    }
    return event;
  }
}
