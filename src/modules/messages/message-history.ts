import type pg from 'pg';
import { type HistoryScope, issuedCursor, type MessageCursor } from './message-cursor.js';
import { MESSAGE_COLUMNS, type MessageRecord } from './message-record.js';

export interface PageRequest {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
}

export interface Page {
  messages: MessageRecord[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
}

/**
 * Chronological pages by (created_at, id). Creation times are strictly increasing per organization and a
 * message can only commit in that order (see MessageWriter), so a page that starts after a cursor is
 * exactly what arrived after it, whatever was being sent while the client was away. Without first/last,
 * the newest page (chat clients open at the bottom).
 */
export async function readPage(
  db: pg.Pool,
  organizationId: string,
  scope: HistoryScope,
  request: PageRequest,
  defaultSize: number,
): Promise<Page> {
  const [after, before] = await Promise.all([
    request.after ? issuedCursor(db, organizationId, request.after, 'after', scope) : undefined,
    request.before ? issuedCursor(db, organizationId, request.before, 'before', scope) : undefined,
  ]);
  const backwards = request.last != null || (request.first == null && request.after == null);
  const size = (backwards ? request.last : request.first) ?? defaultSize;

  const params: unknown[] = ['channelId' in scope ? scope.channelId : scope.threadId];
  // A channel shows its deleted messages as tombstones; a thread leaves its deleted replies out (its
  // `replyCount` counts what it shows).
  const conditions = ['channelId' in scope ? 'm.channel_id = $1' : 'm.thread_id = $1 AND m.deleted_at IS NULL'];
  const bound = (cursor: MessageCursor, operator: '>' | '<') => {
    params.push(cursor.createdAtUs.toString(), cursor.id);
    // Integer microseconds added to the epoch: exact, where a float conversion could be off by one.
    const at = `(timestamptz 'epoch' + $${params.length - 1}::bigint * interval '1 microsecond')`;
    conditions.push(`(m.created_at, m.id) ${operator} (${at}, $${params.length}::uuid)`);
  };
  if (after) bound(after, '>');
  if (before) bound(before, '<');
  const direction = backwards ? 'DESC' : 'ASC';
  params.push(size + 1);
  const { rows } = await db.query<MessageRecord>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE ${conditions.join(' AND ')}
     ORDER BY m.created_at ${direction}, m.id ${direction} LIMIT $${params.length}`,
    params,
  );
  const hasMore = rows.length > size;
  const messages = rows.slice(0, size);
  if (backwards) messages.reverse();
  return {
    messages,
    hasNextPage: backwards ? Boolean(before) : hasMore,
    hasPreviousPage: backwards ? hasMore : Boolean(after),
  };
}
