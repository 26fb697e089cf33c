import { type RateLimitPolicy, type RateLimitVerdict, verdictFor } from './rate-limiter.js';

/**
 * Units of a key's window that this instance took from the count in Redis ahead of need. They are counted in
 * Redis already, so spending them needs no round trip, and no instance can be allowed them again.
 */
interface Lease {
  /** The key's count in Redis as this instance last heard it, its spare units included. */
  counted: number;
  /** Units counted in Redis that this instance has not allowed yet. */
  spare: number;
  /**
   * When the window ends, on the monotonic clock: the time the script was sent plus the key's remaining ttl, so
   * never after Redis expires the key (a unit spent after that would be counted in no window).
   */
  endsAt: number;
  /** The lease request in flight: checks of the key wait for it rather than race it to Redis. */
  request?: Promise<unknown>;
}

/**
 * What to do with one check: its verdict, decided here from the key's lease; a lease request of the key to wait
 * for before planning again; or what to ask Redis: `cost` units to count, and up to `spare` more to lease.
 */
export type LeasePlan = { verdict: RateLimitVerdict } | { waitFor: Promise<unknown> } | { cost: number; spare: number };

const SWEEP_EVERY = 1_024;

/**
 * The leases this instance holds, by Redis key, for policies with `leaseUnits`. A check is served from its key's
 * lease when the spare units cover its cost, else it goes to Redis, which counts it and grants a new lease only
 * while the lease still fits under the limit. With one instance the verdicts are exactly those of counting every
 * unit in Redis: the spare units are spent before asking again, and a key's checks wait while its lease request
 * is in flight, so they are decided in the order made. With several instances a subject can be refused early by
 * the spare units the others still hold, and never allowed more than the limit.
 *
 * At most `maxKeys` keys hold a lease (or a request for one): beyond that, checks of new keys are counted in
 * Redis one by one, so that subjects without number (an attacker cycling addresses) cannot grow the map.
 */
export class RateLimitLeases {
  private readonly leases = new Map<string, Lease>();
  private planned = 0;

  constructor(private readonly maxKeys: number) {}

  /** `now` and every `endsAt` are on the monotonic clock (performance.now()). */
  plan(key: string, policy: RateLimitPolicy, cost: number, now: number): LeasePlan {
    const leaseUnits = Math.floor(policy.leaseUnits ?? 0);
    if (leaseUnits <= 1) return { cost, spare: 0 };
    if (++this.planned % SWEEP_EVERY === 0) this.sweep(now);
    const lease = this.leases.get(key);
    if (lease?.request) return { waitFor: lease.request };
    const live = lease !== undefined && lease.endsAt > now;
    if (live && lease.spare > 0 && lease.spare >= cost) {
      lease.spare -= cost;
      return { verdict: verdictFor(policy, lease.counted - lease.spare, lease.endsAt - now) };
    }
    // Spare units that do not cover the cost go towards it: they are counted in Redis, and dropping them would
    // refuse this instance's subject before its limit.
    const uncovered = live ? cost - lease.spare : cost;
    if (live) lease.spare = 0;
    // No lease for a peek (nothing counted) or when the count as last heard leaves no room for one.
    const spare = uncovered > 0 && (!live || lease.counted + uncovered < policy.limit) ? leaseUnits - uncovered : 0;
    const room = lease !== undefined || this.leases.size < this.maxKeys;
    return { cost: uncovered, spare: room ? Math.max(spare, 0) : 0 };
  }

  /** Until `request` settles, checks of the key wait for it (they are planned again once its reply is recorded). */
  requesting(key: string, request: Promise<unknown>): void {
    const lease = this.leases.get(key) ?? { counted: 0, spare: 0, endsAt: 0 };
    this.leases.set(key, lease);
    lease.request = request;
    const settled = () => {
      lease.request = undefined;
    };
    request.then(settled, settled);
  }

  /**
   * Redis's answer for the key: its count and the spare units granted, in a window ending at `endsAt`. Replies
   * of a key come in the order sent, and none finds spare units left: a check goes to Redis only once they are
   * spent, and none goes while a lease request is in flight. Keys without a lease are not remembered.
   */
  record(key: string, count: number, granted: number, endsAt: number): void {
    const lease = this.leases.get(key);
    if (!lease) return;
    lease.counted = count;
    lease.spare = granted;
    lease.endsAt = endsAt;
  }

  clear(): void {
    this.leases.clear();
  }

  // Leases of windows that ended, of subjects that never came back, would otherwise stay forever.
  private sweep(now: number): void {
    for (const [key, lease] of this.leases) if (!lease.request && lease.endsAt <= now) this.leases.delete(key);
  }
}
