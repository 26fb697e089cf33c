import { describe, expect, it } from '@jest/globals';
import { MemoryRateLimiter } from '../../src/limits/rate-limiter.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { createLogger } from '../../src/logger.js';
import { SendPacing } from '../../src/modules/outbox/send-pacing.js';

// The pacing of one server without Redis (this process's counters), and while the limiter is unreachable. Across
// instances through Redis: tests/integration/outbox-pacing.test.ts.

const logger = createLogger({ level: 'silent' });

describe('SendPacing', () => {
  it('lets one send per 1/N second go, queues the others a slot apart in the order they asked, per phone number', async () => {
    const pacing = new SendPacing({ limiter: new MemoryRateLimiter(), logger }, 4);
    const delays = await Promise.all(['a', 'a', 'a', 'a', 'b'].map((phone) => pacing.delayFor(phone)));
    expect(delays[0]).toBe(0);
    expect(delays[4]).toBe(0);
    // A quarter of a second apart, the first waiting for what is left of the current slot.
    const [, second, third, fourth] = delays as [number, number, number, number];
    expect(second).toBeGreaterThan(200);
    expect(second).toBeLessThanOrEqual(250);
    expect(third - second).toBe(250);
    expect(fourth - third).toBe(250);
    await new Promise((resolve) => setTimeout(resolve, second));
    expect(await pacing.delayFor('a')).toBe(0);
  });

  it('lets sends go unpaced while the limiter is unreachable', async () => {
    // Never connected, and commands are not queued while offline: every count fails at once.
    const limiter = new RedisRateLimiter({ target: { url: 'redis://127.0.0.1:1' }, prefix: 'pacing-unreachable:' });
    try {
      const pacing = new SendPacing({ limiter, logger }, 1);
      expect(await Promise.all([pacing.delayFor('a'), pacing.delayFor('a')])).toEqual([0, 0]);
    } finally {
      await limiter.close();
    }
  });
});
