import type { MessageType, Platform } from '../../generated/prisma/enums.js';
import { SecretError } from '../../lib/secrets.js';
import { withTransaction } from '../../db/transaction.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { IntegrationService } from '../integrations/integrations.service.js';
import type { GraphApiClient, SendError } from './graph-api.js';
import { INSTAGRAM_STANDARD_WINDOW_MS } from './customer-window.js';
import type { StatusEvents } from '../read-state/status-events.js';
import { statusUpsertSql } from '../read-state/status-transitions.js';
import { buildSendBody } from './send-body.js';

export interface OutboxWorkerOptions {
  graph: GraphApiClient;
  integrations: IntegrationService;
  maxAttempts: number;
  /** The first retry's delay; each further one doubles (with jitter), up to an hour. */
  retryBaseMs: number;
  pollIntervalMs: number;
  /** How long a claimed row is this worker's; longer than a Graph API call can take. */
  leaseMs: number;
  batchSize?: number;
  /** Announces the client's status once a send's outcome is committed. */
  statuses: Pick<StatusEvents, 'publish'>;
}

interface ClaimedRow {
  id: string;
  attempts: number;
  organization_id: string;
  message_id: string;
  platform_integration_id: string;
  channel_id: string;
  content: string | null;
  message_type: string;
  metadata: unknown;
  deleted_at: Date | null;
  reply_to_external_id: string | null;
  client_user_id: string;
  platform_user_id: string | null;
  platform_scoped_user_id: string | null;
  verification_status: string;
  last_inbound_at: Date | null;
  platform: string;
  platform_account_id: string | null;
  access_token: string;
  is_active: boolean;
}

type Outcome = { sent: string } | { retry: SendError } | { failed: { code: string; title: string } };

const MAX_RETRY_DELAY_MS = 3600_000;

/** What OutboxWorker is built from. */
export interface OutboxWorkerDeps {
  db: Database;
  logger: Logger;
  metrics: Metrics;
}

/**
 * Sends queued outbound_messages through the Graph API. Rows are claimed with FOR UPDATE SKIP LOCKED and a
 * lease (locked_until), so instances never send the same row at once, and a row whose worker died is taken
 * over when its lease expires. Each claim counts as an attempt; transient failures are retried with
 * exponential backoff up to maxAttempts, then (like permanent refusals) the row and the client's
 * message_user_status become FAILED with Meta's reason.
 *
 * Delivery is at least once: a worker that dies after Meta accepted a message but before recording it leaves
 * the row to be sent again when the lease expires (the Send API has no idempotency key).
 */
export class OutboxWorker {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private wakeRequested = false;
  private started = false;
  private stopping = false;

  private readonly attempts;

  constructor(
    private readonly deps: OutboxWorkerDeps,
    private readonly options: OutboxWorkerOptions,
  ) {
    this.attempts = deps.metrics.counter({
      name: 'chat_outbox_attempts_total',
      help: 'Graph API send attempts by outcome: sent, retry (will be tried again), failed (for good)',
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
  }

  start(): void {
    this.started = true;
    this.stopping = false;
    this.schedule(0);
  }

  /** Stops polling and waits for the sends in flight to be recorded. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Runs now instead of at the next poll (after rows were queued). */
  wake(): void {
    if (!this.started || this.stopping) return;
    if (this.running) this.wakeRequested = true;
    else this.schedule(0);
  }

  /** Claims and sends one batch of due rows; returns how many were claimed. */
  async runOnce(): Promise<number> {
    const claimed = await this.claim();
    await Promise.all(claimed.map((row) => this.deliver(row)));
    return claimed.length;
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.running = this.drain()
        .catch((error: unknown) => this.deps.logger.error({ err: error }, 'outbox run failed'))
        .finally(() => {
          this.running = undefined;
          if (this.stopping) return;
          const again = this.wakeRequested;
          this.wakeRequested = false;
          this.schedule(again ? 0 : this.options.pollIntervalMs);
        });
    }, delayMs);
    this.timer.unref();
  }

  private async drain(): Promise<void> {
    const batchSize = this.options.batchSize ?? 10;
    while (!this.stopping && (await this.runOnce()) === batchSize);
  }

  private async claim(): Promise<ClaimedRow[]> {
    const { rows } = await this.deps.db.pool.query<ClaimedRow>(
      `WITH due AS (
         SELECT id FROM outbound_messages
         WHERE status = 'pending' AND next_attempt_at <= now() AND (locked_until IS NULL OR locked_until < now())
         ORDER BY next_attempt_at, id
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE outbound_messages o
         SET locked_until = now() + $2::int * interval '1 millisecond', attempts = o.attempts + 1, updated_at = now()
         FROM due WHERE o.id = due.id
         RETURNING o.*
       )
       SELECT o.id, o.attempts, o.organization_id, o.message_id, o.platform_integration_id,
              m.channel_id, m.content, m.message_type::text AS message_type, m.metadata, m.deleted_at,
              COALESCE(
                CASE WHEN parent.platform_integration_id = o.platform_integration_id THEN parent.external_message_id END,
                (SELECT po.external_message_id FROM outbound_messages po
                 WHERE po.message_id = m.thread_id AND po.client_platform_link_id = o.client_platform_link_id)
              ) AS reply_to_external_id,
              l.client_user_id, l.platform_user_id, l.platform_scoped_user_id,
              l.verification_status::text AS verification_status, l.last_inbound_at,
              i.platform::text AS platform, i.platform_account_id, i.access_token, i.is_active
       FROM claimed o
       JOIN messages m ON m.id = o.message_id
       JOIN client_platform_links l ON l.id = o.client_platform_link_id
       JOIN platform_integrations i ON i.id = o.platform_integration_id
       LEFT JOIN messages parent ON parent.id = m.thread_id`,
      [this.options.batchSize ?? 10, this.options.leaseMs],
    );
    return rows;
  }

  private async deliver(row: ClaimedRow): Promise<void> {
    try {
      const outcome = await this.send(row);
      await this.record(row, outcome);
    } catch (error) {
      // Not recorded: the lease expires and the row is tried again (its attempt is counted).
      this.deps.logger.error({ err: error, outboundId: row.id }, 'outbound send failed unexpectedly');
    }
  }

  private async send(row: ClaimedRow): Promise<Outcome> {
    // Claims whose outcome was never recorded (a crash, an unexpected error) count too: no endless loop.
    if (row.attempts > this.options.maxAttempts)
      return { failed: { code: 'attempts-exhausted', title: `Gave up after ${this.options.maxAttempts} attempts` } };
    if (row.deleted_at)
      return { failed: { code: 'deleted', title: 'The message was deleted before it was delivered' } };
    if (!row.is_active) return { failed: { code: 'integration-inactive', title: 'The integration is deactivated' } };
    if (row.verification_status !== 'verified')
      return { failed: { code: 'link-unverified', title: "The client's platform link is not verified" } };
    const platform = row.platform.toUpperCase() as Platform;
    const sinceCustomerWrote = row.last_inbound_at ? Date.now() - row.last_inbound_at.getTime() : Infinity;
    const body = buildSendBody(
      platform,
      { platformUserId: row.platform_user_id, scopedUserId: row.platform_scoped_user_id },
      {
        messageType: row.message_type.toUpperCase() as MessageType,
        content: row.content,
        metadata: row.metadata,
        replyToExternalId: row.reply_to_external_id,
      },
      { humanAgentTag: platform === 'INSTAGRAM' && sinceCustomerWrote > INSTAGRAM_STANDARD_WINDOW_MS },
    );
    if (!body.ok) return { failed: { code: 'unsendable', title: body.reason } };
    let accessToken: string;
    try {
      accessToken = this.options.integrations.accessTokenOf({ accessToken: row.access_token });
    } catch (error) {
      if (!(error instanceof SecretError)) throw error;
      return {
        failed: { code: 'credentials', title: `The integration's access token cannot be opened: ${error.message}` },
      };
    }
    const result = await this.options.graph.send({
      platform,
      accountId: row.platform_account_id,
      accessToken,
      body: body.body,
    });
    if (result.ok) return { sent: result.externalMessageId };
    const { error } = result;
    if (error.transient && row.attempts < this.options.maxAttempts) return { retry: error };
    return { failed: { code: error.code, title: error.title } };
  }

  /** Writes the outcome, provided this worker still holds the row (its claim's attempt number). */
  private async record(row: ClaimedRow, outcome: Outcome): Promise<void> {
    const change = await withTransaction(this.deps.db.pool, async (client) => {
      let change: ReturnType<typeof statusChange> | undefined;
      // Whether a statement changed its row: for outbound_messages, that this worker still held the row; for
      // message_user_status, that the client's status moved.
      const changed = (result: { rowCount: number | null }) => (result.rowCount ?? 0) > 0;
      if ('retry' in outcome) {
        const delay = retryDelay(this.options.retryBaseMs, row.attempts);
        const result = await client.query(
          `UPDATE outbound_messages
           SET next_attempt_at = now() + $3::int * interval '1 millisecond', locked_until = NULL, last_error = $4, updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
          [row.id, row.attempts, delay, describeError(outcome.retry.code, outcome.retry.title)],
        );
        if (!changed(result)) this.leaseLost(row);
      } else if ('sent' in outcome) {
        const result = await client.query(
          `UPDATE outbound_messages
           SET status = 'sent', external_message_id = $3, locked_until = NULL, last_error = NULL, updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
          [row.id, row.attempts, outcome.sent],
        );
        if (!changed(result)) this.leaseLost(row);
        else {
          // The message carries the id of its first send, so status webhooks and replies find it.
          await client.query(
            `UPDATE messages SET platform_integration_id = $2, external_message_id = $3
             WHERE id = $1 AND external_message_id IS NULL`,
            [row.message_id, row.platform_integration_id, outcome.sent],
          );
          // Through the status state machine: a delivered/read status that came first (the client may also read
          // in the app) is kept, and then there is no change to announce.
          const status = await client.query(
            statusUpsertSql("VALUES ($1::uuid, $2::uuid, 'sent'::message_status, now(), NULL, NULL)"),
            [row.message_id, row.client_user_id],
          );
          if (changed(status)) change = statusChange(row, 'SENT');
        }
      } else {
        const result = await client.query(
          `UPDATE outbound_messages SET status = 'failed', locked_until = NULL, last_error = $3, updated_at = now()
           WHERE id = $1 AND attempts = $2 AND status = 'pending'`,
          [row.id, row.attempts, describeError(outcome.failed.code, outcome.failed.title)],
        );
        if (!changed(result)) this.leaseLost(row);
        else {
          // FAILED replaces SENT (or nothing), never a delivery or a read that did happen.
          const status = await client.query(
            statusUpsertSql("VALUES ($1::uuid, $2::uuid, 'failed'::message_status, now(), $3, $4)"),
            [row.message_id, row.client_user_id, outcome.failed.code, outcome.failed.title],
          );
          if (changed(status)) change = statusChange(row, 'FAILED');
        }
      }
      return change;
    });
    this.attempts.inc({ outcome: Object.keys(outcome)[0] });
    this.deps.logger.info(
      { outboundId: row.id, attempt: row.attempts, outcome: Object.keys(outcome)[0] },
      'outbound message attempt',
    );
    if (change) this.options.statuses.publish(row.organization_id, change);
  }

  private leaseLost(row: ClaimedRow): void {
    // Another worker took the row over after this one's lease expired; its outcome stands.
    this.deps.logger.warn(
      { outboundId: row.id, attempt: row.attempts },
      'outbound lease expired before the send was recorded',
    );
  }
}

function retryDelay(baseMs: number, attempts: number): number {
  const exponential = Math.min(baseMs * 2 ** Math.max(0, attempts - 1), MAX_RETRY_DELAY_MS);
  // ±20 % jitter, so rows that failed together do not all retry in the same instant.
  return Math.round(exponential * (0.8 + Math.random() * 0.4));
}

const describeError = (code: string, title: string) => `${code}: ${title}`;

function statusChange(row: ClaimedRow, status: 'SENT' | 'FAILED') {
  return {
    channelId: row.channel_id,
    userId: row.client_user_id,
    status,
    messageIds: [row.message_id],
    at: new Date(),
  };
}
