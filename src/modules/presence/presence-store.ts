import {
  closeRedisClient,
  connectWithin,
  createRedisClient,
  type RedisClient,
  type RedisTarget,
} from '../../lib/redis-connection.js';
import type { Presence } from '../events/organization-events.js';

/** A user's presence changed (found by whichever instance noticed): to announce and to remember. */
export interface PresenceTransition {
  userId: string;
  presence: Presence;
  /** When the user was last active (for OFFLINE: their last seen time). */
  lastSeenAt: Date;
}

export interface PresenceTiming {
  /** How long an instance's claim that a user is connected lasts without a heartbeat. */
  ttlMs: number;
  /** Connected but idle this long: AWAY. */
  awayAfterMs: number;
}

/**
 * Who is connected, across instances: each instance claims the users it holds sockets for, refreshing its claims
 * with heartbeats; a claim not refreshed (its instance crashed) lapses. A user is ONLINE while some claim is
 * live and was active recently, AWAY while claimed but idle, OFFLINE otherwise. Every operation returns the
 * transitions it caused, exactly once across instances, for the caller to announce.
 */
export interface PresenceStore {
  /** The instance holds a first socket of the user. */
  arrive(organizationId: string, instanceId: string, userId: string, now: number): Promise<PresenceTransition[]>;
  /** The instance's last socket of the user closed. */
  leave(organizationId: string, instanceId: string, userId: string, now: number): Promise<PresenceTransition[]>;
  /** Refreshes the instance's claims (and each user's last activity), and lapses every stale claim. */
  heartbeat(
    organizationId: string,
    instanceId: string,
    users: { userId: string; activeAt: number }[],
    now: number,
  ): Promise<PresenceTransition[]>;
  readonly kind: 'memory' | 'redis';
  /** The presence of some users now (unknown users are OFFLINE). */
  read(organizationId: string, userIds: readonly string[], now: number): Promise<Map<string, PresenceTransition>>;
  close(): Promise<void>;
}

/** One user's claims: per instance, until when it holds and when the user was last active there. */
interface Entry {
  state: Presence;
  claims: Record<string, [expiresAt: number, activeAt: number]>;
  /** When an instance's last socket of the user closed (memory store only). */
  leftAt?: number;
}

function stateOf(entry: Entry, now: number, timing: PresenceTiming): { presence: Presence; lastSeenAt: number } {
  let lastSeenAt = entry.leftAt ?? 0;
  let live = false;
  let active = false;
  for (const [expiresAt, activeAt] of Object.values(entry.claims)) {
    lastSeenAt = Math.max(lastSeenAt, activeAt, expiresAt - timing.ttlMs);
    if (expiresAt <= now) continue;
    live = true;
    if (activeAt > now - timing.awayAfterMs) active = true;
  }
  return { presence: !live ? 'OFFLINE' : active ? 'ONLINE' : 'AWAY', lastSeenAt };
}

/** Presence inside one instance (no REDIS_URL). */
export class MemoryPresenceStore implements PresenceStore {
  readonly kind = 'memory';
  private readonly organizations = new Map<string, Map<string, Entry>>();

  constructor(private readonly timing: PresenceTiming) {}

  arrive(organizationId: string, instanceId: string, userId: string, now: number) {
    return this.update(organizationId, [userId], now, (entry) => {
      entry.claims[instanceId] = [now + this.timing.ttlMs, now];
    });
  }

  leave(organizationId: string, instanceId: string, userId: string, now: number) {
    return this.update(organizationId, [userId], now, (entry) => {
      delete entry.claims[instanceId];
      // A socket that just closed was there until now.
      entry.leftAt = now;
    });
  }

  heartbeat(organizationId: string, instanceId: string, users: { userId: string; activeAt: number }[], now: number) {
    const activity = new Map(users.map((user) => [user.userId, user.activeAt]));
    const everyone = [...(this.organizations.get(organizationId)?.keys() ?? []), ...activity.keys()];
    return this.update(organizationId, [...new Set(everyone)], now, (entry, userId) => {
      const activeAt = activity.get(userId);
      if (activeAt !== undefined) entry.claims[instanceId] = [now + this.timing.ttlMs, activeAt];
    });
  }

  async read(organizationId: string, userIds: readonly string[], now: number) {
    const entries = this.organizations.get(organizationId);
    return new Map(
      userIds.map((userId): [string, PresenceTransition] => {
        const entry = entries?.get(userId);
        const { presence, lastSeenAt } = entry
          ? stateOf(entry, now, this.timing)
          : { presence: 'OFFLINE' as const, lastSeenAt: 0 };
        return [userId, { userId, presence, lastSeenAt: new Date(lastSeenAt) }];
      }),
    );
  }

  async close(): Promise<void> {}

  private async update(
    organizationId: string,
    userIds: string[],
    now: number,
    change: (entry: Entry, userId: string) => void,
  ): Promise<PresenceTransition[]> {
    let entries = this.organizations.get(organizationId);
    if (!entries) this.organizations.set(organizationId, (entries = new Map()));
    const transitions: PresenceTransition[] = [];
    for (const userId of userIds) {
      const entry = entries.get(userId) ?? { state: 'OFFLINE', claims: {} };
      change(entry, userId);
      for (const [instance, [expiresAt]] of Object.entries(entry.claims))
        if (expiresAt <= now) delete entry.claims[instance];
      const { presence, lastSeenAt } = stateOf(entry, now, this.timing);
      if (presence !== entry.state) transitions.push({ userId, presence, lastSeenAt: new Date(lastSeenAt) });
      entry.state = presence;
      if (Object.keys(entry.claims).length === 0) entries.delete(userId);
      else entries.set(userId, entry);
    }
    if (entries.size === 0) this.organizations.delete(organizationId);
    return transitions;
  }
}

// The same rules as MemoryPresenceStore, atomically in Redis: one hash per organization (one key, so one slot
// of a cluster), a field per user holding the state last announced and the claims of each instance.
// KEYS[1]: the hash. ARGV: op (connect | disconnect | heartbeat), now, ttl, awayAfter, instance, then
// (connect, disconnect) a user id, or (heartbeat) user id and last activity pairs. Returns transitions as
// user, presence, last seen triples.
const PRESENCE_SCRIPT = `
local key, op = KEYS[1], ARGV[1]
local now, ttl, away, instance = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
local touched, activity = {}, {}
if op == 'heartbeat' then
  for index = 6, #ARGV, 2 do activity[ARGV[index]] = tonumber(ARGV[index + 1]) end
  for _, user in ipairs(redis.call('HKEYS', key)) do touched[#touched + 1] = user end
  for user, _ in pairs(activity) do
    if redis.call('HEXISTS', key, user) == 0 then touched[#touched + 1] = user end
  end
else
  touched[1] = ARGV[6]
end
local out = {}
for _, user in ipairs(touched) do
  local raw = redis.call('HGET', key, user)
  local entry = raw and cjson.decode(raw) or { s = 'OFFLINE', c = {} }
  if op == 'connect' then entry.c[instance] = { now + ttl, now }
  elseif op == 'disconnect' then entry.c[instance] = nil
  elseif activity[user] then entry.c[instance] = { now + ttl, activity[user] } end
  -- A socket that just closed was there until now.
  local seen, live, active, remaining = (op == 'disconnect') and now or 0, false, false, 0
  for name, claim in pairs(entry.c) do
    seen = math.max(seen, claim[2], claim[1] - ttl)
    if claim[1] <= now then entry.c[name] = nil
    else
      live = true
      remaining = remaining + 1
      if claim[2] > now - away then active = true end
    end
  end
  local state = (not live) and 'OFFLINE' or (active and 'ONLINE' or 'AWAY')
  if state ~= entry.s then
    out[#out + 1] = user
    out[#out + 1] = state
    out[#out + 1] = tostring(seen)
  end
  entry.s = state
  if remaining == 0 then redis.call('HDEL', key, user)
  else redis.call('HSET', key, user, cjson.encode(entry)) end
end
return out
`;

interface WithPresenceCommand {
  chatPresence(key: string, ...args: (string | number)[]): Promise<string[]>;
}

/** Presence shared by every instance through Redis. */
export class RedisPresenceStore implements PresenceStore {
  readonly kind = 'redis';
  private readonly redis: RedisClient;

  constructor(
    private readonly options: { target: RedisTarget; prefix: string },
    private readonly timing: PresenceTiming,
  ) {
    this.redis = createRedisClient(options.target, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectionName: 'chat-presence',
    });
    this.redis.on('error', () => undefined);
    this.redis.defineCommand('chatPresence', { numberOfKeys: 1, lua: PRESENCE_SCRIPT });
  }

  async connect(timeoutMs = 3_000): Promise<void> {
    await connectWithin(this.redis, timeoutMs);
  }

  arrive(organizationId: string, instanceId: string, userId: string, now: number) {
    return this.run(organizationId, 'connect', now, instanceId, [userId]);
  }

  leave(organizationId: string, instanceId: string, userId: string, now: number) {
    return this.run(organizationId, 'disconnect', now, instanceId, [userId]);
  }

  heartbeat(organizationId: string, instanceId: string, users: { userId: string; activeAt: number }[], now: number) {
    return this.run(
      organizationId,
      'heartbeat',
      now,
      instanceId,
      users.flatMap((user) => [user.userId, user.activeAt]),
    );
  }

  async read(organizationId: string, userIds: readonly string[], now: number) {
    const raw = userIds.length > 0 ? await this.redis.hmget(this.keyOf(organizationId), ...userIds) : [];
    return new Map(
      userIds.map((userId, index): [string, PresenceTransition] => {
        const stored = raw[index];
        const entry: Entry | undefined = stored ? { state: 'OFFLINE', claims: JSON.parse(stored).c } : undefined;
        const { presence, lastSeenAt } = entry
          ? stateOf(entry, now, this.timing)
          : { presence: 'OFFLINE' as const, lastSeenAt: 0 };
        return [userId, { userId, presence, lastSeenAt: new Date(lastSeenAt) }];
      }),
    );
  }

  async close(): Promise<void> {
    await closeRedisClient(this.redis);
  }

  private keyOf(organizationId: string): string {
    // The braces make the organization the hash slot in a Redis Cluster.
    return `${this.options.prefix}presence:{${organizationId}}`;
  }

  private async run(
    organizationId: string,
    op: 'connect' | 'disconnect' | 'heartbeat',
    now: number,
    instanceId: string,
    args: (string | number)[],
  ): Promise<PresenceTransition[]> {
    const flat = await (this.redis as unknown as WithPresenceCommand).chatPresence(
      this.keyOf(organizationId),
      op,
      now,
      this.timing.ttlMs,
      this.timing.awayAfterMs,
      instanceId,
      ...args,
    );
    const transitions: PresenceTransition[] = [];
    for (let index = 0; index < flat.length; index += 3)
      transitions.push({
        userId: flat[index]!,
        presence: flat[index + 1] as Presence,
        lastSeenAt: new Date(Number(flat[index + 2])),
      });
    return transitions;
  }
}
