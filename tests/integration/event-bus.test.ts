import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { RedisEventBus } from '../../src/realtime/event-bus.js';

const REDIS_URL = process.env.REDIS_URL!;

describe('the Redis event bus', () => {
  const prefix = `${process.env.TEST_REDIS_PREFIX}bus-${randomBytes(4).toString('hex')}:`;
  const bus = new RedisEventBus({
    url: REDIS_URL,
    prefix,
    logger: createLogger({ level: 'silent' }),
    metrics: new Metrics(),
  });
  const watcher = new Redis(REDIS_URL);
  const onTheWire: string[] = [];

  beforeAll(async () => {
    await bus.connect();
    await watcher.subscribe(`${prefix}org`);
    watcher.on('message', (_channel: string, raw: string) => onTheWire.push(raw));
  });
  afterAll(async () => {
    await bus.close();
    watcher.disconnect();
  });

  it("publishes a turn's events of one topic as one PUBLISH, and hands them to listeners one by one, in order", async () => {
    const received: unknown[] = [];
    const stop = bus.subscribe('org', (event) => received.push(event));
    for (const giveUpAt = Date.now() + 5_000; !bus.isSubscribed('org') && Date.now() < giveUpAt;)
      await new Promise((resolve) => setTimeout(resolve, 10));

    // As the continuations of one batch of committed messages publish them.
    await Promise.all([1, 2, 3].map((n) => Promise.resolve().then(() => bus.publish('org', { n }))));
    await bus.publish('org', { n: 4 });
    // The watcher's connection is told on its own time: wait for both it and the bus's listener.
    for (const giveUpAt = Date.now() + 5_000; (received.length < 4 || onTheWire.length < 2) && Date.now() < giveUpAt;)
      await new Promise((resolve) => setTimeout(resolve, 10));
    stop();

    expect(received).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }, { n: 4 }]);
    expect(onTheWire.map((raw) => JSON.parse(raw) as Record<string, unknown>)).toEqual([
      { publishedAt: expect.any(Number), messages: [{ n: 1 }, { n: 2 }, { n: 3 }] },
      // Alone, an event travels in the form that instances from before batching read.
      { publishedAt: expect.any(Number), message: { n: 4 } },
    ]);
  });
});
