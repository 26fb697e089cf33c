import { describe, expect, it } from '@jest/globals';
import { createLogger } from '../logger.js';
import { Metrics } from '../metrics/metrics.js';
import { MemoryEventBus } from './event-bus.js';
import { StreamHubs } from './stream-hubs.js';

interface Numbered {
  seq: string;
  text: string;
}

/** Hubs on the in-process bus, handing each event to at most `slice` listeners per turn of the event loop. */
function hubs(slice: number) {
  const logger = createLogger({ level: 'silent' });
  const bus = new MemoryEventBus({ logger, metrics: new Metrics() });
  let last = 0n;
  const streams = new StreamHubs<Numbered>({
    bus,
    logger,
    codec: { encode: (event) => event, decode: (wire) => wire as Numbered, seqOf: (event) => BigInt(event.seq) },
    topicOf: (key) => `test:${key}`,
    // Nothing is lost on the in-process bus: there is never anything to read back.
    sourceOf: () => ({ highWater: async () => last, read: async () => [] }),
    dispatchSlice: slice,
  });
  const publish = (text: string) => {
    last += 1n;
    return streams.publish('org', { seq: String(last), text });
  };
  return { streams, publish };
}

/**
 * Until `done` holds (or 5 s have passed; the assertions after it then say what is missing), and 50 ms more, for
 * anything that should not come to have had its chance. A fixed wait alone is too short on a busy machine.
 */
async function settled(done: () => boolean): Promise<void> {
  for (const giveUpAt = Date.now() + 5_000; !done() && Date.now() < giveUpAt;)
    await new Promise((resolve) => setTimeout(resolve, 5));
  await new Promise((resolve) => setTimeout(resolve, 50));
}

describe('a stream with more listeners than it hands an event to at once', () => {
  it('gives every listener every event once, in order, with later events waiting for the slices of earlier ones', async () => {
    const { streams, publish } = hubs(3);
    const received = Array.from({ length: 10 }, () => [] as string[]);
    await Promise.all(received.map((list) => streams.join('org', (event) => list.push(event.text))));
    await Promise.all(['one', 'two', 'three'].map((text) => publish(text)));
    await settled(() => received.every((list) => list.length >= 3));
    for (const list of received) expect(list).toEqual(['one', 'two', 'three']);
    streams.close();
  });

  it('hands nothing more to a listener that left while an event was being handed out', async () => {
    const { streams, publish } = hubs(2);
    const received = Array.from({ length: 6 }, () => [] as string[]);
    const leaving: { stop(): void }[] = [];
    // The first listener makes the last one leave on the first event, before the last slice has it.
    const subscriptions = await Promise.all(
      received.map((list, index) =>
        streams.join('org', (event) => {
          list.push(event.text);
          if (index === 0) leaving.forEach((subscription) => subscription.stop());
        }),
      ),
    );
    leaving.push(subscriptions[5]!);
    await publish('one');
    await publish('two');
    await settled(() => received[1]!.length >= 2);
    expect(received[1]).toEqual(['one', 'two']);
    expect(received[5]).toEqual([]);
    streams.close();
  });
});
