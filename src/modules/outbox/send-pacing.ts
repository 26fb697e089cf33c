import type { RateLimiter, SlotPolicy } from '../../limits/rate-limiter.js';
import { limiterOutageLog } from '../../limits/limiter-outage-log.js';
import type { Logger } from '../../logger.js';

/**
 * The longest a claimed send waits in this process for its phone number's turn. Longer, and the row goes back to
 * pending until about when its turn could come, so that a worker does not hold a batch (and its lease) while
 * a long queue of one number drains. At 80 sends per second it is 80 turns, more than all instances claim at once.
 */
export const MAX_TURN_WAIT_MS = 1_000;

/**
 * Slots 5% more than 1/N second apart (at 80 per second, 76 go): the time between taking a slot and Meta
 * receiving the send varies by milliseconds (a new connection, a busy event loop), and N + 1 sends exactly 1/N
 * apart would already fill one second.
 */
const SPACING_MARGIN = 1.05;

/** When a send from a phone number may go: after `waitMs` (its turn is taken), or not now (tried again later). */
export type SendTurn = { go: true; waitMs: number } | { go: false; retryInMs: number };

/**
 * Meta's throughput for one WhatsApp business phone number (80 messages per second by default), held by every
 * instance together through the app's rate limiter (Redis when configured, else this process's memory). Sends
 * are spaced rather than counted per second: each takes the next free slot, 1/N second after the one before, so
 * no second, wherever it is cut, holds more than N. (N per fixed second would let 2N through around the moment
 * one second ends and the next begins.) A send that would wait longer than MAX_TURN_WAIT_MS takes no slot, so a
 * refusal never pushes the sends after it further back.
 */
export class SendPacing {
  private readonly policy: SlotPolicy;
  private readonly logOutage;

  constructor(
    private readonly deps: { limiter: RateLimiter; logger: Logger },
    sendsPerSecond: number,
  ) {
    this.logOutage = limiterOutageLog(deps.logger, 'rate limiter unavailable: WhatsApp sends not paced');
    this.policy = {
      name: 'whatsapp-sends',
      intervalUs: (1_000_000 / sendsPerSecond) * SPACING_MARGIN,
      maxWaitMs: MAX_TURN_WAIT_MS,
    };
  }

  /**
   * The turn of a send from the phone number. While the limiter is unreachable sends go unpaced, like every other
   * limit here: Meta's own throughput refusal (130429) is then retried with backoff.
   */
  async turnOf(phoneNumberId: string): Promise<SendTurn> {
    try {
      const slot = await this.deps.limiter.takeSlot(this.policy, `phone:${phoneNumberId}`);
      // Due again when the queue ahead is short enough for it to take a slot.
      if (!slot.taken) return { go: false, retryInMs: Math.ceil(slot.waitMs - this.policy.maxWaitMs) + 1 };
      return { go: true, waitMs: slot.waitMs };
    } catch (error) {
      this.logOutage({ err: error });
      return { go: true, waitMs: 0 };
    }
  }
}
