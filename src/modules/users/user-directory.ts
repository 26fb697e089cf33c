import type { PrismaClient, User } from '../../generated/prisma/client.js';
import type { Logger } from '../../logger.js';

const TTL_MS = 60_000;
const MAX_ENTRIES = 100_000;
/** How often a changed user is read again while the database does not answer, and for how long. */
const RELOAD_RETRY_MS = 500;
const RELOAD_ATTEMPTS = 60;

/** Told what a watched user is now, after it changed on any instance (null: the user no longer exists). */
export type UserWatcher = (user: User | null) => void;

/**
 * Users by id, cached per instance. Authentication and message authors read users on every request and
 * every event; they change rarely, and every change (from any instance) evicts the user here through the
 * bus (see `changed`), so the cache answers nearly all of those reads without the database.
 *
 * What was decided from a user when a connection or subscription opened (that they are active, their role)
 * must not outlive a change: whoever holds such a decision watches the user, and is told the user's new state
 * once per change, on every instance.
 */
export class UserDirectory {
  private readonly entries = new Map<string, { user: User | null; expiresAt: number }>();
  private readonly watchers = new Map<string, Set<UserWatcher>>();

  constructor(
    private readonly prisma: PrismaClient,
    private readonly logger: Logger,
  ) {}

  async get(id: string): Promise<User | null> {
    return (await this.getMany([id])).get(id) ?? null;
  }

  /** The users among `ids` that exist, in one query for those not cached. */
  async getMany(ids: readonly string[]): Promise<Map<string, User>> {
    const now = Date.now();
    const found = new Map<string, User>();
    const missing: string[] = [];
    for (const id of new Set(ids)) {
      const entry = this.entries.get(id);
      if (entry && entry.expiresAt > now) {
        if (entry.user) found.set(id, entry.user);
      } else missing.push(id);
    }
    if (missing.length > 0) {
      const loaded = await this.prisma.user.findMany({ where: { id: { in: missing } } });
      const byId = new Map(loaded.map((user) => [user.id, user]));
      if (this.entries.size + missing.length > MAX_ENTRIES) this.entries.clear();
      for (const id of missing) {
        const user = byId.get(id) ?? null;
        this.entries.set(id, { user, expiresAt: now + TTL_MS });
        if (user) found.set(id, user);
      }
    }
    return found;
  }

  /** The cached user (null: known not to exist), or undefined when the cache does not know. */
  cached(id: string): User | null | undefined {
    const entry = this.entries.get(id);
    return entry && entry.expiresAt > Date.now() ? entry.user : undefined;
  }

  /** Seeds the cache with a row just read or written, so the next request does not read it again. */
  remember(user: User): void {
    this.entries.set(user.id, { user, expiresAt: Date.now() + TTL_MS });
  }

  forget(id: string): void {
    this.entries.delete(id);
  }

  /** Calls `watcher` with the user's new state after each change to them; returns the call that stops it. */
  watch(userId: string, watcher: UserWatcher): () => void {
    let watchers = this.watchers.get(userId);
    if (!watchers) this.watchers.set(userId, (watchers = new Set()));
    watchers.add(watcher);
    return () => {
      if (watchers.delete(watcher) && watchers.size === 0 && this.watchers.get(userId) === watchers)
        this.watchers.delete(userId);
    };
  }

  /**
   * A user changed (announced on the bus by the instance that changed them): the cached row is forgotten and,
   * when someone here watches the user, read again and handed to each watcher. While the database does not
   * answer the read is retried, so that a deactivation is never missed, only delayed.
   */
  async changed(userId: string): Promise<void> {
    this.forget(userId);
    for (let attempt = 1; this.watchers.has(userId); attempt++) {
      let user: User | null;
      try {
        user = await this.get(userId);
      } catch (error) {
        if (attempt >= RELOAD_ATTEMPTS) {
          this.logger.error({ err: error, userId }, 'could not read a changed user; its watchers were not told');
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, RELOAD_RETRY_MS));
        continue;
      }
      for (const watcher of [...(this.watchers.get(userId) ?? [])]) {
        try {
          watcher(user);
        } catch (error) {
          this.logger.error({ err: error, userId }, 'user watcher failed');
        }
      }
      return;
    }
  }
}
