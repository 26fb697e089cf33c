import type pg from 'pg';
import { z } from 'zod';
import { badInput } from '../../lib/errors.js';
import { NOT_ISSUED } from '../../schema/pagination.js';
import type { MessageRecord } from './message-record.js';

/**
 * One cursor for history pages and for realtime events. It names a message's place in its channel's history
 * (creation time in microseconds, then id: the keyset `messages` pages by) and the organization sequence
 * number up to which the client has seen everything (`seq`): a subscription given this cursor replays every
 * message whose latest change is after `seq`. Opaque to clients; versioned so its format can change.
 */
export interface MessageCursor {
  seq: bigint;
  createdAtUs: bigint;
  id: string;
}

/** A channel's messages, or a thread's replies: the lists a history cursor belongs to. */
export type HistoryScope = { channelId: string } | { threadId: string };

const PREFIX = 'm1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** Sequence numbers are PostgreSQL bigints. */
const MAX_SEQ = 2n ** 63n - 1n;
/** Creation times are from the epoch to the end of year 9999, in microseconds. */
const END_OF_TIME_US = 253_402_300_800_000_000n;

export function encodeCursor(cursor: MessageCursor): string {
  return Buffer.from(`${PREFIX}:${cursor.seq}:${cursor.createdAtUs}:${cursor.id}`).toString('base64url');
}

/**
 * The cursor a string encodes, or undefined unless it is exactly what `encodeCursor` writes (base64url without
 * padding or stray characters) with values that fit the database's types.
 */
export function decodeCursor(value: string): MessageCursor | undefined {
  if (value.length > 200) return undefined;
  const [prefix, seq, createdAtUs, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split(':');
  if (prefix !== PREFIX || rest.length > 0 || !seq || !createdAtUs || !id) return undefined;
  if (!/^(0|[1-9]\d{0,18})$/.test(seq) || !/^(0|[1-9]\d{0,17})$/.test(createdAtUs) || !UUID.test(id)) return undefined;
  const cursor = { seq: BigInt(seq), createdAtUs: BigInt(createdAtUs), id };
  if (cursor.seq > MAX_SEQ || cursor.createdAtUs >= END_OF_TIME_US) return undefined;
  return encodeCursor(cursor) === value ? cursor : undefined;
}

/** The cursor of a message in a history page: the client has everything up to its creation. */
export const cursorOfMessage = (message: MessageRecord) =>
  encodeCursor({ seq: BigInt(message.createdSeq), createdAtUs: BigInt(message.createdAtUs), id: message.id });

/** The cursor of an event: the client has seen every change up to this event's sequence number. */
export const cursorOfEvent = (message: MessageRecord, seq: string) =>
  encodeCursor({ seq: BigInt(seq), createdAtUs: BigInt(message.createdAtUs), id: message.id });

/** For input validation: a cursor in the format this server issues (`issuedCursor` checks the rest). */
export const messageCursorSchema = z.string().refine((value) => decodeCursor(value) !== undefined, {
  error: NOT_ISSUED,
});

/**
 * The cursor a client sent back, when this server issued it: well-formed, and naming a message of the
 * viewer's organization (and of the page's channel or thread, for a history page) with that creation time,
 * and a sequence number between the message's creation and its latest change, as every cursor of that
 * message was. Anything else, a resume cursor ahead of the organization's sequence included, is
 * BAD_USER_INPUT naming the argument: a client told to retry would retry forever.
 */
export async function issuedCursor(
  db: pg.Pool,
  organizationId: string,
  value: string,
  field: string,
  scope?: HistoryScope,
): Promise<MessageCursor> {
  const cursor = decodeCursor(value);
  if (!cursor) throw badInput(field, NOT_ISSUED);
  const { rows } = await db.query<{
    channelId: string;
    threadId: string | null;
    createdAtUs: string;
    createdSeq: string;
    eventSeq: string;
  }>(
    `SELECT m.channel_id AS "channelId", m.thread_id AS "threadId",
       (extract(epoch FROM m.created_at) * 1000000)::bigint::text AS "createdAtUs",
       m.created_seq::text AS "createdSeq", m.event_seq::text AS "eventSeq"
     FROM messages m WHERE m.id = $1 AND m.organization_id = $2`,
    [cursor.id, organizationId],
  );
  const message = rows[0];
  const issued =
    message !== undefined &&
    BigInt(message.createdAtUs) === cursor.createdAtUs &&
    BigInt(message.createdSeq) <= cursor.seq &&
    cursor.seq <= BigInt(message.eventSeq) &&
    (scope === undefined ||
      ('channelId' in scope ? message.channelId === scope.channelId : message.threadId === scope.threadId));
  if (!issued) throw badInput(field, NOT_ISSUED);
  return cursor;
}
