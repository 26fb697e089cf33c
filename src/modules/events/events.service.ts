import { GraphQLError } from 'graphql';
import type { Session, Viewer } from '../../auth/session.js';
import { BoundedQueue } from '../../realtime/bounded-queue.js';
import type { DeliveredMessageEvent, HubListener } from '../../realtime/organization-hub.js';
import type { MessageEventKind, ReactionBusEvent, StatusBusEvent } from '../../realtime/org-events.js';
import type { ServiceDeps } from '../../services.js';
import { assertReadable, loadChannelFacts, ViewerChannels } from '../channels/channel-access.js';
import { isServiceUnavailable } from '../../lib/errors.js';
import { cursorOfEvent, issuedCursor } from '../messages/message-cursor.js';
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

export class EventService {
  private readonly active;
  private readonly overflows;
  private readonly eventCursors = new WeakMap<DeliveredMessageEvent, string>();

  constructor(private readonly deps: ServiceDeps) {
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
   */
  private async stream(session: Session, options: StreamOptions): Promise<AsyncIterableIterator<EventPayload>> {
    const viewer = session.viewer;
    if (options.channelId) assertReadable(viewer, await loadChannelFacts(this.deps.db.pool, viewer, options.channelId));
    const cursor =
      options.after && options.messages
        ? await issuedCursor(this.deps.db.pool, viewer.organizationId, options.after, 'after')
        : undefined;
    const channels = await ViewerChannels.load(this.deps.db.pool, viewer);
    const inScope = (channelId: string) =>
      (!options.channelId || options.channelId === channelId) && channels.canSee(channelId);

    let position = 0n;
    // Live events that arrive while the replay runs wait here, as many as a stalled client may have queued.
    let waiting: (() => void)[] | null = [];
    let stopHub = () => {};
    this.active.inc();
    const queue = new BoundedQueue<EventPayload>(
      QUEUE_CAPACITY,
      () => {
        this.active.dec();
        stopHub();
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
      if (!waiting) return work();
      waiting.push(work);
      if (waiting.length > QUEUE_CAPACITY) queue.fail(queue.overflow());
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
    const listener: HubListener = {
      access: (event) => channels.apply(event),
      ...(options.messages ? { message: (event) => later(() => emitMessage(event)) } : {}),
      ...(options.reactions
        ? { reaction: (event) => inScope(event.channelId) && later(() => queue.push(reactionPayload(event))) }
        : {}),
      ...(options.statuses
        ? {
            status: (event) =>
              inScope(event.channelId) && later(() => statusPayloads(event).forEach((payload) => queue.push(payload))),
          }
        : {}),
    };
    try {
      const subscription = await this.deps.hubs.join(viewer.organizationId, listener);
      stopHub = () => subscription.stop();
      position = subscription.startSeq;
    } catch (error) {
      void queue.return();
      throw error;
    }
    const goLive = () => {
      const pending = waiting ?? [];
      waiting = null;
      pending.forEach((work) => work());
    };
    if (cursor) {
      this.replay(viewer, channels, options.channelId, cursor.seq, queue).then(
        (replayedTo) => {
          if (replayedTo > position) position = replayedTo;
          goLive();
        },
        (error: unknown) => {
          // Only an outage is worth retrying: the cursor itself was checked above.
          const outage = isServiceUnavailable(error);
          const log = { err: error, requestId: session.requestId };
          if (outage) this.deps.logger.warn(log, 'subscription replay failed: a backing service is unavailable');
          else this.deps.logger.error(log, 'subscription replay failed');
          queue.fail(
            outage
              ? new GraphQLError('Could not replay missed events; subscribe again with the same cursor', {
                  extensions: { code: 'SERVICE_UNAVAILABLE' },
                })
              : new GraphQLError('Unexpected error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
          );
        },
      );
    } else goLive();
    return queue;
  }

  /**
   * Replays every message in scope whose latest change is after `from`, a page at a time, waiting for the
   * client to consume each page before reading the next. Returns the last sequence number covered.
   */
  private async replay(
    viewer: Viewer,
    channels: ViewerChannels,
    channelId: string | undefined,
    from: bigint,
    queue: BoundedQueue<EventPayload>,
  ): Promise<bigint> {
    const visible = channelId ? [channelId] : channels.visibleChannelIds();
    let position = from;
    while (queue.isOpen) {
      const { rows } = await this.deps.db.pool.query<MessageRecord>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages m
         WHERE m.organization_id = $1 AND m.event_seq > $2 AND ($3::uuid[] IS NULL OR m.channel_id = ANY($3::uuid[]))
         ORDER BY m.event_seq LIMIT ${REPLAY_PAGE}`,
        [viewer.organizationId, position.toString(), visible],
      );
      for (const row of rows) {
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
