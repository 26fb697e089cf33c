import { ENDED, nextOf, type PullStream, type Receiver } from './pull-stream.js';

/**
 * The buffer between the server's event fan-out and one subscriber's socket. Bounded: a subscriber that stops
 * reading cannot make the server hold its events forever. When full, the subscription ends with an error
 * telling the client to resume from its last cursor, which replays exactly what it missed. Read as an async
 * iterator, or pulled (graphql-ws's subscriptions: no promise per event and subscriber).
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T>, PullStream<T> {
  private readonly items: T[] = [];
  /** The consumer's pull while nothing is queued. */
  private waiting: Receiver<T> | undefined;
  private failure: Error | undefined;
  private done = false;
  /** Producers waiting for room (a replay); made on first use, as most queues never have one. */
  private drained: Set<{ below: number; resolve: () => void }> | undefined;

  constructor(
    private readonly capacity: number,
    private readonly onClose: () => void,
    private readonly overflowError: () => Error,
  ) {}

  push(item: T): void {
    if (this.done || this.failure) return;
    const receiver = this.handOver();
    if (receiver) return receiver.receive(item);
    if (this.items.length >= this.capacity) {
      this.fail(this.overflow());
      return;
    }
    this.items.push(item);
  }

  fail(error: Error): void {
    if (this.done || this.failure) return;
    this.failure = error;
    this.items.length = 0;
    this.release();
    this.onClose();
    // Failing the pending pull makes graphql-ws send the error and end the operation.
    this.handOver()?.fail(error);
  }

  /** The error this queue ends with when its consumer falls behind. */
  overflow(): Error {
    return this.overflowError();
  }

  get size(): number {
    return this.items.length;
  }

  get isOpen(): boolean {
    return !this.done && !this.failure;
  }

  /** Resolves once fewer than `below` items wait (or the queue has ended): backpressure for a producer. */
  whenBelow(below: number): Promise<void> {
    if (this.items.length < below || !this.isOpen) return Promise.resolve();
    return new Promise((resolve) => (this.drained ??= new Set()).add({ below, resolve }));
  }

  pull(receiver: Receiver<T>): void {
    if (this.items.length > 0) {
      const value = this.items.shift() as T;
      this.release();
      return receiver.receive(value);
    }
    if (this.failure) return receiver.fail(this.failure);
    if (this.done) return receiver.end();
    this.waiting = receiver;
  }

  next(): Promise<IteratorResult<T>> {
    return nextOf(this);
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve(ENDED);
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  private release(): void {
    if (!this.drained) return;
    for (const waiter of this.drained) {
      if (this.items.length < waiter.below || !this.isOpen) {
        this.drained.delete(waiter);
        waiter.resolve();
      }
    }
  }

  private close(): void {
    if (this.done) return;
    this.done = true;
    this.items.length = 0;
    this.release();
    this.onClose();
    this.handOver()?.end();
  }

  /** The waiting pull's receiver, which this call answers: it pulls again for another. */
  private handOver(): Receiver<T> | undefined {
    const receiver = this.waiting;
    this.waiting = undefined;
    return receiver;
  }
}
