import type { PoolClient } from 'pg';
import type { IntegrationHealth } from '../../generated/prisma/enums.js';
import type { SendError } from './graph-api.js';

// `PlatformIntegration.health`, from Meta's answers to sends. An expired or revoked token (Graph OAuthException
// 190 with any of its subcodes, 102 session errors, or an HTTP 401) sets TOKEN_INVALID at once: the outbox then
// claims none of the integration's rows until a token update sets OK again. Failures in a row set FAILING; a
// successful send sets OK. What Meta says about one recipient (the pair rate limit) or what never reached Meta
// (an unsendable message, a deleted one) says nothing about the integration.

/** After this many failed sends in a row, an integration is FAILING. */
export const FAILING_AFTER = 5;

const TOKEN_CODES = new Set(['190', '102']);

export const meansTokenInvalid = (error: SendError): boolean => TOKEN_CODES.has(error.code) || error.httpStatus === 401;

/** WhatsApp's per-recipient pair rate limit (131056): the same customer, too many messages too fast. */
export const meansPairLimited = (error: SendError): boolean => error.code === '131056';

/** An integration's health as it changed. */
export interface HealthChange {
  integrationId: string;
  status: IntegrationHealth;
  previous: IntegrationHealth;
  lastError: string | null;
  checkedAt: Date;
}

/** What one send's outcome says about its integration. */
export interface HealthSignal {
  kind: 'ok' | 'token-invalid' | 'failure';
  /** Meta's refusal (null for a success). */
  error: SendError | null;
}

/**
 * Records what a send's outcome says about its integration, in the caller's transaction; returns the change
 * when the status moved (to announce to admins after the commit). A success writes only when there is
 * something to clear, so the common case costs nothing.
 */
export async function recordHealth(
  client: Pick<PoolClient, 'query'>,
  integrationId: string,
  signal: HealthSignal,
): Promise<HealthChange | null> {
  const { rows } = await client.query<{ status: string; previous: string; lastError: string | null; checkedAt: Date }>(
    `WITH before AS (
       SELECT health_status FROM platform_integrations WHERE id = $1 FOR UPDATE
     )
     UPDATE platform_integrations i SET
       consecutive_failures = CASE $2 WHEN 'failure' THEN i.consecutive_failures + 1 ELSE 0 END,
       health_status = CASE $2
         WHEN 'ok' THEN 'ok'::integration_health
         WHEN 'token-invalid' THEN 'token_invalid'::integration_health
         ELSE CASE WHEN i.health_status = 'ok' AND i.consecutive_failures + 1 >= $4 THEN 'failing'::integration_health
                   ELSE i.health_status END
       END,
       health_error = $3,
       health_checked_at = now()
     FROM before
     WHERE i.id = $1 AND ($2 <> 'ok' OR i.health_status <> 'ok' OR i.consecutive_failures > 0)
     RETURNING upper(i.health_status::text) AS status, upper(before.health_status::text) AS previous,
               i.health_error AS "lastError", i.health_checked_at AS "checkedAt"`,
    [integrationId, signal.kind, signal.error ? describe(signal.error) : null, FAILING_AFTER],
  );
  const row = rows[0];
  if (!row || row.status === row.previous) return null;
  return {
    integrationId,
    status: row.status as IntegrationHealth,
    previous: row.previous as IntegrationHealth,
    lastError: row.lastError,
    checkedAt: row.checkedAt,
  };
}

const describe = (error: SendError) => `${error.code}: ${error.title}`;
