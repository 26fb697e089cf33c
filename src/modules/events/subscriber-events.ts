import type { MessageStatus } from '../../generated/prisma/enums.js';
import type { MessageRecord } from '../messages/message-record.js';
import type { IntegrationHealthChange, MessageChangeKind, Presence, ReactionChange } from './organization-events.js';

// What a subscriber receives: the GraphQL members of the ViewerEvent union, as their resolvers read them. Each
// event of the organization's sequence carries a cursor (resume after it); typing and presence do not.

export interface MessageEvent {
  type: 'message';
  kind: MessageChangeKind;
  message: MessageRecord;
  cursor: string;
}

export type ReactionEvent = Omit<ReactionChange, 'seq'> & { cursor: string };

/** One message's status for one recipient (a change covering many messages reaches a subscriber as one each). */
export interface MessageStatusEvent {
  type: 'status';
  channelId: string;
  messageId: string;
  userId: string;
  status: MessageStatus;
  timestamp: Date;
  cursor: string;
}

export type ChannelEventKind = 'ADDED' | 'UPDATED' | 'REMOVED';

/** The viewer gained a channel, saw it change (name, description, members, conversation), or lost it. */
export interface ChannelEvent {
  type: 'channel';
  kind: ChannelEventKind;
  channelId: string;
  cursor: string;
}

export interface TypingEvent {
  type: 'typing';
  channelId: string;
  userId: string;
  typing: boolean;
}

export interface PresenceEvent {
  type: 'presence';
  userId: string;
  presence: Presence;
  lastSeenAt: Date | null;
}

/** An integration's health changed (admins only; never replayed). */
export type IntegrationHealthEvent = IntegrationHealthChange;

export type ViewerEvent =
  | MessageEvent
  | ReactionEvent
  | MessageStatusEvent
  | ChannelEvent
  | TypingEvent
  | PresenceEvent
  | IntegrationHealthEvent;
