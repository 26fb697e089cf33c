import type { PrismaClient, User } from '../../generated/prisma/client.js';

const TTL_MS = 60_000;
const MAX_ENTRIES = 100_000;

/**
 * Users by id, cached per instance. Authentication and message authors read users on every request and
 * every event; they change rarely, and every change (from any instance) evicts the user here through the
 * bus (see `forget`), so the cache answers nearly all of those reads without the database.
 */
export class UserDirectory {
  private readonly entries = new Map<string, { user: User | null; expiresAt: number }>();

  constructor(private readonly prisma: PrismaClient) {}

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
}
