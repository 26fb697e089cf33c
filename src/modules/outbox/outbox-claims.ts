import type pg from 'pg';

/** An outbound_messages row claimed for one attempt, with what sending it needs. */
export interface ClaimedSend {
  id: string;
  /** This claim's attempt number (tries Meta was asked, this one included, at most). */
  attempts: number;
  /**
   * This claim's fencing token: recording the outcome requires that the row still has it. Not `attempts`, which an
   * uncounted try gives back, so that an older claim's number would match again.
   */
  claim_token: number;
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

/**
 * Claims up to `limit` due rows for `leaseMs`: FOR UPDATE SKIP LOCKED, so instances never claim the same row at
 * once, and a lease (locked_until), so a row whose worker died is claimed again when it expires. Each claim
 * counts as an attempt (a try that does not reach Meta gives it back when recorded) and takes the next claim
 * token. Rows of an integration whose token is invalid (see integration-health.ts) wait.
 *
 * A recipient (client_platform_link) receives in the order staff wrote: only its oldest pending row (by its
 * message's created_seq, copied to message_seq) may be claimed, whether that row is due, waiting (pacing, pair
 * limit, backoff) or in flight, so every instance together has at most one send per recipient under way. The
 * writer commits messages in created_seq order, so no earlier row can appear after a later one was claimed.
 */
export async function claimDueSends(
  db: pg.Pool | pg.ClientBase,
  limit: number,
  leaseMs: number,
): Promise<ClaimedSend[]> {
  const { rows } = await db.query<ClaimedSend>(
    `WITH due AS (
         -- Due rows in the order they fell due (outbound_messages_due_idx: no sort), each taken only if it is its
         -- recipient's oldest pending row (the first entry of its range in outbound_messages_pending_link_idx);
         -- the walk stops at the limit. "No later than the oldest" is "the oldest", said so that the planner
         -- expects many rows to pass and walks the index rather than sorting every due row. An integration's
         -- health is a subquery, not a join, for the same reason. The conditions are checked again on each row as
         -- it is locked: another instance may have claimed it since this one looked.
         SELECT d.id FROM outbound_messages d
         WHERE d.status = 'pending' AND d.next_attempt_at <= now()
           AND (d.locked_until IS NULL OR d.locked_until < now())
           -- An integration whose token Meta refused is not asked again until the token is updated.
           AND d.platform_integration_id <> ALL (SELECT hi.id FROM platform_integrations hi
                                                 WHERE hi.health_status = 'token_invalid')
           AND d.message_seq <= (SELECT min(earlier.message_seq) FROM outbound_messages earlier
                                 WHERE earlier.client_platform_link_id = d.client_platform_link_id
                                   AND earlier.status = 'pending')
         ORDER BY d.next_attempt_at, d.id
         LIMIT $1
         FOR UPDATE SKIP LOCKED
       ), claimed AS (
         UPDATE outbound_messages o
         SET locked_until = now() + $2::int * interval '1 millisecond', attempts = o.attempts + 1,
             claim_token = o.claim_token + 1, updated_at = now()
         FROM due WHERE o.id = due.id
         RETURNING o.*
       )
       SELECT o.id, o.attempts, o.claim_token, o.organization_id, o.message_id, o.platform_integration_id,
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
    [limit, leaseMs],
  );
  return rows;
}
