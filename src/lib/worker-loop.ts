import type { Logger } from '../logger.js';

export interface WorkerLoopOptions {
  /** Named in log lines. */
  name: string;
  /** Takes and finishes one batch of due work; resolves true when more is probably due (run again at once). */
  runOnce: () => Promise<boolean>;
  /** How long the loop sleeps when nothing is due and nobody wakes it. */
  pollIntervalMs: number;
  logger: Logger;
}

/**
 * How background work runs here (the webhook processor, the outbox sender): work lives in a table, is claimed in
 * batches by whichever instance gets there first, and is done by a loop that runs when woken (right after new
 * work was committed) and otherwise polls, so that work left by a crash or queued by another instance is found
 * too. A batch runs to its end; stop() waits for it.
 */
export class WorkerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wakeRequested = false;
  private started = false;
  private stopping = false;

  constructor(private readonly options: WorkerLoopOptions) {}

  start(): void {
    this.started = true;
    this.stopping = false;
    this.run();
  }

  /** Runs now instead of at the next poll (after work was queued); a run under way runs again after. */
  wake(): void {
    if (!this.started || this.stopping) return;
    if (this.running) this.wakeRequested = true;
    else this.run();
  }

  /** Stops polling and waits for the batch in flight to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  get isStopping(): boolean {
    return this.stopping;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), delayMs);
    this.timer.unref();
  }

  private run(): void {
    clearTimeout(this.timer);
    this.running = this.drain()
      .catch((error: unknown) =>
        this.options.logger.error({ err: error, worker: this.options.name }, 'background run failed'),
      )
      .finally(() => {
        this.running = undefined;
        if (this.stopping) return;
        const again = this.wakeRequested;
        this.wakeRequested = false;
        this.schedule(again ? 0 : this.options.pollIntervalMs);
      });
  }

  private async drain(): Promise<void> {
    while (!this.stopping && (await this.options.runOnce()));
  }
}
