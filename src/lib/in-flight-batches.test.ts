import { describe, expect, it } from '@jest/globals';
import { InFlightBatches } from './in-flight-batches.js';

/** A run whose batches are recorded and finish only when the test says so. */
function controlledRun() {
  const batches: number[][] = [];
  const finishers: (() => void)[] = [];
  const run = (inputs: number[]) => {
    batches.push(inputs);
    return new Promise<number[]>((resolve) => finishers.push(() => resolve(inputs.map((input) => input * 10))));
  };
  return { batches, run, finishNext: () => finishers.shift()!() };
}

describe('InFlightBatches', () => {
  it('runs an idle call at once and alone, then what arrived meanwhile as one batch, answering each in order', async () => {
    const { batches, run, finishNext } = controlledRun();
    const batcher = new InFlightBatches(run, 100);
    const first = batcher.add(1);
    const rest = [batcher.add(2), batcher.add(3), batcher.add(4)];
    expect(batches).toEqual([[1]]);
    finishNext();
    expect(await first).toBe(10);
    expect(batches).toEqual([[1], [2, 3, 4]]);
    finishNext();
    expect(await Promise.all(rest)).toEqual([20, 30, 40]);
  });

  it('keeps batches within the limit', async () => {
    const { batches, run, finishNext } = controlledRun();
    const batcher = new InFlightBatches(run, 2);
    const calls = [1, 2, 3, 4].map((input) => batcher.add(input));
    finishNext();
    await calls[0];
    finishNext();
    await calls[2];
    finishNext();
    expect(await Promise.all(calls)).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3], [4]]);
  });

  it('fails every call of a batch whose run throws, and goes on with the next batch', async () => {
    const batcher = new InFlightBatches(async (inputs: number[]) => {
      await Promise.resolve();
      if (inputs.includes(2)) throw new Error('the database went away');
      return inputs;
    }, 10);
    const calls = [1, 2, 3].map((input) => batcher.add(input).catch((error: Error) => error.message));
    expect(await Promise.all(calls)).toEqual([1, 'the database went away', 'the database went away']);
    expect(await batcher.add(4)).toBe(4);
  });
});
