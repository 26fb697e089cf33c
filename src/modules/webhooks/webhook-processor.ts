import { withTransaction } from '../../db/transaction.js';
import type { Database } from '../../db/database.js';
import { WorkerLoop } from '../../lib/worker-loop.js';
import type { Logger } from '../../logger.js';
import type { ClientLinkService, PlatformSender } from '../client-links/links.service.js';
import { DeliveryApplication } from './delivery-application.js';
import type { DeliveryOutcome } from './delivery-outcome.js';
import {
  claimDeliveries,
  type DeliveryRow,
  recordOutcomes,
  staleDeliveries,
  unroutableDeliveriesOf,
} from './delivery-store.js';
import type { InboundEventHandler } from './inbound-handler.js';
import type { InboundRouter } from './inbound-router.js';

export interface WebhookProcessorOptions {
  router: InboundRouter;
  links: ClientLinkService;
  /** Applies routed events (the messaging module's InboundMessaging). */
  handler: InboundEventHandler;
  /** At most this many deliveries are processed together (default 200). */
  batchSize?: number;
  /** How often deliveries left RECEIVED (by a crash, or a stop with work queued) are picked up. */
  sweepIntervalMs: number;
  /** A RECEIVED delivery younger than this is assumed to be in some instance's queue still. */
  staleAfterMs?: number;
}

interface Job {
  deliveryId: string;
  integrationId: string;
  replay: boolean;
  /** The webhook request that brought the delivery, named in the log lines of the messages it creates. */
  requestId: string | undefined;
  settle: (outcome: DeliveryOutcome | null) => void;
  fail: (error: unknown) => void;
  done: Promise<DeliveryOutcome | null>;
}

/** What WebhookProcessor is built from. */
export interface WebhookProcessorDeps {
  db: Database;
  logger: Logger;
}

// Unroutable deliveries older than this are not replayed automatically when their sender links.
const AUTO_REPLAY_WINDOW_DAYS = 7;
const AUTO_REPLAY_LIMIT = 100;
const SWEEP_LIMIT = 500;

/**
 * Turns stored deliveries into effects, after Meta has had its 200, and marks each delivery PROCESSED, or
 * FAILED with the reasons (what each means is DeliveryApplication's business).
 *
 * Deliveries are processed in batches, in arrival order, on a WorkerLoop: whatever queued while the previous
 * batch ran is claimed together under its rows' locks (SELECT ... FOR UPDATE SKIP LOCKED, so instances never
 * process the same delivery at once). Under load batches grow, so the cost per message falls as traffic rises.
 * Deliveries left RECEIVED by a crash are swept up at each poll. Processing can be re-run (replay): every step
 * is idempotent.
 */
export class WebhookProcessor {
  private readonly queue: Job[] = [];
  private readonly batchSize: number;
  private readonly loop: WorkerLoop;
  private readonly application: DeliveryApplication;
  private lastSweepAt = 0;

  constructor(
    private readonly deps: WebhookProcessorDeps,
    private readonly options: WebhookProcessorOptions,
  ) {
    this.batchSize = options.batchSize ?? 200;
    this.application = new DeliveryApplication({
      router: options.router,
      links: options.links,
      handler: options.handler,
      logger: deps.logger,
    });
    this.loop = new WorkerLoop({
      name: 'webhooks',
      runOnce: () => this.runOnce(),
      pollIntervalMs: options.sweepIntervalMs,
      logger: deps.logger,
    });
  }

  /** Picks up what an earlier run left RECEIVED, now and periodically, and processes what is queued. */
  start(): void {
    this.loop.start();
  }

  /** Stops taking work and waits for the deliveries being processed; queued ones stay RECEIVED for the sweep. */
  async stop(): Promise<void> {
    const stopped = this.loop.stop();
    for (const job of this.queue.splice(0)) job.settle(null);
    await stopped;
  }

  /**
   * Queues a delivery. A new one is processed only while still RECEIVED and not locked by another instance;
   * a replay re-runs it whatever its status (waiting for another instance's run to finish). Resolves with
   * the outcome, or null when there was nothing to do here.
   */
  enqueue(
    deliveryId: string,
    integrationId: string,
    options: { replay?: boolean; requestId?: string } = {},
  ): Promise<DeliveryOutcome | null> {
    const replay = options.replay ?? false;
    const queued = this.queue.find((job) => job.deliveryId === deliveryId && job.replay === replay);
    if (queued) return queued.done;
    if (this.loop.isStopping) return Promise.resolve(null);
    let settle!: Job['settle'];
    let fail!: Job['fail'];
    const done = new Promise<DeliveryOutcome | null>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    this.queue.push({ deliveryId, integrationId, replay, requestId: options.requestId, settle, fail, done });
    this.loop.wake();
    return done;
  }

  /** Queues RECEIVED deliveries old enough that no instance is about to process them. */
  async sweep(): Promise<number> {
    const rows = await staleDeliveries(this.deps.db.pool, this.options.staleAfterMs ?? 10_000, SWEEP_LIMIT);
    for (const row of rows) void this.enqueue(row.id, row.platform_integration_id).catch(() => undefined);
    if (rows.length > 0)
      this.deps.logger.info({ deliveries: rows.length }, 'recovering webhook deliveries left unprocessed');
    return rows.length;
  }

  /** Sweeps when a poll interval has passed, then processes one batch; true while more is queued. */
  private async runOnce(): Promise<boolean> {
    if (Date.now() - this.lastSweepAt >= this.options.sweepIntervalMs) {
      this.lastSweepAt = Date.now();
      await this.sweep();
    }
    if (this.queue.length === 0) return false;
    const batch = this.takeBatch();
    try {
      const outcomes = await this.processBatch(batch);
      batch.forEach((job) => job.settle(outcomes.get(job.deliveryId) ?? null));
    } catch (error) {
      this.deps.logger.error({ err: error, deliveries: batch.length }, 'webhook delivery processing failed');
      batch.forEach((job) => job.fail(error));
    }
    return this.queue.length > 0;
  }

  /** New deliveries go together; a replay goes alone, since it may wait for another instance's run. */
  private takeBatch(): Job[] {
    if (this.queue[0]!.replay) return this.queue.splice(0, 1);
    const batch: Job[] = [];
    for (let index = 0; index < this.queue.length && batch.length < this.batchSize;) {
      if (this.queue[index]!.replay) index += 1;
      else batch.push(...this.queue.splice(index, 1));
    }
    return batch;
  }

  private async processBatch(jobs: Job[]): Promise<Map<string, DeliveryOutcome>> {
    const replay = jobs[0]!.replay;
    const processed = await withTransaction(this.deps.db.pool, async (client) => {
      const deliveries = await claimDeliveries(
        client,
        jobs.map((job) => job.deliveryId),
        replay,
      );
      if (deliveries.length === 0) return [];
      const results = await this.application.apply(
        deliveries,
        new Map(jobs.map((job) => [job.deliveryId, job.requestId])),
      );
      await recordOutcomes(client, results);
      return results;
    });
    const outcomes = new Map<string, DeliveryOutcome>();
    for (const { delivery, outcome, verified } of processed) {
      outcomes.set(delivery.id, outcome);
      this.deps.logger.info(
        { deliveryId: delivery.id, status: outcome.status, errors: outcome.errors.length, replay },
        'webhook delivery processed',
      );
      if (verified.length > 0) await this.replayUnroutable(delivery, verified);
    }
    return outcomes;
  }

  /** A sender just linked: re-run their recent deliveries that failed only because they were unknown. */
  private async replayUnroutable(delivery: DeliveryRow, customers: PlatformSender[]): Promise<void> {
    const rows = await unroutableDeliveriesOf(this.deps.db.pool, delivery.organization_id, delivery.id, customers, {
      days: AUTO_REPLAY_WINDOW_DAYS,
      limit: AUTO_REPLAY_LIMIT,
    });
    for (const row of rows) {
      void this.enqueue(row.id, row.platform_integration_id, { replay: true }).catch(() => undefined);
    }
  }
}
