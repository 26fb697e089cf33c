import { describe, expect, it } from '@jest/globals';
import { open, PublishBatches, seal } from './bus-messages.js';

/** Batches whose bus messages are recorded, opened, and sent when `release` is called. */
function recordingBatches() {
  const sent: { topic: string; events: unknown[]; count: number }[] = [];
  const pending: (() => void)[] = [];
  const batches = new PublishBatches((topic, raw, count) => {
    sent.push({ topic, events: open(raw).events, count });
    return new Promise((resolve) => pending.push(resolve));
  });
  return { batches, sent, release: () => pending.splice(0).forEach((resolve) => resolve()) };
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('bus messages', () => {
  it('send the events of one turn as one message per run of a topic, in the order they were published', async () => {
    const { batches, sent } = recordingBatches();
    // Published from promise jobs of one turn, as the continuations of one database answer publish.
    await Promise.all(
      [
        ['org-a', 1],
        ['org-a', 2],
        ['org-b', 3],
        ['org-a', 4],
        ['org-a', 5],
      ].map(([topic, event]) => Promise.resolve().then(() => void batches.publish(String(topic), event))),
    );
    expect(sent).toEqual([]);
    await nextTurn();
    expect(sent).toEqual([
      { topic: 'org-a', events: [1, 2], count: 2 },
      { topic: 'org-b', events: [3], count: 1 },
      { topic: 'org-a', events: [4, 5], count: 2 },
    ]);

    // A later turn starts new messages.
    void batches.publish('org-a', 6);
    await nextTurn();
    expect(sent.at(-1)).toEqual({ topic: 'org-a', events: [6], count: 1 });
  });

  it('carry each event as it was when published', async () => {
    const { batches, sent } = recordingBatches();
    const event = { text: 'as published' };
    void batches.publish('org-a', event);
    event.text = 'changed afterwards';
    await nextTurn();
    expect(sent).toEqual([{ topic: 'org-a', events: [{ text: 'as published' }], count: 1 }]);
  });

  it('resolve each publish once the bus has the message that carries it', async () => {
    const { batches, release } = recordingBatches();
    const passed: string[] = [];
    void batches.publish('org-a', 1).then(() => passed.push('first'));
    void batches.publish('org-a', 2).then(() => passed.push('second'));
    await nextTurn();
    expect(passed).toEqual([]);
    release();
    await nextTurn();
    expect(passed).toEqual(['first', 'second']);
  });

  it('carry one event in the form instances from before batching read, and read both forms', () => {
    const single = JSON.parse(seal(['{"kind":"typing"}'])) as Record<string, unknown>;
    expect(Object.keys(single).sort()).toEqual(['message', 'publishedAt']);
    expect(single.message).toEqual({ kind: 'typing' });
    expect(open(seal(['{"n":1}', '{"n":2}'])).events).toEqual([{ n: 1 }, { n: 2 }]);
    expect(open(JSON.stringify({ publishedAt: 1, message: 'old' }))).toEqual({ publishedAt: 1, events: ['old'] });
  });
});
