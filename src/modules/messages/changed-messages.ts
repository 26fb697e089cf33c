import type pg from 'pg';
import type { MessageChangeKind } from '../events/organization-events.js';
import { MESSAGE_COLUMNS, type MessageRecord } from './message-record.js';

/** The kind of change a message row's latest sequence number stands for. */
export function kindOfRow(row: MessageRecord): MessageChangeKind {
  if (row.deletedAt) return 'DELETED';
  return row.eventSeq === row.createdSeq ? 'CREATED' : 'UPDATED';
}

/**
 * The messages of an organization whose latest change is numbered in (after, upTo] (no bound: up to now),
 * optionally in some channels only, in sequence order (see readChanges in the events module).
 */
export async function readChangedMessages(
  pool: pg.Pool,
  organizationId: string,
  range: { after: bigint; upTo?: bigint; channelIds?: string[] | null; limit: number },
): Promise<MessageRecord[]> {
  const { rows } = await pool.query<MessageRecord>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m
     WHERE m.organization_id = $1 AND m.event_seq > $2 AND ($3::bigint IS NULL OR m.event_seq <= $3)
       AND ($4::uuid[] IS NULL OR m.channel_id = ANY($4::uuid[]))
     ORDER BY m.event_seq LIMIT $5`,
    [organizationId, range.after.toString(), range.upTo?.toString() ?? null, range.channelIds ?? null, range.limit],
  );
  return rows;
}
