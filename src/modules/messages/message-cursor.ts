import { z } from 'zod';
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

const PREFIX = 'm1';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function encodeCursor(cursor: MessageCursor): string {
  return Buffer.from(`${PREFIX}:${cursor.seq}:${cursor.createdAtUs}:${cursor.id}`).toString('base64url');
}

export function decodeCursor(value: string): MessageCursor | undefined {
  if (value.length > 200) return undefined;
  const [prefix, seq, createdAtUs, id, ...rest] = Buffer.from(value, 'base64url').toString('utf8').split(':');
  if (prefix !== PREFIX || rest.length > 0 || !seq || !createdAtUs || !id) return undefined;
  if (!/^\d{1,19}$/.test(seq) || !/^-?\d{1,19}$/.test(createdAtUs) || !UUID.test(id)) return undefined;
  return { seq: BigInt(seq), createdAtUs: BigInt(createdAtUs), id };
}

/** The cursor of a message in a history page: the client has everything up to its creation. */
export const cursorOfMessage = (message: MessageRecord) =>
  encodeCursor({ seq: BigInt(message.createdSeq), createdAtUs: BigInt(message.createdAtUs), id: message.id });

/** The cursor of an event: the client has seen every change up to this event's sequence number. */
export const cursorOfEvent = (message: MessageRecord, seq: string) =>
  encodeCursor({ seq: BigInt(seq), createdAtUs: BigInt(message.createdAtUs), id: message.id });

/** For input validation: a cursor this server issued. */
export const messageCursorSchema = z.string().refine((value) => decodeCursor(value) !== undefined, {
  error: 'is not a cursor this server issued',
});
