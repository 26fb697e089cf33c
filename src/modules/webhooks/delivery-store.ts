import type pg from 'pg';
import type { PlatformSender } from '../client-links/links.service.js';
import type { DeliveryOutcome } from './delivery-outcome.js';

/** A stored delivery as the processor claims it. */
export interface DeliveryRow {
  id: string;
  organization_id: string;
  platform_integration_id: string;
  platform: 'whatsapp' | 'instagram';
  platform_account_id: string | null;
  raw_body: string;
}

/**
 * Locks the deliveries for this run, in arrival order: new ones only while RECEIVED and free (another
 * instance's are skipped), a replay waiting for its turn.
 */
export async function claimDeliveries(client: pg.PoolClient, ids: string[], replay: boolean): Promise<DeliveryRow[]> {
  if (replay) await client.query(`SET LOCAL lock_timeout = '10s'`);
  const { rows } = await client.query<DeliveryRow>(
    `SELECT d.id, d.organization_id, d.platform_integration_id, d.platform::text AS platform, d.raw_body,
            i.platform_account_id
     FROM webhook_deliveries d JOIN platform_integrations i ON i.id = d.platform_integration_id
     WHERE d.id = ANY($1::uuid[]) ${replay ? '' : `AND d.status = 'received'`}
     ORDER BY d.received_at, d.id
     FOR UPDATE OF d ${replay ? '' : 'SKIP LOCKED'}`,
    [ids],
  );
  return rows;
}

/** RECEIVED deliveries older than `staleAfterMs`: no instance is about to process them (a crash, a stop). */
export async function staleDeliveries(
  pool: pg.Pool,
  staleAfterMs: number,
  limit: number,
): Promise<{ id: string; platform_integration_id: string }[]> {
  const { rows } = await pool.query<{ id: string; platform_integration_id: string }>(
    `SELECT id, platform_integration_id FROM webhook_deliveries
     WHERE status = 'received' AND received_at < now() - $1::int * interval '1 millisecond'
     ORDER BY received_at LIMIT $2`,
    [staleAfterMs, limit],
  );
  return rows;
}

/** Stores each delivery's outcome (in the transaction that claimed them). */
export async function recordOutcomes(
  client: pg.PoolClient,
  results: { delivery: DeliveryRow; outcome: DeliveryOutcome }[],
): Promise<void> {
  await client.query(
    `UPDATE webhook_deliveries d
     SET status = r.status::webhook_delivery_status, errors = r.errors, attempts = d.attempts + 1, processed_at = now()
     FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS r(id, status, errors)
     WHERE d.id = r.id`,
    [
      results.map(({ delivery }) => delivery.id),
      results.map(({ outcome }) => outcome.status.toLowerCase()),
      results.map(({ outcome }) => (outcome.errors.length > 0 ? JSON.stringify(outcome.errors) : null)),
    ],
  );
}

/**
 * The organization's recent FAILED deliveries that failed only because one of `customers` was not linked yet
 * (their errors name the sender), other than `except`.
 */
export async function unroutableDeliveriesOf(
  pool: pg.Pool,
  organizationId: string,
  except: string,
  customers: PlatformSender[],
  window: { days: number; limit: number },
): Promise<{ id: string; platform_integration_id: string }[]> {
  const patterns = customers.flatMap((customer) =>
    (['platformUserId', 'scopedUserId'] as const)
      .filter((key) => customer[key])
      .map((key) => JSON.stringify([{ kind: 'unroutable', customer: { [key]: customer[key] } }])),
  );
  const { rows } = await pool.query<{ id: string; platform_integration_id: string }>(
    `SELECT id, platform_integration_id FROM webhook_deliveries
     WHERE organization_id = $1 AND status = 'failed' AND id <> $2
       AND received_at > now() - $3::int * interval '1 day'
       AND errors @> ANY ($4::jsonb[])
     ORDER BY received_at LIMIT $5`,
    [organizationId, except, window.days, patterns, window.limit],
  );
  return rows;
}
