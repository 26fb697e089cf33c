/** How much of something one subject (a user, an IP address, an integration) may do per window. */
export interface RateLimitPolicy {
  /** Part of the storage key: two policies never share a count. */
  name: string;
  /** Units allowed per window; 0 turns the policy off. */
  limit: number;
  windowMs: number;
  /**
   * Units an instance may take from the shared count at once, and then allow without asking the shared store
   * again (see RateLimitLeases). Absent or at most 1: every check is counted in the store, exact as it happens.
   * Leased units are counted already, so all instances together never allow more than `limit`; but a subject may
   * be refused early by as many units as other instances still hold unspent (fewer than `leaseUnits` each). Only
   * the Redis limiter leases: in memory every count is local anyway.
   */
  leaseUnits?: number;
}

export interface RateLimitVerdict {
  allowed: boolean;
  /** Units left in the current window. */
  remaining: number;
  /** When the current window ends. */
  resetInMs: number;
  /** Whole seconds to wait before trying again (at least 1 when refused, 0 when allowed): Retry-After. */
  retryAfterSeconds: number;
}

/**
 * Fixed-window counters: the first unit counted for a subject opens a window of `windowMs`, every unit in it
 * counts, and the count starts over when it ends. Refused attempts count too, which changes nothing for a fixed
 * window (it still ends on time) and keeps the operation a single atomic increment.
 */
export interface RateLimitCheck {
  policy: RateLimitPolicy;
  /** Who is counted, e.g. `user:<id>` or `ip:<address>`. */
  subject: string;
}

/**
 * Spacing rather than counting: one unit per `intervalUs` for a subject, each given the next free slot (its turn)
 * in the order asked. A slot further away than `maxWaitMs` is not given out, so that only those who will wait for
 * their turn hold one: nothing refused takes a slot from those after it.
 */
export interface SlotPolicy {
  /** Part of the storage key, like RateLimitPolicy's. */
  name: string;
  /** Microseconds between two slots. */
  intervalUs: number;
  maxWaitMs: number;
}

/** `taken`: the slot is the caller's, `waitMs` from now; else the next free slot is `waitMs` away (not taken). */
export interface SlotVerdict {
  taken: boolean;
  waitMs: number;
}

export interface RateLimiter {
  readonly kind: 'memory' | 'redis';
  /** Counts `cost` against every check at once (one round trip for Redis); a verdict per check, in order. */
  consume(checks: RateLimitCheck[], cost?: number): Promise<RateLimitVerdict[]>;
  /** Takes the subject's next free slot of the policy if it comes within the policy's longest wait. */
  takeSlot(policy: SlotPolicy, subject: string): Promise<SlotVerdict>;
  close(): Promise<void>;
}

export function verdictFor(policy: RateLimitPolicy, count: number, resetInMs: number): RateLimitVerdict {
  const allowed = count <= policy.limit;
  return {
    allowed,
    remaining: Math.max(policy.limit - count, 0),
    resetInMs,
    retryAfterSeconds: allowed ? 0 : Math.max(Math.ceil(resetInMs / 1_000), 1),
  };
}

const SWEEP_EVERY = 1_024;

/** Counters in this process: right for a single instance (no REDIS_URL), where nothing else shares the limits. */
export class MemoryRateLimiter implements RateLimiter {
  readonly kind = 'memory';
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  /** The next free slot of each subject (microseconds of the performance clock). */
  private readonly nextSlots = new Map<string, number>();
  private consumed = 0;

  async consume(checks: RateLimitCheck[], cost = 1): Promise<RateLimitVerdict[]> {
    const now = Date.now();
    return checks.map(({ policy, subject }) => {
      const key = `${policy.name}:${subject}`;
      let window = this.windows.get(key);
      if (!window || window.endsAt <= now) {
        window = { count: 0, endsAt: now + policy.windowMs };
        this.windows.set(key, window);
      }
      window.count += cost;
      if (++this.consumed % SWEEP_EVERY === 0) this.sweep(now);
      return verdictFor(policy, window.count, window.endsAt - now);
    });
  }

  async takeSlot(policy: SlotPolicy, subject: string): Promise<SlotVerdict> {
    const key = `${policy.name}:${subject}`;
    const nowUs = performance.now() * 1_000;
    const nextFreeUs = Math.max(this.nextSlots.get(key) ?? 0, nowUs);
    const waitMs = (nextFreeUs - nowUs) / 1_000;
    if (waitMs > policy.maxWaitMs) return { taken: false, waitMs };
    this.nextSlots.set(key, nextFreeUs + policy.intervalUs);
    return { taken: true, waitMs };
  }

  async close(): Promise<void> {
    this.windows.clear();
    this.nextSlots.clear();
  }

  // Ended windows of subjects that never came back would otherwise stay forever.
  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
    const nowUs = performance.now() * 1_000;
    for (const [key, nextFreeUs] of this.nextSlots) if (nextFreeUs <= nowUs) this.nextSlots.delete(key);
  }
}
