import type { MessageStatus } from '../../generated/prisma/enums.js';

/**
 * How a recipient's status of a message may change: the one state machine of `message_user_status`, used by
 * read receipts, the outbox and platform status webhooks alike (through `statusUpsertSql`).
 *
 * SENT < DELIVERED < READ only move forward: a late DELIVERED never overwrites READ. FAILED ends a delivery
 * that never arrived: it may replace SENT (or nothing), never a delivery or a read that did happen. DELIVERED or
 * READ after FAILED say the message arrived after all and replace it; a late SENT does not hide a failure.
 */
export const STATUS_TRANSITIONS: Record<MessageStatus, readonly MessageStatus[]> = {
  SENT: ['DELIVERED', 'READ', 'FAILED'],
  DELIVERED: ['READ'],
  READ: [],
  FAILED: ['DELIVERED', 'READ'],
};

/** Whether a recipient's status may move from `from` (null: none yet) to `to`. */
export function canMoveStatus(from: MessageStatus | null, to: MessageStatus): boolean {
  return from === null || STATUS_TRANSITIONS[from].includes(to);
}

/**
 * `INSERT ... ON CONFLICT` into message_user_status that applies only a transition the state machine allows.
 * `values` is a SELECT (or VALUES) list producing (message_id, user_id, status, timestamp, error_code,
 * error_title), status as the lower-case enum; the statement returns the message ids whose status changed.
 */
export function statusUpsertSql(values: string): string {
  return `INSERT INTO message_user_status AS s (message_id, user_id, status, timestamp, error_code, error_title)
    ${values}
    ON CONFLICT (message_id, user_id) DO UPDATE
      SET status = EXCLUDED.status, timestamp = EXCLUDED.timestamp,
          error_code = EXCLUDED.error_code, error_title = EXCLUDED.error_title
      WHERE ${ALLOWED_SQL}
    RETURNING s.message_id`;
}

/** The transition table as SQL over the existing row (`s`) and the incoming one (`EXCLUDED`). */
const ALLOWED_SQL = `CASE s.status ${Object.entries(STATUS_TRANSITIONS)
  .map(
    ([from, to]) =>
      `WHEN '${from.toLowerCase()}' THEN ${to.length > 0 ? `EXCLUDED.status IN (${to.map((status) => `'${status.toLowerCase()}'`).join(', ')})` : 'false'}`,
  )
  .join(' ')} ELSE false END`;
