import { randomUUID } from 'node:crypto';
import type { Viewer } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { PresenceStore, PresenceTransition } from './presence-store.js';

export interface PresenceServiceDeps {
  store: PresenceStore;
  stream: OrganizationStream;
  db: Database;
  logger: Logger;
  /** How often this instance renews its claims and lapses stale ones (a third of the claims' lifetime, say). */
  heartbeatMs: number;
  /** Idle this long: AWAY. */
  awayAfterMs: number;
}

interface LocalUser {
  sockets: number;
  /** When the user last ran an operation here. */
  activeAt: number;
  /** The last activity the store was told of. */
  reportedActiveAt: number;
}

/**
 * Presence as this instance sees it: the users it holds sockets for, claimed in the shared store (Redis across
 * instances) and renewed by heartbeats; a crashed instance's claims lapse and whichever instance notices
 * announces the users OFFLINE. Every transition is announced once, as a PresenceEvent on the organization's
 * stream, and an OFFLINE one is remembered as the user's `last_seen_at`.
 */
export class PresenceService {
  private readonly instanceId = randomUUID();
  private readonly local = new Map<string, Map<string, LocalUser>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: PresenceServiceDeps) {}

  start(): void {
    this.timer = setInterval(() => void this.heartbeat(), this.deps.heartbeatMs);
    this.timer.unref();
  }

  /** Gives up this instance's claims (a graceful stop: its users go OFFLINE now, not when the claims lapse). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const users = [...this.local].flatMap(([organizationId, users]) =>
      [...users.keys()].map((userId) => ({ organizationId, userId })),
    );
    this.local.clear();
    await Promise.all(
      users.map(({ organizationId, userId }) =>
        this.change(organizationId, (store, now) => store.leave(organizationId, this.instanceId, userId, now)),
      ),
    );
  }

  /** A socket of the viewer opened on this instance; returns what to call when it closes. */
  connected(viewer: Viewer): () => void {
    let users = this.local.get(viewer.organizationId);
    if (!users) this.local.set(viewer.organizationId, (users = new Map()));
    const now = Date.now();
    const user = users.get(viewer.id);
    if (user) user.sockets += 1;
    else {
      users.set(viewer.id, { sockets: 1, activeAt: now, reportedActiveAt: now });
      void this.change(viewer.organizationId, (store) =>
        store.arrive(viewer.organizationId, this.instanceId, viewer.id, now),
      );
    }
    let closed = false;
    return () => {
      if (closed) return;
      closed = true;
      this.disconnected(viewer);
    };
  }

  /** The viewer ran an operation: active, so ONLINE again at once if they were AWAY. */
  active(viewer: Viewer): void {
    const user = this.local.get(viewer.organizationId)?.get(viewer.id);
    if (!user) return;
    const now = Date.now();
    user.activeAt = now;
    if (now - user.reportedActiveAt < this.deps.awayAfterMs / 2) return;
    user.reportedActiveAt = now;
    void this.change(viewer.organizationId, (store) =>
      store.arrive(viewer.organizationId, this.instanceId, viewer.id, now),
    );
  }

  /** The presence of some users of an organization now. */
  presenceOf(organizationId: string, userIds: readonly string[]): Promise<Map<string, PresenceTransition>> {
    return this.deps.store.read(organizationId, userIds, Date.now());
  }

  private disconnected(viewer: Viewer): void {
    const users = this.local.get(viewer.organizationId);
    const user = users?.get(viewer.id);
    if (!users || !user) return;
    user.sockets -= 1;
    if (user.sockets > 0) return;
    users.delete(viewer.id);
    if (users.size === 0) this.local.delete(viewer.organizationId);
    void this.change(viewer.organizationId, (store, now) =>
      store.leave(viewer.organizationId, this.instanceId, viewer.id, now),
    );
  }

  /** Renews this instance's claims in every organization it has users of, lapsing stale claims as it goes. */
  private async heartbeat(): Promise<void> {
    await Promise.all(
      [...this.local].map(([organizationId, users]) =>
        this.change(organizationId, (store, now) =>
          store.heartbeat(
            organizationId,
            this.instanceId,
            [...users].map(([userId, user]) => {
              user.reportedActiveAt = user.activeAt;
              return { userId, activeAt: user.activeAt };
            }),
            now,
          ),
        ),
      ),
    );
  }

  /** Applies a change to the store and announces the transitions it caused. Presence is best effort. */
  private async change(
    organizationId: string,
    apply: (store: PresenceStore, now: number) => Promise<PresenceTransition[]>,
  ): Promise<void> {
    let transitions: PresenceTransition[];
    try {
      transitions = await apply(this.deps.store, Date.now());
    } catch (error) {
      this.deps.logger.debug({ err: error, organizationId }, 'presence not updated');
      return;
    }
    for (const transition of transitions) {
      // Remembered before it is announced, so that whoever reacts to OFFLINE reads when the user was last seen.
      if (transition.presence === 'OFFLINE')
        await this.deps.db.pool
          .query('UPDATE users SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1 AND organization_id = $3', [
            transition.userId,
            transition.lastSeenAt,
            organizationId,
          ])
          .catch((error: unknown) => this.deps.logger.debug({ err: error }, 'last seen time not stored'));
      void this.deps.stream.publish(organizationId, { type: 'presence', ...transition });
    }
  }
}
