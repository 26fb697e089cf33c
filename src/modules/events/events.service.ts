import { GraphQLError } from 'graphql';
import type { Session } from '../../auth/session.js';
import type { User } from '../../generated/prisma/client.js';
import { unauthenticated } from '../../lib/errors.js';
import { BoundedQueue } from '../../realtime/bounded-queue.js';
import type { DeliveredMessageEvent, HubListener } from '../../realtime/organization-hub.js';
import type { AccessBusEvent, MessageEventKind, ReactionBusEvent, StatusBusEvent } from '../../realtime/org-events.js';
import type { Database } from '../../db/database.js';
import type { OrganizationHubs } from '../../realtime/organization-hub.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { UserDirectory } from '../users/user-directory.js';
import { assertReadable } from '../access/channel-rules.js';
import { loadChannelFacts } from '../access/channel-visibility.js';
import { ViewerChannels } from '../access/viewer-channels.js';
import { cursorOfEvent, decodeCursor } from '../messages/message-cursor.js';
import { MessageDetails, shareDetails, sharedDetailsFor } from '../messages/message-details.js';
import { MESSAGE_COLUMNS, type MessageRecord } from '../messages/message-record.js';

export interface MessageEventPayload {
  type: 'message';
  kind: MessageEventKind;
  message: MessageRecord;
  cursor: string;
}

/** A reaction event as GraphQL resolves it: the bus event, its time as a Date. */
export type ReactionEventPayload = Omit<ReactionBusEvent, 'at'> & { at: Date };

export interface StatusEventPayload {
  type: 'status';
  channelId: string;
  messageId: string;
  userId: string;
  status: StatusBusEvent['status'];
  timestamp: Date;
}

export type EventPayload = MessageEventPayload | ReactionEventPayload | StatusEventPayload;

interface StreamOptions {
  /** One channel, or every channel the viewer may see. */
  channelId?: string;
  after?: string | null;
  messages?: boolean;
  reactions?: boolean;
  statuses?: boolean;
}

const REPLAY_PAGE = 500;
/** Events a subscriber may have waiting before it counts as stalled. */
const QUEUE_CAPACITY = 1_000;

/** What EventService is built from. */
export interface EventServiceDeps {
  db: Database;
  hubs: OrganizationHubs;
  logger: Logger;
  metrics: Metrics;
  users: UserDirectory;
}

export class EventService {
  private readonly active;
  private readonly overflows;
  private readonly eventCursors = new WeakMap<DeliveredMessageEvent, string>();

  constructor(private readonly deps: EventServiceDeps) {
    this.active = deps.metrics.gauge({
      name: 'chat_subscriptions_active',
      help: 'Subscriptions being served by this instance (graphql-ws and SSE)',
    });
    this.overflows = deps.metrics.counter({
      name: 'chat_subscription_overflows_total',
      help: 'Subscriptions ended because their client stopped reading',
    });
  }

  messageEvents(session: Session, args: { channelId: string; after?: string | null }) {
    return this.stream(session, { channelId: args.channelId, after: args.after, messages: true });
  }

  reactionEvents(session: Session, args: { channelId: string }) {
    return this.stream(session, { channelId: args.channelId, reactions: true });
  }

  messageStatusEvents(session: Session, args: { channelId: string }) {
    return this.stream(session, { channelId: args.channelId, statuses: true });
  }

  viewerEvents(session: Session, args: { after?: string | null }) {
    return this.stream(session, { after: args.after, messages: true, reactions: true, statuses: true });
  }

  /**
   * A subscriber's stream. Access is checked when subscribing (a channel the viewer cannot see is NOT_FOUND)
   * and again for every event, from a per-subscription view of the viewer's channels that access events keep
   * current. Given `after`, the stream first replays from the database every message changed after that
   * cursor, then continues live: it joins the live stream before reading, so nothing committed in between
   * is missed, and skips live events the replay already covered, so nothing arrives twice. The replay reads a
   * page at a time as the client consumes, so a long absence is caught up at the client's pace.
   *
   * The viewer is watched while the stream is open: deactivated, the stream ends (UNAUTHENTICATED); given
   * another role, live events wait while the view of their channels is rebuilt for it, then are checked
   * against the new view.
   */
  private async stream(session: Session, options: StreamOptions): Promise<AsyncIterableIterator<EventPayload>> {
    let viewer = session.viewer;
    if (options.channelId) assertReadable(viewer, await loadChannelFacts(this.deps.db.pool, viewer, options.channelId));
    let channels = await ViewerChannels.load(this.deps.db.pool, viewer);
    const inScope = (channelId: string) =>
      (!options.channelId || options.channelId === channelId) && channels.canSee(channelId);
    let position = 0n;
    // While something holds the stream (the replay, a rebuild of the view), live events wait here, as many as a
    // stalled client may have queued.
    let holds = 1;
    let waiting: (() => void)[] = [];
    let stopHub = () => {};
    let stopWatchingViewer = () => {};
    this.active.inc();
    const queue = new BoundedQueue<EventPayload>(
      QUEUE_CAPACITY,
      () => {
        this.active.dec();
        stopHub();
        stopWatchingViewer();
      },
      () => {
        this.overflows.inc();
        return new GraphQLError(
          'This subscription fell too far behind; subscribe again with the last cursor you received',
          {
            extensions: { code: 'SUBSCRIPTION_OVERFLOW' },
          },
        );
      },
    );
    const later = (work: () => void) => {
      if (holds === 0) return work();
      waiting.push(work);
      if (waiting.length > QUEUE_CAPACITY) queue.fail(queue.overflow());
    };
    const release = () => {
      holds -= 1;
      if (holds > 0) return;
      const pending = waiting;
      waiting = [];
      pending.forEach((work) => work());
    };
    const emitMessage = (event: DeliveredMessageEvent) => {
      if (event.seq <= position) return;
      position = event.seq;
      if (!inScope(event.message.channelId)) return;
      queue.push({
        type: 'message',
        kind: event.kind,
        message: this.shared(event),
        cursor: this.cursorOf(event),
      });
    };
    // Access events that arrive while the view is rebuilt, to apply to the rebuilt view too.
    let accessDuringRebuild: AccessBusEvent[] | undefined;
    const listener: HubListener = {
      access: (event) => {
        channels.apply(event);
        accessDuringRebuild?.push(event);
      },
      ...(options.messages ? { message: (event) => later(() => emitMessage(event)) } : {}),
      ...(options.reactions
        ? { reaction: (event) => later(() => inScope(event.channelId) && queue.push(reactionPayload(event))) }
        : {}),
      ...(options.statuses
        ? {
            status: (event) =>
              later(() => inScope(event.channelId) && statusPayloads(event).forEach((payload) => queue.push(payload))),
          }
        : {}),
    };
    let rebuilds = 0;
    // Settles once the view fits the viewer's current role: the replay checks rows against it.
    let viewRebuilt: Promise<unknown> = Promise.resolve();
    const viewerChanged = (user: User | null) => {
      if (!user?.isActive || user.organizationId !== viewer.organizationId) {
        queue.fail(unauthenticated('This account was deactivated'));
        return;
      }
      if (user.role === viewer.role) return;
      viewer = { ...viewer, role: user.role };
      const rebuild = ++rebuilds;
      const changes: AccessBusEvent[] = (accessDuringRebuild ??= []);
      holds += 1;
      const loading = ViewerChannels.load(this.deps.db.pool, viewer);
      viewRebuilt = loading.catch(() => undefined);
      loading.then(
        (rebuilt) => {
          if (rebuild === rebuilds) {
            changes.forEach((event) => rebuilt.apply(event));
            channels = rebuilt;
            accessDuringRebuild = undefined;
          }
          release();
        },
        (error: unknown) => {
          this.deps.logger.warn({ err: error }, "could not rebuild a subscription's view after a role change");
          queue.fail(
            new GraphQLError('Your access changed; subscribe again with the last cursor you received', {
              extensions: { code: 'SERVICE_UNAVAILABLE' },
            }),
          );
        },
      );
    };
    stopWatchingViewer = this.deps.users.watch(viewer.id, viewerChanged);
    // A change made before the watch began (while the view above was read) is not announced again.
    const current = await this.deps.users.get(viewer.id);
    if (!current?.isActive || current.role !== viewer.role) viewerChanged(current);
    try {
      const subscription = await this.deps.hubs.join(viewer.organizationId, listener);
      stopHub = () => subscription.stop();
      // Ended while joining (the viewer was deactivated): the queue has let go already.
      if (!queue.isOpen) stopHub();
      position = subscription.startSeq;
    } catch (error) {
      void queue.return();
      throw error;
    }
    const cursor = options.after ? decodeCursor(options.after) : undefined;
    if (cursor && options.messages) {
      this.replay(
        viewer.organizationId,
        {
          channelIds: () => (options.channelId ? [options.channelId] : channels.visibleChannelIds()),
          inScope,
          rebuilt: () => viewRebuilt,
        },
        cursor.seq,
        queue,
      ).then(
        (replayedTo) => {
          if (replayedTo > position) position = replayedTo;
          release();
        },
        (error: unknown) => {
          this.deps.logger.warn({ err: error }, 'subscription replay failed');
          queue.fail(
            new GraphQLError('Could not replay missed events; subscribe again with the same cursor', {
              extensions: { code: 'SERVICE_UNAVAILABLE' },
            }),
          );
        },
      );
    } else release();
    return queue;
  }

  /**
   * Replays every message in scope whose latest change is after `from`, a page at a time, waiting for the
   * client to consume each page before reading the next. Returns the last sequence number covered.
   */
  private async replay(
    organizationId: string,
    /** The viewer's view, asked again for every page, since their access may change during the replay. */
    view: {
      channelIds: () => string[] | null;
      inScope: (channelId: string) => boolean;
      rebuilt: () => Promise<unknown>;
    },
    from: bigint,
    queue: BoundedQueue<EventPayload>,
  ): Promise<bigint> {
    let position = from;
    while (queue.isOpen) {
      const { rows } = await this.deps.db.pool.query<MessageRecord>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m
         WHERE m.organization_id = $1 AND m.event_seq > $2 AND ($3::uuid[] IS NULL OR m.channel_id = ANY($3::uuid[]))
         ORDER BY m.event_seq LIMIT ${REPLAY_PAGE}`,
        [organizationId, position.toString(), view.channelIds()],
      );
      await view.rebuilt();
      for (const row of rows) {
        if (!view.inScope(row.channelId)) continue;
        queue.push({
          type: 'message',
          kind: kindSince(row, from),
          message: row,
          cursor: cursorOfEvent(row, row.eventSeq),
        });
      }
      if (rows.length > 0) position = BigInt(rows.at(-1)!.eventSeq);
      if (rows.length < REPLAY_PAGE) break;
      await queue.whenBelow(REPLAY_PAGE / 5);
    }
    return position;
  }

  /** The event's cursor, encoded once for all its local subscribers. */
  private cursorOf(event: DeliveredMessageEvent): string {
    let cursor = this.eventCursors.get(event);
    if (cursor === undefined)
      this.eventCursors.set(event, (cursor = cursorOfEvent(event.message, event.seq.toString())));
    return cursor;
  }

  /** The event's message, with details shared by every local subscriber of this event (read once). */
  private shared(event: DeliveredMessageEvent): MessageRecord {
    if (!sharedDetailsFor(event.message)) {
      const details = new MessageDetails(this.deps.db.pool, this.deps.users);
      if (event.kind === 'CREATED') details.primeNew(event.message);
      shareDetails(event.message, details);
    }
    return event.message;
  }
}

/** What a replayed row means to a client that had seen everything up to `from`. */
function kindSince(row: MessageRecord, from: bigint): MessageEventKind {
  if (row.deletedAt) return 'DELETED';
  return BigInt(row.createdSeq) > from ? 'CREATED' : 'UPDATED';
}

const reactionPayload = (event: ReactionBusEvent): ReactionEventPayload => ({ ...event, at: new Date(event.at) });

const statusPayloads = (event: StatusBusEvent): StatusEventPayload[] =>
  event.messageIds.map((messageId) => ({
    type: 'status',
    channelId: event.channelId,
    messageId,
    userId: event.userId,
    status: event.status,
    timestamp: new Date(event.at),
  }));
