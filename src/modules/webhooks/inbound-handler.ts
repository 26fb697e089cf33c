import type { Platform } from '../../generated/prisma/enums.js';
import type {
  InboundDeletion,
  InboundEcho,
  InboundEdit,
  InboundNumberChange,
  InboundMessage,
  InboundReaction,
  InboundSeen,
  InboundStatus,
  InboundTemplateStatus,
} from './inbound-events.js';

// The seam between webhook ingestion and messaging. The processor parses a delivery, routes each event
// (link -> client -> assigned channel; our own message for statuses) and hands it to an InboundEventHandler,
// which the messaging module implements: it creates the message, reaction or status and publishes the same
// realtime events as in-app changes.
//
// Contract for implementations:
// - Idempotent: a delivery can be replayed, and Meta delivers the same event more than once, even
//   concurrently. Messages are unique on (platform_integration_id, external_message_id).
// - Throwing marks the event failed (the delivery becomes FAILED with the reason, and can be replayed);
//   everything else in the delivery is still processed.
// - Events are handed over in the order Meta listed them (deliveries in the order they arrived), so a reaction
//   to a message earlier in the same delivery finds it; consecutive messages come as one run.

/** The integration an event came through (for WhatsApp, the one owning the change's phone_number_id). */
export interface RoutedIntegration {
  id: string;
  organizationId: string;
  platform: Platform;
}

/** An event from a customer, routed to the client user they are verified as and the channel they are in. */
export interface RoutedCustomerEvent<E> {
  event: E;
  integration: RoutedIntegration;
  deliveryId: string;
  /** The verified client_platform_links row the customer wrote from. */
  linkId: string;
  clientUserId: string;
  channelId: string;
}

export interface RoutedMessage extends RoutedCustomerEvent<InboundMessage> {
  /** Our messages.id for `event.replyToExternalId`, when that message is known. */
  replyToMessageId: string | null;
  /** The webhook request that brought it (not known to a replay or a sweep), for the delivery log. */
  requestId?: string;
}

export interface RoutedReaction extends RoutedCustomerEvent<InboundReaction> {
  /** Our messages.id for `event.targetExternalId` (reactions to unknown messages never reach the handler). */
  targetMessageId: string;
}

export interface RoutedDeletion extends RoutedCustomerEvent<InboundDeletion> {
  targetMessageId: string;
}

export interface RoutedSeen extends RoutedCustomerEvent<InboundSeen> {
  targetMessageId: string;
}

export type RoutedEdit = RoutedCustomerEvent<InboundEdit>;
export type RoutedNumberChange = RoutedCustomerEvent<InboundNumberChange>;

/** A message the business account sent from outside this server (echoes of our own sends never get here). */
export type RoutedEcho = RoutedCustomerEvent<InboundEcho>;

/** A status of one of our sends, resolved through the outbox row that sent it. */
export interface RoutedStatus {
  event: InboundStatus;
  integration: RoutedIntegration;
  deliveryId: string;
  messageId: string;
  outboundMessageId: string;
  /** The client whose message_user_status the status is. */
  clientUserId: string;
}

/** A template status of the integration's business account (no customer: nothing to route). */
export interface RoutedTemplateStatus {
  event: InboundTemplateStatus;
  integration: RoutedIntegration;
  deliveryId: string;
}

export interface InboundEventHandler {
  /**
   * A run of consecutive customer messages, in Meta's order: stored together (one write for the run) and in
   * that order. Resolves with each message's error, or null when it is stored (now or before).
   */
  messages(run: RoutedMessage[]): Promise<(Error | null)[]>;
  reaction(routed: RoutedReaction): Promise<void>;
  status(routed: RoutedStatus): Promise<void>;
  deletion(routed: RoutedDeletion): Promise<void>;
  seen(routed: RoutedSeen): Promise<void>;
  echo(routed: RoutedEcho): Promise<void>;
  templateStatus(routed: RoutedTemplateStatus): Promise<void>;
  /** The customer edited a message: it changes and is marked edited (stored as edited if it never arrived). */
  edit(routed: RoutedEdit): Promise<void>;
  /** The customer's number changed: their link follows it, the old number stops routing. */
  numberChange(routed: RoutedNumberChange): Promise<void>;
}
