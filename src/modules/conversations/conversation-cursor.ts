import { z } from 'zod';

// An inbox position: the conversation's latest activity in microseconds (JavaScript dates stop at
// milliseconds, and many conversations share one) and its channel id, which breaks ties.

export interface ConversationCursor {
  activityUs: string;
  channelId: string;
}

const CURSOR = /^(\d{1,20}):([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export const encodeConversationCursor = (cursor: ConversationCursor): string =>
  Buffer.from(`${cursor.activityUs}:${cursor.channelId}`).toString('base64url');

export function decodeConversationCursor(value: string): ConversationCursor | null {
  if (value.length > 100) return null;
  const match = CURSOR.exec(Buffer.from(value, 'base64url').toString());
  return match ? { activityUs: match[1]!, channelId: match[2]! } : null;
}

/** The shape check of the `after` argument. */
export const conversationCursorSchema = z
  .string()
  .refine((value) => decodeConversationCursor(value) !== null, { error: 'is not a cursor this server issued' });
