import { describe, expect, it } from '@jest/globals';
import { type Sequenced, SequencedDelivery, type SequenceSource } from './sequenced-delivery.js';

/** What was committed, as the database would answer: numbers missing from `log` were superseded. */
class Committed implements SequenceSource<string> {
  readonly log = new Map<bigint, string>();
  last = 0n;
  reads = 0;
  failNext = 0;

  commit(event: string | null): Sequenced<string> {
    this.last += 1n;
    if (event !== null) this.log.set(this.last, event);
    return { seq: this.last, event: event ?? '' };
  }

  async highWater(): Promise<bigint> {
    return this.last;
  }

  async read(after: bigint, upTo: bigint, limit: number): Promise<Sequenced<string>[]> {
    this.reads += 1;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error('database unavailable');
    }
    return [...this.log]
      .filter(([seq]) => seq > after && seq <= upTo)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .slice(0, limit)
      .map(([seq, event]) => ({ seq, event }));
  }
}

async function delivery(source: Committed, options: { gapWaitMs?: number; fillPageSize?: number } = {}) {
  const received: string[] = [];
  const errors: unknown[] = [];
  const sequenced = new SequencedDelivery({
    source,
    deliver: (item) => received.push(item.event),
    onReadError: (error) => errors.push(error),
    gapWaitMs: options.gapWaitMs ?? 10,
    fillPageSize: options.fillPageSize,
  });
  await sequenced.start();
  return { sequenced, received, errors };
}

const settle = (ms = 40) => new Promise((resolve) => setTimeout(resolve, ms));

describe('SequencedDelivery', () => {
  it('starts after what was committed before it started', async () => {
    const source = new Committed();
    source.commit('old');
    const { sequenced, received } = await delivery(source);
    sequenced.receive(source.commit('new'));
    expect(received).toEqual(['new']);
    expect(sequenced.position).toBe(2n);
  });

  it('holds early events until the ones before them arrive, and drops duplicates', async () => {
    const source = new Committed();
    const { sequenced, received } = await delivery(source, { gapWaitMs: 1_000 });
    const [a, b, c] = [source.commit('a'), source.commit('b'), source.commit('c')];
    sequenced.receive(c);
    sequenced.receive(b);
    expect(received).toEqual([]);
    sequenced.receive(a);
    sequenced.receive(b);
    expect(received).toEqual(['a', 'b', 'c']);
    expect(source.reads).toBe(0);
    sequenced.close();
  });

  it('reads a gap that does not close by itself from the source, once', async () => {
    const source = new Committed();
    const { sequenced, received } = await delivery(source);
    source.commit('lost');
    const late = source.commit('late');
    sequenced.receive(late);
    await settle();
    expect(received).toEqual(['lost', 'late']);
    expect(source.reads).toBe(1);
    sequenced.receive({ seq: 1n, event: 'lost' });
    expect(received).toEqual(['lost', 'late']);
  });

  it('skips numbers whose events were superseded', async () => {
    const source = new Committed();
    const { sequenced, received } = await delivery(source);
    source.commit(null);
    source.commit('kept');
    sequenced.receive(source.commit('last'));
    await settle();
    expect(received).toEqual(['kept', 'last']);
  });

  it('finds events lost after the last one seen when the tail is checked', async () => {
    const source = new Committed();
    const { sequenced, received } = await delivery(source);
    sequenced.receive(source.commit('seen'));
    source.commit('lost 1');
    source.commit('lost 2');
    await sequenced.checkTail();
    expect(received).toEqual(['seen', 'lost 1', 'lost 2']);
  });

  it('reads long gaps a page at a time, in order', async () => {
    const source = new Committed();
    const { sequenced, received } = await delivery(source, { fillPageSize: 3 });
    for (let index = 0; index < 10; index++) source.commit(`e${index}`);
    await sequenced.checkTail();
    expect(received).toEqual(Array.from({ length: 10 }, (_, index) => `e${index}`));
    expect(source.reads).toBe(4);
  });

  it('tries a failed read again, and loses nothing meanwhile', async () => {
    const source = new Committed();
    const { sequenced, received, errors } = await delivery(source);
    source.commit('missing');
    source.failNext = 1;
    sequenced.receive(source.commit('early'));
    await settle(80);
    expect(errors).toHaveLength(1);
    expect(received).toEqual(['missing', 'early']);
    sequenced.close();
  });
});
