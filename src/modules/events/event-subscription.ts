import { GraphQLError } from 'graphql';
import type pg from 'pg';
import type { Viewer } from '../../auth/session.js';
import { revokedToken } from '../../auth/revocation.js';
import type { User } from '../../generated/prisma/client.js';
import { isServiceUnavailable, unauthenticated } from '../../lib/errors.js';
import type { Logger } from '../../logger.js';
import { BoundedQueue } from '../../realtime/bounded-queue.js';
import type { StreamSubscription } from '../../realtime/stream-hubs.js';
import { canSeeMessage, seesStaffOnly } from '../access/channel-rules.js';
import { ViewerChannels } from '../access/viewer-channels.js';
import type { MessageRecord } from '../messages/message-record.js';
import { afterPart, type SequenceCursor, type SequenceCursors, wholeUpTo } from '../messages/sequence-cursor.js';
import type { UserDirectory } from '../users/user-directory.js';
import { readChanges } from './organization-event-source.js';
import {
  type ChannelChange,
  channelsOf,
  type MessageChange,
  type MessageChangeKind,
  type OrganizationEvent,
  type ReactionChange,
  type SequencedEvent,
  type StatusChange,
} from './organization-events.js';
import type { OrganizationStream } from './organization-stream.js';
import type {
  ChannelEventKind,
  MessageEvent,
  MessageStatusEvent,
  ReactionEvent,
  ViewerEvent,
} from './subscriber-events.js';

/** What a subscription delivers: one channel or all the viewer may see, and which kinds of event. */
export interface SubscriptionScope {
  channelId?: string;
  messages?: boolean;
  reactions?: boolean;
  statuses?: boolean;
  channels?: boolean;
  typing?: boolean;
  presence?: boolean;
  /** Integration health changes, for admins. */
  integrations?: boolean;
}

/** What every subscription of an instance shares. */
export interface SubscriptionDeps {
  pool: pg.Pool;
  stream: OrganizationStream;
  users: Pick<UserDirectory, 'watch' | 'get'>;
  cursors: Pick<SequenceCursors, 'encode'>;
  logger: Logger;
  /** A message event as its subscribers receive it, built once per event for all of them. */
  messageEvent: (change: MessageChange) => MessageEvent;
  /** A reaction event, and the status events of a status change (one per message), built once likewise. */
  reactionEvent: (organizationId: string, change: ReactionChange) => ReactionEvent;
  statusEvents: (organizationId: string, change: StatusChange) => readonly MessageStatusEvent[];
  overflowed: () => void;
  closed: () => void;
}

const REPLAY_PAGE = 500;
/** Events a subscriber may have waiting before it counts as stalled. */
const QUEUE_CAPACITY = 1_000;

/**
 * One subscriber's stream. Every change of the organization arrives in sequence order (message, reaction,
 * status and channel changes share the organization's one sequence), is checked against the viewer's view of
 * their channels (kept current by the channel changes themselves, in the same order) and queued for the client
 * with its cursor. Given a cursor, the stream first replays from the database every change after it up to the
 * moment it joined the live stream, then continues live: nothing committed in between is missed, nothing
 * arrives twice. A replay respects what the viewer may see now, and reads a page at a time as the client
 * consumes.
 *
 * The viewer is watched while the stream is open: deactivated, the stream ends (UNAUTHENTICATED). A role change
 * arrives as a channel change in the stream: live events wait while the view is rebuilt for the new role, and
 * the channels gained and lost are announced.
 */
export class EventSubscription {
  readonly queue: BoundedQueue<ViewerEvent>;
  /** The last sequence number covered (delivered, skipped, or replayed). */
  private position = 0n;
  /** While something holds the stream (opening, the replay, a rebuild of the view), live events wait. */
  private holds = 1;
  private waiting: (() => void)[] = [];
  private channels: ViewerChannels | undefined;
  private joined: StreamSubscription | undefined;
  private stopWatchingViewer: (() => void) | undefined;

  constructor(
    private readonly deps: SubscriptionDeps,
    private viewer: Viewer,
    private readonly scope: SubscriptionScope,
  ) {
    this.queue = new BoundedQueue<ViewerEvent>(
      QUEUE_CAPACITY,
      () => {
        this.joined?.stop();
        this.stopWatchingViewer?.();
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

  /** Starts receiving: live from now, after replaying what changed since `after` when given. */
  async open(after: SequenceCursor | undefined, requestId?: string): Promise<void> {
    this.stopWatchingViewer = this.deps.users.watch(this.viewer.id, (user) => this.viewerChanged(user));
    try {
      // Joined before the view is read: a change committed meanwhile waits here and is applied to the view.
      const joined = await this.deps.stream.join(this.viewer.organizationId, (event) => this.receive(event));
      this.joined = joined;
      if (!this.queue.isOpen) joined.stop();
      this.position = joined.startSeq;
      // The account as it stands once joined (a change made earlier is not in the stream): read from the database,
      // since another instance may have changed it a moment ago.
      const { rows } = await this.deps.pool.query<{ role: User['role']; active: boolean }>(
        'SELECT upper(role::text) AS role, is_active AS active FROM users WHERE id = $1 AND organization_id = $2',
        [this.viewer.id, this.viewer.organizationId],
      );
      if (!rows[0]?.active) this.queue.fail(unauthenticated('This account was deactivated'));
      else this.viewer = { ...this.viewer, role: rows[0].role };
      this.channels = await ViewerChannels.load(this.deps.pool, this.viewer);
    } catch (error) {
      void this.queue.return();
      throw error;
    }
    if (!after) return this.release();
    this.replay(after, this.position).then(
      () => this.release(),
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

  private view(): ViewerChannels {
    return this.channels!;
  }

  private inScope(channelId: string): boolean {
    return (!this.scope.channelId || this.scope.channelId === channelId) && this.view().canSee(channelId);
  }

  private seesStatus(change: StatusChange): boolean {
    return canSeeMessage(this.viewer, { internal: change.internal ?? false });
  }

  private seesReaction(change: ReactionChange): boolean {
    return this.inScope(change.channelId) && canSeeMessage(this.viewer, { internal: change.internal ?? false });
  }

  private seesMessage(message: MessageRecord): boolean {
    return this.inScope(message.channelId) && canSeeMessage(this.viewer, message);
  }

  private receive(event: OrganizationEvent): void {
    this.later(() => {
      if ('seq' in event) {
        if (event.seq <= this.position) return;
        this.position = event.seq;
      }
      switch (event.type) {
        case 'message':
          if (this.scope.messages && this.seesMessage(event.message)) this.queue.push(this.deps.messageEvent(event));
          return;
        case 'reaction':
          if (this.scope.reactions && this.seesReaction(event)) this.queue.push(this.reactionEvent(event));
          return;
        case 'status':
          if (this.scope.statuses && this.seesStatus(event)) this.pushStatuses(event, 0);
          return;
        case 'channel':
          this.followChannelChange(event);
          return;
        case 'typing':
          if (this.scope.typing && event.userId !== this.viewer.id && this.inScope(event.channelId))
            this.queue.push(event);
          return;
        case 'presence':
          if (this.scope.presence && this.viewer.role !== 'CLIENT' && event.userId !== this.viewer.id)
            this.queue.push(event);
          return;
        case 'integration-health':
          if (this.scope.integrations && this.viewer.role === 'ADMIN') this.queue.push(event);
          return;
      }
    });
  }

  /** A live channel change: applied to the view, and announced for each channel whose visibility it touched. */
  private followChannelChange(change: ChannelChange): void {
    if (change.change === 'role-changed') {
      if (change.userId === this.viewer.id) this.rebuildView(change);
      return;
    }
    const affected = channelsOf(change);
    const before = affected.map((channelId) => change.change !== 'created' && this.view().canSee(channelId));
    this.view().apply(change);
    affected.forEach((channelId, part) => {
      const now = this.view().canSee(channelId);
      const kind: ChannelEventKind | null = now
        ? before[part]
          ? 'UPDATED'
          : 'ADDED'
        : before[part]
          ? 'REMOVED'
          : null;
      this.pushChannelEvent(change, affected.length, part, channelId, kind);
    });
  }

  /** The viewer's role changed: events wait while the view is rebuilt, then what it gained and lost is said. */
  private rebuildView(change: Extract<ChannelChange, { change: 'role-changed' }>): void {
    this.viewer = { ...this.viewer, role: change.role };
    this.holds += 1;
    ViewerChannels.load(this.deps.pool, this.viewer).then(
      (rebuilt) => {
        this.channels = rebuilt;
        this.announceRoleChange(change, 0);
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

  private announceRoleChange(change: Extract<ChannelChange, { change: 'role-changed' }>, fromPart: number): void {
    const affected = channelsOf(change);
    const lost = new Set(change.lost);
    affected.forEach((channelId, part) => {
      if (part < fromPart) return;
      const now = this.view().canSee(channelId);
      const kind = lost.has(channelId) ? (now ? null : 'REMOVED') : now ? 'ADDED' : null;
      this.pushChannelEvent(change, affected.length, part, channelId, kind);
    });
  }

  private pushChannelEvent(
    change: ChannelChange,
    parts: number,
    part: number,
    channelId: string,
    kind: ChannelEventKind | null,
  ): void {
    if (!kind || !this.scope.channels) return;
    // A conversation's status and assignee are the staff's; its client is not told they changed.
    if (change.change === 'conversation' && !seesStaffOnly(this.viewer)) return;
    if (this.scope.channelId && this.scope.channelId !== channelId) return;
    this.queue.push({ type: 'channel', kind, channelId, cursor: this.cursor(change.seq, part, parts) });
  }

  private pushStatuses(change: StatusChange, fromPart: number): void {
    if (!this.inScope(change.channelId)) return;
    this.deps.statusEvents(this.viewer.organizationId, change).forEach((event, part) => {
      if (part >= fromPart) this.queue.push(event);
    });
  }

  private reactionEvent(change: ReactionChange): ReactionEvent {
    return this.deps.reactionEvent(this.viewer.organizationId, change);
  }

  /** The cursor of part `part` of `parts` of event `seq`: its last part says the event was seen whole. */
  private cursor(seq: bigint, part: number, parts: number): string {
    return this.deps.cursors.encode(this.viewer.organizationId, afterPart(seq, part, parts));
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
    if (!user?.isActive || user.organizationId !== this.viewer.organizationId)
      this.queue.fail(unauthenticated('This account was deactivated'));
    else if (revokedToken(user, this.viewer.tokenIssuedAt)) this.queue.fail(unauthenticated('Signed out'));
  }

  /**
   * Replays every change in scope after `from` up to `upTo` (where the live stream took over), a page at a time,
   * waiting for the client to consume each page before reading the next. Channel changes are told as they
   * stand now: a channel the viewer can see is ADDED or UPDATED, one they lost is REMOVED.
   */
  private async replay(from: SequenceCursor, upTo: bigint): Promise<void> {
    const { channelId, messages, reactions, statuses, channels } = this.scope;
    const logged = [
      ...(reactions ? (['reaction'] as const) : []),
      ...(statuses ? (['status'] as const) : []),
      ...(channels ? (['channel'] as const) : []),
    ];
    const createdAfter = wholeUpTo(from);
    let position = from.part > 0 ? from.seq - 1n : from.seq;
    while (this.queue.isOpen && position < upTo) {
      const page = await readChanges(this.deps.pool, this.viewer.organizationId, {
        after: position,
        upTo,
        // Asked again for every page: the view may change during the replay (a role change, say).
        channelIds: channelId ? [channelId] : this.view().visibleChannelIds(),
        messages,
        logged,
        limit: REPLAY_PAGE,
        kindOf: (row) => kindSince(row, createdAfter),
      });
      for (const change of page) this.replayed(change, change.seq === from.seq ? from.part : 0);
      position = page.length === REPLAY_PAGE ? page.at(-1)!.seq : upTo;
      if (page.length === REPLAY_PAGE) await this.queue.whenBelow(REPLAY_PAGE / 5);
    }
  }

  private replayed(change: SequencedEvent, fromPart: number): void {
    switch (change.type) {
      case 'message':
        if (this.seesMessage(change.message)) this.queue.push(this.deps.messageEvent(change));
        return;
      case 'reaction':
        if (this.seesReaction(change)) this.queue.push(this.reactionEvent(change));
        return;
      case 'status':
        if (this.seesStatus(change)) this.pushStatuses(change, fromPart);
        return;
      case 'channel':
        this.replayedChannelChange(change, fromPart);
        return;
    }
  }

  private replayedChannelChange(change: ChannelChange, fromPart: number): void {
    if (change.change === 'role-changed') {
      if (change.userId === this.viewer.id) this.announceRoleChange(change, fromPart);
      return;
    }
    const affected = channelsOf(change);
    affected.forEach((channelId, part) => {
      if (part < fromPart) return;
      const now = this.view().canSee(channelId);
      const kind = now
        ? this.gains(change, channelId)
          ? 'ADDED'
          : 'UPDATED'
        : this.loses(change, channelId)
          ? 'REMOVED'
          : null;
      this.pushChannelEvent(change, affected.length, part, channelId, kind);
    });
  }

  /** Whether a change gave the viewer a channel they did not see before it. */
  private gains(change: ChannelChange, channelId: string): boolean {
    switch (change.change) {
      case 'created':
        return true;
      case 'updated':
        return change.previousType !== 'PUBLIC' && change.channelType === 'PUBLIC';
      case 'members-added':
        return change.userIds.includes(this.viewer.id);
      case 'client-assigned':
        return change.clientUserId === this.viewer.id && change.channelId === channelId;
      default:
        return false;
    }
  }

  /** Whether a change took a channel away from the viewer. */
  private loses(change: ChannelChange, channelId: string): boolean {
    switch (change.change) {
      case 'updated':
        return change.previousType === 'PUBLIC' && change.channelType !== 'PUBLIC';
      case 'member-removed':
        return change.userId === this.viewer.id;
      case 'client-assigned':
        return change.clientUserId === this.viewer.id && change.previousChannelId === channelId;
      default:
        return false;
    }
  }
}

/** What a replayed row means to a client that had seen every creation up to `createdUpTo`. */
function kindSince(row: MessageRecord, createdUpTo: bigint): MessageChangeKind {
  if (row.deletedAt) return 'DELETED';
  return BigInt(row.createdSeq) > createdUpTo ? 'CREATED' : 'UPDATED';
}
