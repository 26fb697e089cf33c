/**
 * The buffer between the server's event fan-out and one subscriber's socket. Bounded: a subscriber that stops
 * reading cannot make the server hold its events forever. When full, the subscription ends with an error
 * telling the client to resume from its last cursor, which replays exactly what it missed.
 */
export class BoundedQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting: { resolve: (result: IteratorResult<T>) => void; reject: (error: Error) => void } | undefined;
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
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: item, done: false });
      return;
    }
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
    if (this.waiting) {
      // Rejecting the pending next() makes graphql-ws send the error and end the operation.
      const { reject } = this.waiting;
      this.waiting = undefined;
      reject(error);
    }
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

  next(): Promise<IteratorResult<T>> {
    if (this.items.length > 0) {
      const value = this.items.shift() as T;
      this.release();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure) return Promise.reject(this.failure);
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiting = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
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
    if (this.waiting) {
      const { resolve } = this.waiting;
      this.waiting = undefined;
      resolve({ value: undefined, done: true });
    }
  }
}
