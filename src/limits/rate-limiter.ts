/** How much of something one subject (a user, an IP address, an integration) may do per window. */
export interface RateLimitPolicy {
  /** Part of the storage key: two policies never share a count. */
  name: string;
  /** Units allowed per window; 0 turns the policy off. */
  limit: number;
  windowMs: number;
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

export interface RateLimiter {
  readonly kind: 'memory' | 'redis';
  /** Counts `cost` against every check at once (one round trip for Redis); a verdict per check, in order. */
  consume(checks: RateLimitCheck[], cost?: number): Promise<RateLimitVerdict[]>;
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

  async close(): Promise<void> {
    this.windows.clear();
  }

  // Ended windows of subjects that never came back would otherwise stay forever.
  private sweep(now: number): void {
    for (const [key, window] of this.windows) if (window.endsAt <= now) this.windows.delete(key);
  }
}
