import type { Database } from '../../db/database.js';
import { WorkerLoop } from '../../lib/worker-loop.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { StatusEvents } from '../read-state/status-events.js';
import { attemptSend, type SendAttemptDeps, type SendOutcome } from './outbox-attempt.js';
import { type ClaimedSend, claimDueSends } from './outbox-claims.js';
import { recordOutcome } from './outbox-outcomes.js';

export interface OutboxWorkerOptions extends SendAttemptDeps {
  /** The first retry's delay; each further one doubles (with jitter), up to an hour. */
  retryBaseMs: number;
  pollIntervalMs: number;
  /** How long a claimed row is this worker's; longer than a Graph API call can take. */
  leaseMs: number;
  batchSize?: number;
  /** Logs the client's status with a send's outcome, and announces it once committed. */
  statuses: Pick<StatusEvents, 'log' | 'publish'>;
  /** Where an integration's health change is announced to its organization's admins. */
  stream: Pick<OrganizationStream, 'publish'>;
}

/** What OutboxWorker is built from. */
export interface OutboxWorkerDeps {
  db: Database;
  logger: Logger;
  metrics: Metrics;
}

const DEFAULT_BATCH = 10;
const PACED_TICK_MS = 10;

/**
 * Sends queued outbound_messages through the Graph API: claims due rows (outbox-claims), attempts each
 * (outbox-attempt) and records the outcome (outbox-outcomes), on a WorkerLoop woken when the message writer
 * queued rows. Transient failures are retried with exponential backoff up to maxAttempts, then (like permanent
 * refusals) the row and the client's message_user_status become FAILED with Meta's reason.
 *
 * Delivery is at least once: a worker that dies after Meta accepted a message but before recording it leaves
 * the row to be sent again when the lease expires (the Send API has no idempotency key).
 */
export class OutboxWorker {
  private readonly loop: WorkerLoop;
  private readonly attempts;
  /**
   * When rows this worker paced are due again before the next poll (ms, rounded up to a PACED_TICK_MS tick, so
   * a backlog of thousands needs a few hundred wake-ups at most), and the timer of the soonest.
   */
  private readonly pacedDue = new Set<number>();
  private pacedTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly deps: OutboxWorkerDeps,
    private readonly options: OutboxWorkerOptions,
  ) {
    this.attempts = deps.metrics.counter({
      name: 'chat_outbox_attempts_total',
      help:
        'Graph API send attempts by outcome: sent, retry (will be tried again), failed (for good), paced (over a ' +
        "phone number's throughput or Meta's pair limit: tried later, not counted), paused (token invalid)",
      labelNames: ['outcome'],
    });
    const pool = deps.db.pool;
    deps.metrics.gauge({
      name: 'chat_outbox_pending',
      help: 'Outbound platform messages waiting to be sent (all instances)',
      async collect() {
        // While the database is unreachable the last value stays; /readyz says why.
        const counted = await pool
          .query<{ count: number }>("SELECT count(*)::int AS count FROM outbound_messages WHERE status = 'pending'")
          .catch(() => undefined);
        if (counted) this.set(counted.rows[0]?.count ?? 0);
      },
    });
    this.loop = new WorkerLoop({
      name: 'outbox',
      runOnce: async () => {
        const batch = await this.sendBatch();
        return batch.claimed === (options.batchSize ?? DEFAULT_BATCH) || batch.ended;
      },
      pollIntervalMs: options.pollIntervalMs,
      logger: deps.logger,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Stops polling and waits for the sends in flight to be recorded. */
  stop(): Promise<void> {
    clearTimeout(this.pacedTimer);
    this.pacedDue.clear();
    return this.loop.stop();
  }

  /** Runs now instead of at the next poll (after rows were queued). */
  wake(): void {
    this.loop.wake();
  }

  /** Claims and sends one batch of due rows; returns how many were claimed. */
  async runOnce(): Promise<number> {
    return (await this.sendBatch()).claimed;
  }

  /**
   * One batch; `ended` when it sent or failed a row for good. A recipient's replies go one at a time (see
   * claimDueSends): the row ended may have held back its recipient's next reply, due now, and ten replies queued
   * to one client must not wait for ten polls. Claiming again after the commit, rather than asking within it
   * whether one waits, also finds a reply that another instance queued while this row was still pending.
   */
  private async sendBatch(): Promise<{ claimed: number; ended: boolean }> {
    const claimed = await claimDueSends(
      this.deps.db.pool,
      this.options.batchSize ?? DEFAULT_BATCH,
      this.options.leaseMs,
    );
    const delivered = await Promise.all(claimed.map((row) => this.deliver(row)));
    const now = Date.now();
    const pollAt = now + this.options.pollIntervalMs;
    for (const { outcome } of delivered) {
      if (!outcome || !('paced' in outcome)) continue;
      const dueAt = Math.ceil((now + outcome.retryInMs) / PACED_TICK_MS) * PACED_TICK_MS;
      if (dueAt < pollAt) this.pacedDue.add(dueAt);
    }
    this.armPacedTimer();
    return { claimed: claimed.length, ended: delivered.some(({ ended }) => ended) };
  }

  /** Paced rows wait a fraction of a second (a phone number's throughput): they should not wait for the poll. */
  private armPacedTimer(): void {
    clearTimeout(this.pacedTimer);
    if (this.pacedDue.size === 0 || this.loop.isStopping) return;
    let soonest = Infinity;
    for (const dueAt of this.pacedDue) soonest = Math.min(soonest, dueAt);
    this.pacedTimer = setTimeout(
      () => {
        const now = Date.now();
        for (const dueAt of this.pacedDue) if (dueAt <= now) this.pacedDue.delete(dueAt);
        this.loop.wake();
        this.armPacedTimer();
      },
      Math.max(soonest - Date.now(), 0),
    );
    this.pacedTimer.unref();
  }

  /**
   * Attempts one row and records the outcome (undefined when that failed unexpectedly), and whether that ended the
   * row (sent, or failed for good).
   */
  private async deliver(row: ClaimedSend): Promise<{ outcome?: SendOutcome; ended: boolean }> {
    try {
      const outcome = await attemptSend(row, this.options);
      const recorded = await recordOutcome(
        this.deps.db.pool,
        this.options.statuses,
        row,
        outcome,
        this.options.retryBaseMs,
      );
      const kind = Object.keys(outcome)[0];
      this.attempts.inc({ outcome: kind });
      if (!recorded.held)
        this.deps.logger.warn(
          { outboundId: row.id, attempt: row.attempts },
          'outbound lease expired before the send was recorded',
        );
      this.deps.logger.info({ outboundId: row.id, attempt: row.attempts, outcome: kind }, 'outbound message attempt');
      this.options.statuses.publish(row.organization_id, recorded.statuses);
      if (recorded.health) {
        this.deps.logger.warn({ ...recorded.health }, 'integration health changed');
        void this.options.stream.publish(row.organization_id, { type: 'integration-health', ...recorded.health });
      }
      return { outcome, ended: recorded.held && ('sent' in outcome || 'failed' in outcome) };
    } catch (error) {
      // Not recorded: the lease expires and the row is tried again (its attempt is counted).
      this.deps.logger.error({ err: error, outboundId: row.id }, 'outbound send failed unexpectedly');
      return { ended: false };
    }
  }
}
