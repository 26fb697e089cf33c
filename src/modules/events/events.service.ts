import type { Session } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { assertReadable } from '../access/channel-rules.js';
import { loadChannelFacts } from '../access/channel-visibility.js';
import { MessageDetails, shareDetails, sharedDetailsFor } from '../messages/message-details.js';
import { afterPart, type SequenceCursors } from '../messages/sequence-cursor.js';
import type { UserDirectory } from '../users/user-directory.js';
import { EventSubscription, type SubscriptionDeps, type SubscriptionScope } from './event-subscription.js';
import type { MessageChange, ReactionChange, StatusChange } from './organization-events.js';
import type { OrganizationStream } from './organization-stream.js';
import type { MessageEvent, MessageStatusEvent, ReactionEvent, ViewerEvent } from './subscriber-events.js';

/** What EventService is built from. */
export interface EventServiceDeps {
  db: Database;
  stream: OrganizationStream;
  logger: Logger;
  metrics: Metrics;
  users: UserDirectory;
  cursors: SequenceCursors;
}

type ChannelArgs = { channelId: string; after?: string | null };

/** The subscriptions of the API: each is an EventSubscription over the organization's stream. */
export class EventService {
  private readonly subscriptionDeps: SubscriptionDeps;
  private readonly opened: () => void;
  private readonly messageEvents = new WeakMap<MessageChange, MessageEvent>();
  private readonly reactionEvents = new WeakMap<ReactionChange, ReactionEvent>();
  private readonly statusEvents = new WeakMap<StatusChange, MessageStatusEvent[]>();

  constructor(private readonly deps: EventServiceDeps) {
    const active = deps.metrics.gauge({
      name: 'chat_subscriptions_active',
      help: 'Subscriptions being served by this instance (graphql-ws and SSE)',
    });
    const overflows = deps.metrics.counter({
      name: 'chat_subscription_overflows_total',
      help: 'Subscriptions ended because their client stopped reading',
    });
    this.opened = () => active.inc();
    this.subscriptionDeps = {
      pool: deps.db.pool,
      stream: deps.stream,
      users: deps.users,
      cursors: deps.cursors,
      logger: deps.logger,
      messageEvent: (change) => this.messageEvent(change),
      reactionEvent: (organizationId, change) => this.reactionEvent(organizationId, change),
      statusEvents: (organizationId, change) => this.statusEventsOf(organizationId, change),
      overflowed: () => overflows.inc(),
      closed: () => active.dec(),
    };
  }

  channelMessages(session: Session, args: ChannelArgs) {
    return this.subscribe(session, args.after, { channelId: args.channelId, messages: true });
  }

  channelReactions(session: Session, args: ChannelArgs) {
    return this.subscribe(session, args.after, { channelId: args.channelId, reactions: true });
  }

  channelStatuses(session: Session, args: ChannelArgs) {
    return this.subscribe(session, args.after, { channelId: args.channelId, statuses: true });
  }

  channelTyping(session: Session, args: { channelId: string }) {
    return this.subscribe(session, null, { channelId: args.channelId, typing: true });
  }

  /** Everything the viewer may see, on one subscription. */
  viewerEvents(session: Session, args: { after?: string | null }) {
    return this.subscribe(session, args.after, {
      messages: true,
      reactions: true,
      statuses: true,
      channels: true,
      typing: true,
      presence: true,
      integrations: true,
    });
  }

  /** A channel the viewer cannot see is NOT_FOUND, as if it did not exist; a cursor must be one this server gave. */
  private async subscribe(
    session: Session,
    after: string | null | undefined,
    scope: SubscriptionScope,
  ): Promise<AsyncIterableIterator<ViewerEvent>> {
    const viewer = session.viewer;
    const { pool } = this.deps.db;
    if (scope.channelId) assertReadable(viewer, await loadChannelFacts(pool, viewer, scope.channelId));
    const cursor = after
      ? await this.deps.cursors.issued(pool, viewer.organizationId, after, 'after', { resumable: true })
      : undefined;
    const subscription = new EventSubscription(this.subscriptionDeps, viewer, scope);
    this.opened();
    await subscription.open(cursor, session.requestId);
    return subscription.queue;
  }

  /**
   * A message change as every local subscriber receives it: one object per change, whose cursor is encoded
   * once and whose details (reactions, replies, readers) are read once for all of them.
   */
  private messageEvent(change: MessageChange): MessageEvent {
    return builtOnce(this.messageEvents, change, () => {
      if (!sharedDetailsFor(change.message)) {
        // Shared by every reader: nothing here may depend on one (a last message is never read through it).
        const details = new MessageDetails(this.deps.db.pool, this.deps.users, () => 'NOT m.internal');
        if (change.kind === 'CREATED') details.primeNew(change.message);
        shareDetails(change.message, details);
      }
      return {
        type: 'message',
        kind: change.kind,
        message: change.message,
        cursor: this.deps.cursors.encode(change.message.organizationId, { seq: change.seq, part: 0 }),
      };
    });
  }

  /** A reaction change as every local subscriber receives it (so that one execution of a selection serves all). */
  private reactionEvent(organizationId: string, change: ReactionChange): ReactionEvent {
    return builtOnce(this.reactionEvents, change, () => {
      const { seq, ...reaction } = change;
      return { ...reaction, cursor: this.deps.cursors.encode(organizationId, { seq, part: 0 }) };
    });
  }

  /**
   * A status change as every local subscriber receives it: one event per message, the cursor of each naming its
   * part of the change (the last part is the change seen whole).
   */
  private statusEventsOf(organizationId: string, change: StatusChange): MessageStatusEvent[] {
    return builtOnce(this.statusEvents, change, () => {
      const parts = change.messageIds.length;
      return change.messageIds.map((messageId, part) => ({
        type: 'status',
        channelId: change.channelId,
        messageId,
        userId: change.userId,
        status: change.status,
        timestamp: change.at,
        cursor: this.deps.cursors.encode(organizationId, afterPart(change.seq, part, parts)),
      }));
    });
  }
}

/** What `build` makes for `change`, made once and kept as long as the change is (every subscriber gets the same). */
function builtOnce<K extends object, V>(built: WeakMap<K, V>, change: K, build: () => V): V {
  let value = built.get(change);
  if (value === undefined) built.set(change, (value = build()));
  return value;
}
