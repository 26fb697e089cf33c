/** An event and the sequence number that orders it in its stream. */
export interface Sequenced<E> {
  seq: bigint;
  event: E;
}

/**
 * Where a stream's events can be read back from (the database): what the bus lost is read here. Sequence
 * numbers are consecutive; a number with nothing to read belongs to something changed again since, whose later
 * number carries its current state.
 */
export interface SequenceSource<E> {
  /** The highest number given out so far. */
  highWater(): Promise<bigint>;
  /** What has numbers in (after, upTo], in order, at most `limit` items. */
  read(after: bigint, upTo: bigint, limit: number): Promise<Sequenced<E>[]>;
}

export interface SequencedDeliveryOptions<E> {
  source: SequenceSource<E>;
  /** Receives every event once, in sequence order. */
  deliver: (item: Sequenced<E>) => void;
  /** A read from the source failed; it is tried again later. */
  onReadError: (error: unknown) => void;
  /** How long an early event waits for the ones before it before they are read from the source. */
  gapWaitMs?: number;
  fillPageSize?: number;
}

const DEFAULT_GAP_WAIT_MS = 150;
const DEFAULT_FILL_PAGE = 500;

/**
 * Turns events that arrive out of order, twice, or not at all (a bus is a notification, not a record) into
 * one ordered stream without gaps or duplicates: events that arrive early wait for the ones before them; a gap
 * that does not close by itself, and anything after the last event seen that the source knows of
 * (`checkTail`), is read from the source. Pure: no database, no bus; the caller feeds it and owns the timers'
 * lifetime through `close`.
 */
export class SequencedDelivery<E> {
  private delivered = 0n;
  private readonly early = new Map<bigint, Sequenced<E>>();
  private gapTimer: NodeJS.Timeout | undefined;
  private filling: Promise<void> | undefined;
  private readonly gapWaitMs: number;
  private readonly fillPageSize: number;

  constructor(private readonly options: SequencedDeliveryOptions<E>) {
    this.gapWaitMs = options.gapWaitMs ?? DEFAULT_GAP_WAIT_MS;
    this.fillPageSize = options.fillPageSize ?? DEFAULT_FILL_PAGE;
  }

  /** Starts after what the source has now: events numbered up to it are history, not news. */
  async start(): Promise<void> {
    this.delivered = await this.options.source.highWater();
  }

  /** The number of the last event delivered. */
  get position(): bigint {
    return this.delivered;
  }

  receive(item: Sequenced<E>): void {
    if (item.seq <= this.delivered) return;
    if (item.seq === this.delivered + 1n && !this.filling) {
      this.deliver(item);
      this.drainEarly();
      return;
    }
    this.early.set(item.seq, item);
    this.scheduleFill();
  }

  /** Events after the last one seen may have been lost rather than delayed: compare with the source. */
  async checkTail(): Promise<void> {
    if (this.filling || this.early.size > 0) return;
    try {
      const highWater = await this.options.source.highWater();
      if (highWater > this.delivered && this.early.size === 0) await this.fill(highWater);
    } catch (error) {
      this.options.onReadError(error);
    }
  }

  close(): void {
    clearTimeout(this.gapTimer);
    this.gapTimer = undefined;
  }

  private deliver(item: Sequenced<E>): void {
    this.delivered = item.seq;
    this.options.deliver(item);
  }

  private drainEarly(): void {
    for (let next = this.early.get(this.delivered + 1n); next; next = this.early.get(this.delivered + 1n)) {
      this.early.delete(next.seq);
      this.deliver(next);
    }
    if (this.early.size === 0 && this.gapTimer) {
      clearTimeout(this.gapTimer);
      this.gapTimer = undefined;
    }
  }

  private scheduleFill(): void {
    this.gapTimer ??= setTimeout(() => {
      this.gapTimer = undefined;
      void this.fill(this.maxEarly());
    }, this.gapWaitMs);
  }

  private maxEarly(): bigint {
    let max = this.delivered;
    for (const seq of this.early.keys()) if (seq > max) max = seq;
    return max;
  }

  /** Delivers everything up to `upTo` in order: events at hand, the rest from the source. */
  private fill(upTo: bigint): Promise<void> {
    if (this.filling) return this.filling;
    this.filling = (async () => {
      try {
        while (this.delivered < upTo) {
          const page = await this.options.source.read(this.delivered, upTo, this.fillPageSize);
          const pageEnd = page.length === this.fillPageSize ? page.at(-1)!.seq : upTo;
          const read = new Map(page.map((item) => [item.seq, item]));
          for (let seq = this.delivered + 1n; seq <= pageEnd; seq++) {
            const item = this.early.get(seq) ?? read.get(seq);
            this.early.delete(seq);
            if (item) this.deliver(item);
            else this.delivered = seq;
          }
        }
      } catch (error) {
        this.options.onReadError(error);
      } finally {
        this.filling = undefined;
      }
      this.drainEarly();
      if (this.early.size > 0) this.scheduleFill();
    })();
    return this.filling;
  }
}
