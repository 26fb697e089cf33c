/** What a PullStream hands its next item to, or tells that it ended or failed. */
export interface Receiver<T> {
  receive(item: T): void;
  end(): void;
  fail(error: unknown): void;
}

/**
 * A stream read one item at a time without a promise per item. An async iterator's consumer waits for each
 * item with a new promise and its callbacks; a subscription idles in that state between events, so with
 * thousands of subscribers every event replaces thousands of them, old enough by then to have reached the old
 * generation, where they are collected in long pauses. A receiver is the consumer's own long-lived object,
 * handed to `pull` again for each item.
 */
export interface PullStream<T> {
  /**
   * Hands the next item to `receiver`, or tells it the stream ended or failed: at once when it can, else when
   * that happens. One pull at a time: the receiver pulls again once it has been handed something.
   */
  pull(receiver: Receiver<T>): void;
}

function isPullStream<T>(stream: AsyncIterator<T>): stream is AsyncIterator<T> & PullStream<T> {
  return typeof (stream as Partial<PullStream<T>>).pull === 'function';
}

/** The next item of any async iterator, the PullStream's way when it is one, else through `next()`. */
export function pullFrom<T>(stream: AsyncIterator<T>, receiver: Receiver<T>): void {
  if (isPullStream(stream)) return stream.pull(receiver);
  stream.next().then(
    (step) => (step.done ? receiver.end() : receiver.receive(step.value)),
    (error: unknown) => receiver.fail(error),
  );
}

/** The last step of an async iterator (one shared object: it carries nothing). */
export const ENDED: IteratorReturnResult<undefined> = { value: undefined, done: true };

/** `next()` of an async iterator, through its `pull`: for consumers that read it as an async iterator. */
export function nextOf<T>(stream: PullStream<T>): Promise<IteratorResult<T>> {
  return new Promise((resolve, reject) =>
    stream.pull({ receive: (value) => resolve({ value, done: false }), end: () => resolve(ENDED), fail: reject }),
  );
}
