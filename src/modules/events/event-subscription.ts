import { GraphQLError } from 'graphql';
import type pg from 'pg';
import type { Viewer } from '../../auth/session.js';
import type { User } from '../../generated/prisma/client.js';
import { isServiceUnavailable, unauthenticated } from '../../lib/errors.js';
import type { Logger } from '../../logger.js';
import { BoundedQueue } from '../../realtime/bounded-queue.js';
import { ViewerChannels } from '../access/viewer-channels.js';
import { cursorOfEvent } from '../messages/message-cursor.js';
import { readChangedMessages } from '../messages/message-event-source.js';
import type { MessageRecord } from '../messages/message-record.js';
import type { UserDirectory } from '../users/user-directory.js';
import type { AccessChange, MessageChange, MessageChangeKind, OrganizationEvent } from './organization-events.js';
import type { OrganizationStream } from './organization-stream.js';
import type { MessageEvent, MessageStatusEvent, ViewerEvent } from './subscriber-events.js';

/** What a subscription delivers: one channel or all the viewer may see, and which kinds of event. */
export interface SubscriptionScope {
  channelId?: string;
  messages: boolean;
  reactions: boolean;
  statuses: boolean;
}

/** What every subscription of an instance shares. */
export interface SubscriptionDeps {
  pool: pg.Pool;
  stream: OrganizationStream;
  users: Pick<UserDirectory, 'watch' | 'get'>;
  logger: Logger;
  /** A message event as its subscribers receive it, built once per event for all of them. */
  messageEvent: (change: MessageChange) => MessageEvent;
  overflowed: () => void;
  closed: () => void;
}

const REPLAY_PAGE = 500;
/** Events a subscriber may have waiting before it counts as stalled. */
const QUEUE_CAPACITY = 1_000;

/**
 * One subscriber's stream. Access is re-checked for every event, from a view of the viewer's channels that
 * access events keep current. Given a cursor, it first replays from the database every message changed after
 * it, then continues live: it joins the live stream before reading, so nothing committed in between is missed,
 * and skips live events the replay already covered, so nothing arrives twice. The replay reads a page at a time
 * as the client consumes, so a long absence is caught up at the client's pace.
 *
 * The viewer is watched while the stream is open: deactivated, the stream ends (UNAUTHENTICATED); given another
 * role, live events wait while the view of their channels is rebuilt for it, then are checked against it.
 */
export class EventSubscription {
  readonly queue: BoundedQueue<ViewerEvent>;
  /** The sequence number of the last message change covered (delivered, skipped, or replayed). */
  private position = 0n;
  /** While something holds the stream (the replay, a rebuild of the view), live events wait in `waiting`. */
  private holds = 1;
  private waiting: (() => void)[] = [];
  private stopStream = () => {};
  private stopWatchingViewer = () => {};
  private rebuilds = 0;
  /** Access changes that arrive while the view is rebuilt, to apply to the rebuilt view too. */
  private accessDuringRebuild: AccessChange[] | undefined;
  /** Settles once the view fits the viewer's current role: the replay checks rows against it. */
  private viewRebuilt: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: SubscriptionDeps,
    private viewer: Viewer,
    private channels: ViewerChannels,
    private readonly scope: SubscriptionScope,
  ) {
    this.queue = new BoundedQueue<ViewerEvent>(
      QUEUE_CAPACITY,
      () => {
        this.stopStream();
        this.stopWatchingViewer();
        deps.closed();
      },
      () => {
        deps.overflowed();
        return new GraphQLError(
          'This subscription fell too far behind; subscribe again with the last cursor you received',
          { extensions: { code: 'SUBSCRIPTION_OVERFLOW' } },
        );
      },
    );
  }

  /** Starts receiving: live from now, after replaying what changed since `replayFrom` when given. */
  async open(replayFrom: bigint | undefined, requestId?: string): Promise<void> {
    this.stopWatchingViewer = this.deps.users.watch(this.viewer.id, (user) => this.viewerChanged(user));
    // A change made before the watch began (while the view was read) is not announced again.
    const current = await this.deps.users.get(this.viewer.id);
    if (!current?.isActive || current.role !== this.viewer.role) this.viewerChanged(current);
    try {
      const joined = await this.deps.stream.join(this.viewer.organizationId, (event) => this.receive(event));
      this.stopStream = () => joined.stop();
      // Ended while joining (the viewer was deactivated): the queue has let go already.
      if (!this.queue.isOpen) this.stopStream();
      this.position = joined.startSeq;
    } catch (error) {
      void this.queue.return();
      throw error;
    }
    if (replayFrom === undefined || !this.scope.messages) return this.release();
    this.replay(replayFrom).then(
      (replayedTo) => {
        if (replayedTo > this.position) this.position = replayedTo;
        this.release();
      },
      (error: unknown) => {
        // Only an outage is worth retrying: the cursor itself was checked before subscribing.
        const outage = isServiceUnavailable(error);
        const log = { err: error, requestId };
        if (outage) this.deps.logger.warn(log, 'subscription replay failed: a backing service is unavailable');
        else this.deps.logger.error(log, 'subscription replay failed');
        this.queue.fail(
          outage
            ? new GraphQLError('Could not replay missed events; subscribe again with the same cursor', {
                extensions: { code: 'SERVICE_UNAVAILABLE' },
              })
            : new GraphQLError('Unexpected error', { extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
        );
      },
    );
  }

  private inScope(channelId: string): boolean {
    return (!this.scope.channelId || this.scope.channelId === channelId) && this.channels.canSee(channelId);
  }

  private receive(event: OrganizationEvent): void {
    switch (event.type) {
      case 'access':
        this.channels.apply(event);
        this.accessDuringRebuild?.push(event);
        return;
      case 'message':
        if (this.scope.messages) this.later(() => this.emitMessage(event));
        return;
      case 'reaction':
        if (this.scope.reactions) this.later(() => this.inScope(event.channelId) && this.queue.push(event));
        return;
      case 'status':
        if (this.scope.statuses)
          this.later(() => {
            if (!this.inScope(event.channelId)) return;
            for (const messageId of event.messageIds) {
              const status: MessageStatusEvent = {
                type: 'status',
                channelId: event.channelId,
                messageId,
                userId: event.userId,
                status: event.status,
                timestamp: event.at,
              };
              this.queue.push(status);
            }
          });
        return;
    }
  }

  private emitMessage(change: MessageChange): void {
    if (change.seq <= this.position) return;
    this.position = change.seq;
    if (this.inScope(change.message.channelId)) this.queue.push(this.deps.messageEvent(change));
  }

  private later(work: () => void): void {
    if (this.holds === 0) return work();
    this.waiting.push(work);
    if (this.waiting.length > QUEUE_CAPACITY) this.queue.fail(this.queue.overflow());
  }

  private release(): void {
    this.holds -= 1;
    if (this.holds > 0) return;
    const pending = this.waiting;
    this.waiting = [];
    pending.forEach((work) => work());
  }

  private viewerChanged(user: User | null): void {
    if (!user?.isActive || user.organizationId !== this.viewer.organizationId) {
      this.queue.fail(unauthenticated('This account was deactivated'));
      return;
    }
    if (user.role === this.viewer.role) return;
    this.viewer = { ...this.viewer, role: user.role };
    const rebuild = ++this.rebuilds;
    const changes: AccessChange[] = (this.accessDuringRebuild ??= []);
    this.holds += 1;
    const loading = ViewerChannels.load(this.deps.pool, this.viewer);
    this.viewRebuilt = loading.catch(() => undefined);
    loading.then(
      (rebuilt) => {
        if (rebuild === this.rebuilds) {
          changes.forEach((event) => rebuilt.apply(event));
          this.channels = rebuilt;
          this.accessDuringRebuild = undefined;
        }
        this.release();
      },
      (error: unknown) => {
        this.deps.logger.warn({ err: error }, "could not rebuild a subscription's view after a role change");
        this.queue.fail(
          new GraphQLError('Your access changed; subscribe again with the last cursor you received', {
            extensions: { code: 'SERVICE_UNAVAILABLE' },
          }),
        );
      },
    );
  }

  /**
   * Replays every message in scope whose latest change is after `from`, a page at a time, waiting for the
   * client to consume each page before reading the next. Returns the last sequence number covered.
   */
  private async replay(from: bigint): Promise<bigint> {
    let position = from;
    while (this.queue.isOpen) {
      const rows = await readChangedMessages(this.deps.pool, this.viewer.organizationId, {
        after: position,
        // Asked again for every page, since the viewer's access may change during the replay.
        channelIds: this.scope.channelId ? [this.scope.channelId] : this.channels.visibleChannelIds(),
        limit: REPLAY_PAGE,
      });
      await this.viewRebuilt;
      for (const row of rows) {
        if (!this.inScope(row.channelId)) continue;
        this.queue.push({
          type: 'message',
          kind: kindSince(row, from),
          message: row,
          cursor: cursorOfEvent(row, row.eventSeq),
        });
      }
      if (rows.length > 0) position = BigInt(rows.at(-1)!.eventSeq);
      if (rows.length < REPLAY_PAGE) break;
      await this.queue.whenBelow(REPLAY_PAGE / 5);
    }
    return position;
  }
}

/** What a replayed row means to a client that had seen everything up to `from`. */
function kindSince(row: MessageRecord, from: bigint): MessageChangeKind {
  if (row.deletedAt) return 'DELETED';
  return BigInt(row.createdSeq) > from ? 'CREATED' : 'UPDATED';
}
