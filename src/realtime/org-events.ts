import type { ChannelType, MessageStatus } from '../generated/prisma/enums.js';
import type { MessageWire } from '../modules/messages/message-record.js';

// What travels on an organization's topic. Message events carry the organization sequence number that
// orders them (and everything a subscriber needs, so fan-out reads nothing per subscriber); the others are
// notifications about current state and need no ordering.

export type MessageEventKind = 'CREATED' | 'UPDATED' | 'DELETED';

export interface MessageBusEvent {
  type: 'message';
  kind: MessageEventKind;
  seq: string;
  message: MessageWire;
  /** The request that made the change, named in the delivery's log line. */
  requestId?: string;
}

export interface ReactionBusEvent {
  type: 'reaction';
  kind: 'ADDED' | 'REMOVED';
  channelId: string;
  messageId: string;
  emoji: string;
  userId: string;
  at: string;
}

export interface StatusBusEvent {
  type: 'status';
  channelId: string;
  userId: string;
  status: MessageStatus;
  messageIds: string[];
  at: string;
}

/** Changes to who may see a channel: subscribers update their access caches from these, without a read. */
export type AccessBusEvent =
  | { type: 'access'; change: 'channel'; channelId: string; channelType: ChannelType }
  | { type: 'access'; change: 'members-added'; channelId: string; userIds: string[] }
  | { type: 'access'; change: 'member-removed'; channelId: string; userId: string }
  | {
      type: 'access';
      change: 'client-assigned';
      clientUserId: string;
      channelId: string | null;
      previousChannelId: string | null;
    };

export type OrganizationBusEvent = MessageBusEvent | ReactionBusEvent | StatusBusEvent | AccessBusEvent;
