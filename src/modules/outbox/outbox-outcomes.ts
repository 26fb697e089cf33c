import type pg from 'pg';
import { retryDelay } from '../../lib/retry-delay.js';
import { withTransaction } from '../../db/transaction.js';
import { pgRunner } from '../events/event-log.js';
import type { StatusChange } from '../events/organization-events.js';
import type { StatusEvents } from '../read-state/status-events.js';
import { statusUpsertSql } from '../read-state/status-transitions.js';
import type { SendOutcome } from './outbox-attempt.js';
import type { ClaimedSend } from './outbox-claims.js';
import { type HealthChange, type HealthSignal, recordHealth } from './integration-health.js';

/**
 * What recording an outcome did: `held` is false when another worker had taken the row over after this one's
 * lease expired (its outcome stands); `statuses`, the client's status change when it moved, logged with the
 * outcome, to publish now that it is committed.
 */
export interface RecordedOutcome {
  held: boolean;
  statuses: StatusChange[];
  /** The integration's health, when this outcome changed it (announced to admins after the commit). */
  health: HealthChange | null;
}

/**
 * Writes an attempt's outcome, provided this worker still holds the row (its claim's token): a retry
 * is scheduled with exponential backoff; a send stores Meta's id on the row and the message and sets the
 * client's status SENT; a final failure sets it FAILED with the reason. Statuses go through the state machine.
 */
export function recordOutcome(
  pool: pg.Pool,
  statuses: Pick<StatusEvents, 'log'>,
  row: ClaimedSend,
  outcome: SendOutcome,
  retryBaseMs: number,
): Promise<RecordedOutcome> {
  return withTransaction(pool, async (client) => {
    const recorded = await recordRow(client, statuses, row, outcome, retryBaseMs);
    const signal = healthSignalOf(outcome);
    const health = recorded.held && signal ? await recordHealth(client, row.platform_integration_id, signal) : null;
    return { ...recorded, health };
  });
}

async function recordRow(
  client: pg.PoolClient,
  statuses: Pick<StatusEvents, 'log'>,
  row: ClaimedSend,
  outcome: SendOutcome,
  retryBaseMs: number,
): Promise<Omit<RecordedOutcome, 'health'>> {
  const changed = (result: { rowCount: number | null }) => (result.rowCount ?? 0) > 0;
  const logStatus = async (result: { rowCount: number | null }, status: 'SENT' | 'FAILED') =>
    changed(result)
      ? statuses.log(pgRunner(client), row.organization_id, [
          {
            channelId: row.channel_id,
            userId: row.client_user_id,
            status,
            messageIds: [row.message_id],
            at: new Date(),
          },
        ])
      : [];
  if ('paced' in outcome || 'paused' in outcome) {
    // Not the message's fault: the try is not counted (given back: the claim token, not attempts, fences the
    // lease). A paused row waits for the claim to allow it again; a paced one is due again when the outcome says.
    const error = 'paced' in outcome ? outcome.paced : outcome.paused;
    const held = await client.query(
      `UPDATE outbound_messages
         SET next_attempt_at = now() + $3::int * interval '1 millisecond', locked_until = NULL, last_error = $4,
             attempts = attempts - 1, updated_at = now()
         WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
      [row.id, row.claim_token, 'paced' in outcome ? outcome.retryInMs : 0, describeError(error)],
    );
    return { held: changed(held), statuses: [] };
  }
  if ('retry' in outcome) {
    const held = await client.query(
      `UPDATE outbound_messages
         SET next_attempt_at = now() + $3::int * interval '1 millisecond', locked_until = NULL, last_error = $4, updated_at = now()
         WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
      [row.id, row.claim_token, retryDelay(retryBaseMs, row.attempts), describeError(outcome.retry)],
    );
    return { held: changed(held), statuses: [] };
  }
  if ('sent' in outcome) {
    const held = await client.query(
      `UPDATE outbound_messages
         SET status = 'sent', external_message_id = $3, locked_until = NULL, last_error = NULL, updated_at = now()
         WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
      [row.id, row.claim_token, outcome.sent],
    );
    if (!changed(held)) return { held: false, statuses: [] };
    // The message carries the id of its first send, so status webhooks and replies find it.
    await client.query(
      `UPDATE messages SET platform_integration_id = $2, external_message_id = $3
         WHERE id = $1 AND external_message_id IS NULL`,
      [row.message_id, row.platform_integration_id, outcome.sent],
    );
    // A delivered/read status that came first (the client may also read in the app) is kept.
    const status = await client.query(
      statusUpsertSql("VALUES ($1::uuid, $2::uuid, 'sent'::message_status, now(), NULL, NULL)"),
      [row.message_id, row.client_user_id],
    );
    return { held: true, statuses: await logStatus(status, 'SENT') };
  }
  const held = await client.query(
    `UPDATE outbound_messages SET status = 'failed', locked_until = NULL, last_error = $3, updated_at = now()
       WHERE id = $1 AND claim_token = $2 AND status = 'pending'`,
    [row.id, row.claim_token, describeError(outcome.failed)],
  );
  if (!changed(held)) return { held: false, statuses: [] };
  const status = await client.query(
    statusUpsertSql("VALUES ($1::uuid, $2::uuid, 'failed'::message_status, now(), $3, $4)"),
    [row.message_id, row.client_user_id, outcome.failed.code, outcome.failed.title],
  );
  return { held: true, statuses: await logStatus(status, 'FAILED') };
}

/** What an outcome says about the integration: nothing when Meta was not asked or spoke of one recipient only. */
function healthSignalOf(outcome: SendOutcome): HealthSignal | null {
  if ('sent' in outcome) return { kind: 'ok', error: null };
  if ('paused' in outcome) return { kind: 'token-invalid', error: outcome.paused };
  if ('retry' in outcome) return { kind: 'failure', error: outcome.retry };
  if ('failed' in outcome && outcome.meta) return { kind: 'failure', error: outcome.meta };
  return null;
}

const describeError = (error: { code: string; title: string }) => `${error.code}: ${error.title}`;
