import type { ChannelType, MessageStatus } from '../../generated/prisma/enums.js';
import type { StreamCodec } from '../../realtime/stream-hubs.js';
import { fromWire, type MessageRecord, type MessageWire, toWire } from '../messages/message-record.js';

// What happens in an organization, as its realtime stream carries it to every instance. Message changes carry
// the organization sequence number that orders them (and everything a subscriber needs, so fan-out reads
// nothing per subscriber); the others are notifications about current state.

export type MessageChangeKind = 'CREATED' | 'UPDATED' | 'DELETED';

export interface MessageChange {
  type: 'message';
  kind: MessageChangeKind;
  seq: bigint;
  message: MessageRecord;
  /** The request (or webhook delivery) that made the change, named in the log lines of its fan-out. */
  requestId?: string;
}

export interface ReactionChange {
  type: 'reaction';
  kind: 'ADDED' | 'REMOVED';
  channelId: string;
  messageId: string;
  emoji: string;
  userId: string;
  at: Date;
}

/** One recipient's status, newly set on some messages of one channel. */
export interface StatusChange {
  type: 'status';
  channelId: string;
  userId: string;
  status: MessageStatus;
  messageIds: string[];
  at: Date;
}

/** Changes to who may see a channel: subscribers update their views of their channels from these. */
export type AccessChange =
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

export type OrganizationEvent = MessageChange | ReactionChange | StatusChange | AccessChange;

/** The bus form of an event: JSON, with numbers that JSON cannot hold and dates as strings. */
type Wire =
  | (Omit<MessageChange, 'seq' | 'message'> & { seq: string; message: MessageWire })
  | (Omit<ReactionChange, 'at'> & { at: string })
  | (Omit<StatusChange, 'at'> & { at: string })
  | AccessChange;

export const organizationEventCodec: StreamCodec<OrganizationEvent> = {
  encode(event): Wire {
    switch (event.type) {
      case 'message':
        return { ...event, seq: event.seq.toString(), message: toWire(event.message) };
      case 'reaction':
      case 'status':
        return { ...event, at: event.at.toISOString() };
      case 'access':
        return event;
    }
  },
  decode(raw): OrganizationEvent {
    const wire = raw as Wire;
    switch (wire.type) {
      case 'message':
        return { ...wire, seq: BigInt(wire.seq), message: fromWire(wire.message) };
      case 'reaction':
      case 'status':
        return { ...wire, at: new Date(wire.at) };
      case 'access':
        return wire;
    }
  },
  seqOf: (event) => (event.type === 'message' ? event.seq : undefined),
};
