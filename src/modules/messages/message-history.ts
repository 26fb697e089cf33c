import type pg from 'pg';
import { type SequenceCursors, wholeUpTo } from './sequence-cursor.js';
import { MESSAGE_COLUMNS, type MessageRecord } from './message-record.js';

/**
 * A channel's messages, or a thread's replies, of those the viewer may see (`visible`: a SQL condition on the
 * messages row `m`, from messageVisibleSql).
 */
export type HistoryScope = ({ channelId: string } | { threadId: string }) & { visible: string };

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
 * Chronological pages by the sequence number of each message's creation (`created_seq`). A message can only
 * commit in that order (see MessageWriter), so a page that starts after a cursor (a point in the organization's
 * sequence) is exactly what was created after it, whatever was being sent while the client was away. Without
 * first/last, the newest page (chat clients open at the bottom).
 */
export async function readPage(
  db: pg.Pool,
  cursors: Pick<SequenceCursors, 'issued'>,
  organizationId: string,
  scope: HistoryScope,
  request: PageRequest,
  defaultSize: number,
): Promise<Page> {
  const [after, before] = await Promise.all([
    request.after ? cursors.issued(db, organizationId, request.after, 'after') : undefined,
    request.before ? cursors.issued(db, organizationId, request.before, 'before') : undefined,
  ]);
  const backwards = request.last != null || (request.first == null && request.after == null);
  const size = (backwards ? request.last : request.first) ?? defaultSize;

  const params: unknown[] = ['channelId' in scope ? scope.channelId : scope.threadId];
  // A channel shows its deleted messages as tombstones; a thread leaves its deleted replies out (its
  // `replyCount` counts what it shows).
  const conditions = [
    'channelId' in scope ? 'm.channel_id = $1' : 'm.thread_id = $1 AND m.deleted_at IS NULL',
    scope.visible,
  ];
  if (after) {
    params.push(wholeUpTo(after).toString());
    conditions.push(`m.created_seq > $${params.length}::bigint`);
  }
  if (before) {
    params.push(before.seq.toString());
    conditions.push(`m.created_seq < $${params.length}::bigint`);
  }
  const direction = backwards ? 'DESC' : 'ASC';
  params.push(size + 1);
  const { rows } = await db.query<MessageRecord>(
    `SELECT ${MESSAGE_COLUMNS} FROM messages m WHERE ${conditions.join(' AND ')}
     ORDER BY m.created_seq ${direction} LIMIT $${params.length}`,
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
