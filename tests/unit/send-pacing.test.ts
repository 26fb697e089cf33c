import { describe, expect, it } from '@jest/globals';
import { MemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { createLogger } from '../../src/logger.js';
import { MAX_TURN_WAIT_MS, SendPacing } from '../../src/modules/outbox/send-pacing.js';

// The pacing of one server without Redis (this process's memory), through Redis, and while the limiter is
// unreachable. Across instances, with the outbox: tests/integration/outbox-pacing.test.ts.

const logger = createLogger({ level: 'silent' });

describe('SendPacing', () => {
  it('gives each send of a phone number the next turn, a little over 1/N second apart, per phone number', async () => {
    const pacing = new SendPacing({ limiter: new MemoryRateLimiter(), logger }, 4);
    const turns = await Promise.all(['a', 'a', 'a', 'a', 'b'].map((phone) => pacing.turnOf(phone)));
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
    const pacing = new SendPacing({ limiter, logger }, 2);
    // 525 ms apart: the turns at 0, 525 and 1050 ms; the last is further than MAX_TURN_WAIT_MS.
    const turns = [await pacing.turnOf('a'), await pacing.turnOf('a'), await pacing.turnOf('a')];
    expect(turns.map((turn) => turn.go)).toEqual([true, true, false]);
    const refused = turns[2]!;
    if (refused.go) throw new Error('unreachable');
    expect(refused.retryInMs).toBeGreaterThan(0);
    expect(refused.retryInMs).toBeLessThanOrEqual(1_050 - MAX_TURN_WAIT_MS + 1);
    // Refused again and again, the next free turn stays where it was.
    for (let index = 0; index < 5; index++) expect((await pacing.turnOf('a')).go).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, refused.retryInMs));
    const next = await pacing.turnOf('a');
    expect(next.go).toBe(true);
    if (next.go) expect(next.waitMs).toBeLessThanOrEqual(MAX_TURN_WAIT_MS);
  });

  it("holds the turns in Redis, on Redis's clock, for every instance", async () => {
    const prefix = `pacing-${Date.now()}:`;
    const first = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:6379' }, prefix });
    const second = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:6379' }, prefix });
    try {
      await Promise.all([first.connect(), second.connect()]);
      const one = new SendPacing({ limiter: first, logger }, 10);
      const other = new SendPacing({ limiter: second, logger }, 10);
      const started = Date.now();
      const turns = [await one.turnOf('a'), await other.turnOf('a'), await one.turnOf('a')];
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

  it('lets sends go unpaced while the limiter is unreachable', async () => {
    // Never connected, and commands are not queued while offline: every count fails at once.
    const limiter = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:1' }, prefix: 'pacing-unreachable:' });
    try {
      const pacing = new SendPacing({ limiter, logger }, 1);
      expect(await Promise.all([pacing.turnOf('a'), pacing.turnOf('a')])).toEqual([
        { go: true, waitMs: 0 },
        { go: true, waitMs: 0 },
      ]);
    } finally {
      await limiter.close();
    }
  });
});
