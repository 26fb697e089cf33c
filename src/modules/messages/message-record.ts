import type { MessageSource, MessageType } from '../../generated/prisma/enums.js';
import { badInput } from '../../lib/errors.js';

/**
 * A message as the messaging module reads and writes it: the `messages` row plus `createdAtUs`, its creation
 * time in microseconds. JavaScript dates stop at milliseconds while many messages share a millisecond, and
 * cursors must order them exactly, so the microseconds travel as a decimal string (as do the bigint
 * sequence numbers).
 */
export interface MessageRecord {
  id: string;
  organizationId: string;
  channelId: string;
  userId: string;
  content: string | null;
  messageType: MessageType;
  metadata: unknown;
  threadId: string | null;
  platformIntegrationId: string | null;
  externalMessageId: string | null;
  messageSource: MessageSource;
  createdAt: Date;
  updatedAt: Date;
  editedAt: Date | null;
  deletedAt: Date | null;
  /** An internal note: staff only (see canSeeMessage), never sent to a platform. */
  internal: boolean;
  createdAtUs: string;
  eventSeq: string;
  createdSeq: string;
}

/**
 * The select list that produces a MessageRecord from the `messages` table aliased `m` (in SELECT, and in
 * RETURNING of `INSERT INTO messages AS m` / `UPDATE messages m`).
 */
export const MESSAGE_COLUMNS = `
  m.id, m.organization_id AS "organizationId", m.channel_id AS "channelId", m.user_id AS "userId", m.content,
  upper(m.message_type::text) AS "messageType", m.metadata, m.thread_id AS "threadId",
  m.platform_integration_id AS "platformIntegrationId", m.external_message_id AS "externalMessageId",
  upper(m.message_source::text) AS "messageSource", m.created_at AS "createdAt", m.updated_at AS "updatedAt",
  m.edited_at AS "editedAt", m.deleted_at AS "deletedAt", m.internal,
  (extract(epoch FROM m.created_at) * 1000000)::bigint::text AS "createdAtUs",
  m.event_seq::text AS "eventSeq", m.created_seq::text AS "createdSeq"`;

/** A MessageRecord as JSON for the event bus: dates as ISO strings. */
export type MessageWire = Omit<MessageRecord, 'createdAt' | 'updatedAt' | 'editedAt' | 'deletedAt'> & {
  createdAt: string;
  updatedAt: string;
  editedAt: string | null;
  deletedAt: string | null;
};

export const toWire = (message: MessageRecord): MessageWire => ({
  ...message,
  createdAt: message.createdAt.toISOString(),
  updatedAt: message.updatedAt.toISOString(),
  editedAt: message.editedAt?.toISOString() ?? null,
  deletedAt: message.deletedAt?.toISOString() ?? null,
});

export const fromWire = (wire: MessageWire): MessageRecord => ({
  ...wire,
  createdAt: new Date(wire.createdAt),
  updatedAt: new Date(wire.updatedAt),
  editedAt: wire.editedAt ? new Date(wire.editedAt) : null,
  deletedAt: wire.deletedAt ? new Date(wire.deletedAt) : null,
});

/**
 * Whether a message takes replies and reactions. A deleted message takes neither, from the app or from a
 * platform: what it said is gone, and a thread or a reaction would hang off a tombstone.
 */
export const acceptsResponses = (message: Pick<MessageRecord, 'deletedAt'>) => message.deletedAt === null;

/** How the app refuses a reply or a reaction to a message that does not take them, naming the argument. */
export const refusedResponse = (field: string) => badInput(field, 'the message was deleted');
