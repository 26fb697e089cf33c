import type { RateLimiter, RateLimitPolicy } from '../../limits/rate-limiter.js';
import type { Logger } from '../../logger.js';

const FAILURE_LOG_INTERVAL_MS = 5_000;

/**
 * Meta's throughput for one WhatsApp business phone number (80 messages per second by default), held by every
 * instance together through the app's rate limiter (Redis when configured, else this process's counters).
 * Sends are spaced rather than counted per second: each send opens a window of 1/N s in which no other send
 * from the number goes, so no second, wherever it is cut, holds more than N sends. (N per fixed second would
 * let 2N through around the moment one window ends and the next begins.)
 */
export class SendPacing {
  private readonly policy: RateLimitPolicy;
  private lastFailureLogAt = 0;

  constructor(
    private readonly deps: { limiter: RateLimiter; logger: Logger },
    sendsPerSecond: number,
  ) {
    this.policy = { name: 'whatsapp-sends', limit: 1, windowMs: Math.ceil(1_000 / sendsPerSecond) };
  }

  /**
   * 0 when a send from the phone number may go now (it is counted), else how many milliseconds until its turn:
   * the sends refused in one window queue up a window apart, in the order they asked, so that a backlog comes
   * back one send per window (in order) rather than all at once to be refused again. While the limiter is
   * unreachable sends go unpaced, like every other limit here: Meta's own throughput refusal (130429) is then
   * retried with backoff.
   */
  async delayFor(phoneNumberId: string): Promise<number> {
    try {
      const [verdict] = await this.deps.limiter.consume([{ policy: this.policy, subject: `phone:${phoneNumberId}` }]);
      if (!verdict || verdict.allowed) return 0;
      const waitingAhead = verdict.used - this.policy.limit - 1;
      return Math.max(verdict.resetInMs, 1) + waitingAhead * this.policy.windowMs;
    } catch (error) {
      const now = Date.now();
      if (now - this.lastFailureLogAt >= FAILURE_LOG_INTERVAL_MS) {
        this.lastFailureLogAt = now;
        this.deps.logger.error({ err: error }, 'rate limiter unavailable: WhatsApp sends not paced');
      }
      return 0;
    }
  }
}
