import { describe, expect, it } from '@jest/globals';
import { MemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { createLogger } from '../../src/logger.js';
import { MAX_TURN_WAIT_MS, type PacedSend, SendPacing } from '../../src/modules/outbox/send-pacing.js';

// The pacing of one server without Redis (this process's memory), through Redis, and while the limiter is
// unreachable. Across instances, with the outbox: tests/integration/outbox-pacing.test.ts.

const logger = createLogger({ level: 'silent' });

/** Rates where only WhatsApp's is under test. */
const whatsappAt = (sendsPerSecond: number) => ({ whatsapp: sendsPerSecond, instagram: 300, instagramAudioVideo: 10 });
const whatsappSend = (phone: string): PacedSend => ({ platform: 'WHATSAPP', accountId: phone, messageType: 'TEXT' });

describe('SendPacing', () => {
  it('gives each send of a phone number the next turn, a little over 1/N second apart, per phone number', async () => {
    const pacing = new SendPacing({ limiter: new MemoryRateLimiter(), logger }, whatsappAt(4));
    const turns = await Promise.all(['a', 'a', 'a', 'a', 'b'].map((phone) => pacing.turnOf(whatsappSend(phone))));
    const waits = turns.map((turn) => (turn.go ? turn.waitMs : NaN));
    expect(waits[0]).toBe(0);
    expect(waits[4]).toBe(0);
    for (const [index, wait] of waits.slice(0, 4).entries()) {
      expect(wait).toBeGreaterThanOrEqual(index * 262.5 - 1);
      expect(wait).toBeLessThanOrEqual(index * 262.5 + 1);
    }
  });

  it('takes no turn further than the longest wait: the send is tried again when one could come, and pushes nobody back', async () => {
    const limiter = new MemoryRateLimiter();
    const pacing = new SendPacing({ limiter, logger }, whatsappAt(2));
    // 525 ms apart: the turns at 0, 525 and 1050 ms; the last is further than MAX_TURN_WAIT_MS.
    const turns = [
      await pacing.turnOf(whatsappSend('a')),
      await pacing.turnOf(whatsappSend('a')),
      await pacing.turnOf(whatsappSend('a')),
    ];
    expect(turns.map((turn) => turn.go)).toEqual([true, true, false]);
    const refused = turns[2]!;
    if (refused.go) throw new Error('unreachable');
    expect(refused.retryInMs).toBeGreaterThan(0);
    expect(refused.retryInMs).toBeLessThanOrEqual(1_050 - MAX_TURN_WAIT_MS + 1);
    // Refused again and again, the next free turn stays where it was.
    for (let index = 0; index < 5; index++) expect((await pacing.turnOf(whatsappSend('a'))).go).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, refused.retryInMs));
    const next = await pacing.turnOf(whatsappSend('a'));
    expect(next.go).toBe(true);
    if (next.go) expect(next.waitMs).toBeLessThanOrEqual(MAX_TURN_WAIT_MS);
  });

  it("holds the turns in Redis, on Redis's clock, for every instance", async () => {
    const prefix = `pacing-${Date.now()}:`;
    const first = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:6379' }, prefix });
    const second = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:6379' }, prefix });
    try {
      await Promise.all([first.connect(), second.connect()]);
      const one = new SendPacing({ limiter: first, logger }, whatsappAt(10));
      const other = new SendPacing({ limiter: second, logger }, whatsappAt(10));
      const started = Date.now();
      const turns = [
        await one.turnOf(whatsappSend('a')),
        await other.turnOf(whatsappSend('a')),
        await one.turnOf(whatsappSend('a')),
      ];
      const elapsed = Date.now() - started;
      const waits = turns.map((turn) => (turn.go ? turn.waitMs : NaN));
      expect(waits[0]).toBe(0);
      // 105 ms apart, less the time the round trips took.
      expect(waits[1]).toBeGreaterThanOrEqual(105 - elapsed - 2);
      expect(waits[1]).toBeLessThanOrEqual(105);
      expect(waits[2]).toBeGreaterThanOrEqual(210 - elapsed - 2);
      expect(waits[2]).toBeLessThanOrEqual(210);
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  it('paces an Instagram account in two budgets: audio (Meta counts audio and video apart) and the rest', async () => {
    const pacing = new SendPacing(
      { limiter: new MemoryRateLimiter(), logger },
      { whatsapp: 80, instagram: 20, instagramAudioVideo: 2 },
    );
    const instagram = (accountId: string, messageType: PacedSend['messageType']): PacedSend => ({
      platform: 'INSTAGRAM',
      accountId,
      messageType,
    });
    // Each turn's wait, taken one after the other, against the wait expected (less the few ms the calls took).
    const expectWaits = async (sends: PacedSend[], expected: (number | 'refused')[]) => {
      const turns = [];
      for (const send of sends) turns.push(await pacing.turnOf(send));
      turns.forEach((turn, index) => {
        const wait = expected[index]!;
        if (wait === 'refused') return expect(turn.go).toBe(false);
        expect(turn.go && turn.waitMs).toBeGreaterThan(wait - 10);
        expect(turn.go && turn.waitMs).toBeLessThanOrEqual(wait);
      });
    };
    // Three audio messages: 525 ms apart, the third past the longest wait.
    await expectWaits([instagram('a', 'AUDIO'), instagram('a', 'AUDIO'), instagram('a', 'AUDIO')], [0, 525, 'refused']);
    expect(await pacing.turnOf(instagram('a', 'AUDIO'))).toMatchObject({
      go: false,
      setting: 'INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND',
    });
    // Text, images and files of the same account do not wait behind them (52.5 ms apart at 20 per
    // second), nor does another account's audio.
    await expectWaits([instagram('a', 'TEXT'), instagram('a', 'IMAGE'), instagram('a', 'FILE')], [0, 52.5, 105]);
    await expectWaits([instagram('b', 'AUDIO')], [0]);
  });

  it('lets sends go unpaced while the limiter is unreachable', async () => {
    // Never connected, and commands are not queued while offline: every count fails at once.
    const limiter = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:1' }, prefix: 'pacing-unreachable:' });
    try {
      const pacing = new SendPacing({ limiter, logger }, whatsappAt(1));
      expect(await Promise.all([pacing.turnOf(whatsappSend('a')), pacing.turnOf(whatsappSend('a'))])).toEqual([
        { go: true, waitMs: 0 },
        { go: true, waitMs: 0 },
      ]);
    } finally {
      await limiter.close();
    }
  });
});
