import type { ExecutionResult, FormattedExecutionResult } from 'graphql';
import { MessageType } from 'graphql-ws';
import { ENDED, pullFrom, type Receiver } from '../realtime/pull-stream.js';

/**
 * Past this many bytes waiting in a socket's buffer, a subscription waits for its frame to be written before it
 * takes its next result: a subscriber that stops reading then lets its events queue where the event subscription
 * counts them (and cuts it off when too many wait), not in the socket's buffer without bound.
 */
const HIGH_WATER_BYTES = 256 * 1024;

/** The socket a subscription's messages go to (a `ws` WebSocket). */
export interface FrameSocket {
  readonly bufferedAmount: number;
  /** `written` runs once the frame has been handed to the kernel. */
  send(frame: string, written?: () => void): void;
}

/** How the `next` messages of graphql-ws.ts carry results and count the errors they send. */
export interface ResultFormat {
  /** The result as the client receives it (errors formatted for it). */
  forClient: (result: ExecutionResult) => FormattedExecutionResult;
  /** Told of the errors of each result sent, once per subscriber that gets them. */
  countErrors: (errors: ExecutionResult['errors']) => void;
}

/**
 * The JSON of each result, made once however many subscriptions send it in a row: the subscribers of an event
 * that share an execution share its result object (shared-subscription-execution.ts) and are handed it one after
 * another, so a thousand subscribers cost one serialization. Only the last result is kept: a result made for one
 * subscriber alone is never asked for again, and keeping it would only cost.
 */
export class ResultJson {
  private lastResult: ExecutionResult | undefined;
  private lastJson = '';

  constructor(private readonly format: ResultFormat) {}

  of(result: ExecutionResult): string {
    if (result.errors) this.format.countErrors(result.errors);
    if (result !== this.lastResult) {
      this.lastJson = JSON.stringify(this.format.forClient(result));
      this.lastResult = result;
    }
    return this.lastJson;
  }
}

/**
 * A subscription's results, sent to its socket as graphql-ws `next` messages by this object rather than yielded
 * to graphql-ws: graphql-ws would build, validate and serialize each message per subscriber, with promises per
 * subscriber and event. Here each message is the subscription's own prefix (its id, once) and the result's shared
 * JSON. To graphql-ws this is a stream that yields nothing and ends when the results end (it then sends
 * `complete`, after every `next`: one socket keeps the order of sends), fails as they fail (it then sends
 * `error`), and is stopped by `return()` when the client completes the operation or the socket closes. It pulls
 * its results (pull-stream.ts) as their receiver: between events a subscription waits on no promise of its own.
 */
export class NextFrames implements AsyncIterableIterator<never>, Receiver<ExecutionResult> {
  private readonly prefix: string;
  /** Settle graphql-ws's one pending `next()`; unset once it is settled (the results are then no longer taken). */
  private ended: ((step: IteratorResult<never>) => void) | undefined;
  private failed: ((error: unknown) => void) | undefined;

  constructor(
    private readonly results: AsyncIterator<ExecutionResult>,
    private readonly socket: FrameSocket,
    id: string,
    private readonly json: ResultJson,
  ) {
    this.prefix = `{"id":${JSON.stringify(id)},"type":"${MessageType.Next}","payload":`;
  }

  /**
   * graphql-ws's one pending `next()`: it settles when the results end. Promise callbacks rather than an async
   * loop: a suspended async function would hold about a kilobyte per idle subscription.
   */
  next(): Promise<IteratorResult<never>> {
    return new Promise((resolve, reject) => {
      this.ended = resolve;
      this.failed = reject;
      this.take();
    });
  }

  async return(): Promise<IteratorResult<never>> {
    this.end();
    await this.results.return?.();
    return ENDED;
  }

  async throw(error: unknown): Promise<IteratorResult<never>> {
    this.end();
    if (this.results.throw) await this.results.throw(error);
    return ENDED;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<never> {
    return this;
  }

  /** The next result: sent as a `next` message, then the one after it is taken (once written, past high water). */
  receive(result: ExecutionResult): void {
    if (!this.ended) return;
    const frame = `${this.prefix}${this.json.of(result)}}`;
    if (this.socket.bufferedAmount < HIGH_WATER_BYTES) {
      this.socket.send(frame);
      this.take();
    } else this.socket.send(frame, () => this.take());
  }

  /** The results ended (or the client stopped them): so does graphql-ws's stream. */
  end(): void {
    const ended = this.ended;
    this.ended = this.failed = undefined;
    ended?.(ENDED);
  }

  /** The results failed: graphql-ws sends the error. */
  fail(error: unknown): void {
    const failed = this.failed;
    this.ended = this.failed = undefined;
    failed?.(error);
  }

  private take(): void {
    pullFrom(this.results, this);
  }
}
