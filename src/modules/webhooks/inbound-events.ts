import type { MessageStatus, MessageType } from '../../generated/prisma/enums.js';
import type { PlatformSender } from '../client-links/links.service.js';

// What a webhook delivery means, independent of which platform sent it. The parsers turn Meta's payloads into
// these; the processor routes them and hands them to the messaging module.

/** The customer an event is about: the sender of what they wrote, the recipient of an echo of our own send. */
export interface Customer extends PlatformSender {
  /** The profile name Meta reports (WhatsApp `contacts[].profile.name`). */
  name: string | null;
  /** A WhatsApp username, for users who adopted one. */
  username: string | null;
}

/** Meta's reason for a failure (WhatsApp `errors[]`, Graph API error bodies). */
export interface PlatformError {
  code: string;
  title: string;
  message: string | null;
  details: string | null;
}

/** A JSON object (message metadata as stored in `messages.metadata`). */
export type JsonObject = { [key: string]: JsonValue };
export type JsonValue = string | number | boolean | null | JsonValue[] | JsonObject;

interface EventBase {
  /** Where in the delivery the event was found, e.g. `entry[0].changes[1].value.messages[2]`. */
  path: string;
  /** The business account addressed: WhatsApp's phone_number_id, the Instagram account id. */
  businessAccountId: string | null;
  /** Meta's time for the event. */
  timestamp: Date;
}

/** Something the customer wrote or sent. */
export interface InboundMessage extends EventBase {
  kind: 'message';
  customer: Customer;
  externalMessageId: string;
  messageType: MessageType;
  /** Text, a caption, or the title of a chosen button; null for bare media and unsupported messages. */
  content: string | null;
  /**
   * `platformType` (Meta's type) always; then as applicable `mediaId`, `mimeType`, `sha256`, `caption`,
   * `filename`, `url`, `voice`, `forwarded`, `interactive`, `button`, `location`, `contacts`, `attachments`,
   * and `unsupported: true` with Meta's `errors` for what the platform could not describe.
   */
  metadata: JsonObject;
  /** The message it replies to (WhatsApp `context.id`, Instagram `reply_to.mid`). */
  replyToExternalId: string | null;
}

export interface InboundReaction extends EventBase {
  kind: 'reaction';
  customer: Customer;
  /** WhatsApp gives a reaction a message id of its own; Instagram does not. */
  externalMessageId: string | null;
  targetExternalId: string;
  /** null: the customer took their reaction back. */
  emoji: string | null;
}

/** What happened to a message we sent (WhatsApp statuses). */
export interface InboundStatus extends EventBase {
  kind: 'status';
  externalMessageId: string;
  /** The customer's wa_id (or business-scoped id) the message went to. */
  recipientId: string | null;
  status: MessageStatus;
  /** Meta's word for it: `played` (a voice note) is READ here. */
  platformStatus: string;
  error: PlatformError | null;
}

/** The customer changed what a message of theirs says (WhatsApp `edit`). */
export interface InboundEdit extends EventBase {
  kind: 'edit';
  customer: Customer;
  targetExternalId: string;
  /** The message as it reads now: its text or caption, type and details, like an InboundMessage's. */
  messageType: MessageType;
  content: string | null;
  metadata: JsonObject;
}

/** The customer's WhatsApp number changed (`system` `user_changed_number`): their link follows it. */
export interface InboundNumberChange extends EventBase {
  kind: 'number-change';
  customer: Customer;
  newPlatformUserId: string;
}

/** Meta's errors about a change as a whole (`value.errors`), kept with the delivery for admins. */
export interface InboundPlatformErrors extends EventBase {
  kind: 'platform-errors';
  errors: PlatformError[];
}

/** The customer unsent a message (Instagram `is_deleted`, WhatsApp `revoke`). */
export interface InboundDeletion extends EventBase {
  kind: 'deletion';
  customer: Customer;
  targetExternalId: string;
}

/** The customer saw a message (Instagram `read.mid`). */
export interface InboundSeen extends EventBase {
  kind: 'seen';
  customer: Customer;
  targetExternalId: string;
}

/** A message the business account sent, coming back (Instagram `is_echo`): ours, or sent from another app. */
export interface InboundEcho extends EventBase {
  kind: 'echo';
  customer: Customer;
  externalMessageId: string;
  messageType: MessageType;
  content: string | null;
  metadata: JsonObject;
}

/** Meta changed the status of one of the business account's templates (`message_template_status_update`). */
export interface InboundTemplateStatus extends EventBase {
  kind: 'template-status';
  templateId: string | null;
  name: string | null;
  language: string | null;
  /** Meta's event: APPROVED, REJECTED, PAUSED, DISABLED, ... */
  status: string;
  /** Meta's reason (null for its "NONE"). */
  reason: string | null;
}

export type InboundEvent =
  | InboundMessage
  | InboundReaction
  | InboundStatus
  | InboundDeletion
  | InboundSeen
  | InboundEcho
  | InboundTemplateStatus
  | InboundEdit
  | InboundNumberChange
  | InboundPlatformErrors;

/** Part of a delivery that could not be understood; the rest is still processed. */
export interface ParseProblem {
  path: string;
  reason: string;
}

export interface ParsedDelivery {
  events: InboundEvent[];
  problems: ParseProblem[];
}
