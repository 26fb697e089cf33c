import type { MessageType, Platform } from '../../generated/prisma/enums.js';
import type { RateLimiter, SlotPolicy } from '../../limits/rate-limiter.js';
import { limiterOutageLog } from '../../limits/limiter-outage-log.js';
import type { AppConfig } from '../../config.js';
import type { Logger } from '../../logger.js';

/**
 * The longest a claimed send waits in this process for its turn (its phone number's or Instagram account's).
 * Longer, and the row goes back to pending until about when its turn could come, so that a worker does not hold a
 * batch (and its lease) while a long queue of one account drains. At 80 sends per second it is 80 turns, more than
 * all instances claim at once.
 */
export const MAX_TURN_WAIT_MS = 1_000;

/**
 * Slots 5% more than 1/N second apart (at 80 per second, 76 go): the time between taking a slot and Meta
 * receiving the send varies by milliseconds (a new connection, a busy event loop), and N + 1 sends exactly 1/N
 * apart would already fill one second.
 */
const SPACING_MARGIN = 1.05;

/** When a send may go: after `waitMs` (its turn is taken), or not now (tried again later; `setting` names the rate). */
export type SendTurn = { go: true; waitMs: number } | { go: false; retryInMs: number; setting: string };

/** The send to pace: whose throughput it spends (the phone number or Instagram account) and what it carries. */
export interface PacedSend {
  platform: Platform;
  accountId: string;
  messageType: MessageType;
}

/** One of Meta's throughputs: its turns, and the setting that sets it. */
interface Lane {
  policy: SlotPolicy;
  setting: string;
}

const laneOf = (name: string, setting: string, sendsPerSecond: number): Lane => ({
  policy: { name, intervalUs: (1_000_000 / sendsPerSecond) * SPACING_MARGIN, maxWaitMs: MAX_TURN_WAIT_MS },
  setting,
});

/**
 * Meta's throughputs, held by every instance together through the app's rate limiter (Redis when configured, else
 * this process's memory): per WhatsApp phone number (80 messages per second by default), and per Instagram account
 * (300 per second, and 10 per second for audio and video, a budget of their own). Sends are spaced rather than
 * counted per second: each takes the next free slot of its lane, 1/N second after the one before, so no second,
 * wherever it is cut, holds more than N. (N per fixed second would let 2N through around the moment one second
 * ends and the next begins.) A send that would wait longer than MAX_TURN_WAIT_MS takes no slot, so a refusal never
 * pushes the sends after it further back.
 */
export class SendPacing {
  private readonly lanes;
  private readonly logOutage;

  constructor(
    private readonly deps: { limiter: RateLimiter; logger: Logger },
    rates: AppConfig['outbox']['sendRates'],
  ) {
    this.logOutage = limiterOutageLog(deps.logger, 'rate limiter unavailable: sends to Meta not paced');
    this.lanes = {
      whatsapp: laneOf('whatsapp-sends', 'WHATSAPP_SENDS_PER_SECOND', rates.whatsapp),
      instagram: laneOf('instagram-sends', 'INSTAGRAM_SENDS_PER_SECOND', rates.instagram),
      instagramAudioVideo: laneOf(
        'instagram-audio-video-sends',
        'INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND',
        rates.instagramAudioVideo,
      ),
    };
  }

  /**
   * The turn of a send in its lane. While the limiter is unreachable sends go unpaced, like every other limit here:
   * Meta's own throughput refusals (130429, 80007) are then retried with backoff.
   */
  async turnOf(send: PacedSend): Promise<SendTurn> {
    const lane =
      send.platform === 'WHATSAPP'
        ? this.lanes.whatsapp
        : send.messageType === 'AUDIO'
          ? this.lanes.instagramAudioVideo
          : this.lanes.instagram;
    try {
      const slot = await this.deps.limiter.takeSlot(lane.policy, `account:${send.accountId}`);
      // Due again when the queue ahead is short enough for it to take a slot.
      if (!slot.taken)
        return { go: false, retryInMs: Math.ceil(slot.waitMs - lane.policy.maxWaitMs) + 1, setting: lane.setting };
      return { go: true, waitMs: slot.waitMs };
    } catch (error) {
      this.logOutage({ err: error });
      return { go: true, waitMs: 0 };
    }
  }
}
