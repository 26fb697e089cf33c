import { describe, expect, it, jest } from '@jest/globals';
import { BoundedQueue } from './bounded-queue.js';

describe('BoundedQueue', () => {
  it('yields items in order, whether they were waiting or are awaited', async () => {
    const queue = new BoundedQueue<number>(
      10,
      () => undefined,
      () => new Error('overflow'),
    );
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
    const queue = new BoundedQueue<number>(2, released, () => new Error('too slow'));
    queue.push(1);
    queue.push(2);
    queue.push(3);
    expect(released).toHaveBeenCalledTimes(1);
    expect(queue.size).toBe(0);
    await expect(queue.next()).rejects.toThrow('too slow');
  });

  it('fails a consumer that is already waiting', async () => {
    const queue = new BoundedQueue<number>(
      1,
      () => undefined,
      () => new Error('x'),
    );
    const waiting = queue.next();
    queue.fail(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
  });

  it('ends and releases its source when the consumer returns', async () => {
    const released = jest.fn();
    const queue = new BoundedQueue<number>(5, released, () => new Error('x'));
    const waiting = queue.next();
    await queue.return();
    expect(await waiting).toEqual({ value: undefined, done: true });
    expect(released).toHaveBeenCalledTimes(1);
    queue.push(1);
    expect(await queue.next()).toEqual({ value: undefined, done: true });
  });
});
