import { describe, expect, it, jest } from '@jest/globals';
import { BoundedQueue } from './bounded-queue.js';
import type { Receiver } from './pull-stream.js';

/** A queue of `capacity` numbers; `released` is told when it closes, and it overflows with `overflow`. */
const queueOf = (capacity: number, released: () => void = () => undefined, overflow = 'overflow') =>
  new BoundedQueue<number>(capacity, released, () => new Error(overflow));

describe('BoundedQueue', () => {
  it('yields items in order, whether they were waiting or are awaited', async () => {
    const queue = queueOf(10);
    queue.push(1);
    queue.push(2);
    expect(await queue.next()).toEqual({ value: 1, done: false });
    expect(await queue.next()).toEqual({ value: 2, done: false });
    const awaited = queue.next();
    queue.push(3);
    expect(await awaited).toEqual({ value: 3, done: false });
  });

  it('fails the consumer and releases its source once a stalled consumer exceeds the capacity', async () => {
    const released = jest.fn();
    const queue = queueOf(2, released, 'too slow');
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(released).toHaveBeenCalledTimes(1);
    expect(queue.size).toBe(0);
    await expect(queue.next()).rejects.toThrow('too slow');
  });

  it('fails a consumer that is already waiting', async () => {
    const queue = queueOf(1);
    const waiting = queue.next();
    queue.fail(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
  });

  it('ends and releases its source when the consumer returns', async () => {
    const released = jest.fn();
    const queue = queueOf(5, released, 'x');
    const waiting = queue.next();
    await queue.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(released).toHaveBeenCalledTimes(1);
    queue.push(1);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });

  describe('pulled', () => {
    /** A receiver that records what it is told, and pulls again after each item while `pullAgain` says so. */
    function recorder(queue: BoundedQueue<number>, pullAgain = true) {
      const told: unknown[] = [];
      const receiver: Receiver<number> = {
        receive: (item) => {
          told.push(item);
          if (pullAgain) queue.pull(receiver);
        },
        end: () => told.push('end'),
        fail: (error) => told.push(error),
      };
      return { receiver, told };
    }

    it('hands a waiting item over at once, and a later one as it is pushed, in order', () => {
      const queue = queueOf(10);
      queue.push(1);
      queue.push(2);
      const { receiver, told } = recorder(queue);
      queue.pull(receiver);
      expect(told).toEqual([1, 2]);
      queue.push(3);
      expect(told).toEqual([1, 2, 3]);
    });

    it('keeps items for a receiver that has not pulled again, and counts them against the capacity', () => {
      const queue = queueOf(1, jest.fn(), 'too slow');
      const { receiver, told } = recorder(queue, false);
      queue.pull(receiver);
      queue.push(1);
      queue.push(2);
      expect(told).toEqual([1]);
      queue.push(3);
      expect(queue.isOpen).toBe(false);
      queue.pull(receiver);
      expect(told).toEqual([1, new Error('too slow')]);
    });

    it('tells a waiting receiver that the queue failed or ended', async () => {
      const failing = queueOf(1);
      const first = recorder(failing);
      failing.pull(first.receiver);
      failing.fail(new Error('stopped'));
      expect(first.told).toEqual([new Error('stopped')]);

      const ending = queueOf(1);
      const second = recorder(ending);
      ending.pull(second.receiver);
      await ending.return();
      expect(second.told).toEqual(['end']);
    });
  });
});
