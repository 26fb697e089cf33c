import type {
  ChannelType,
  ConversationStatus,
  IntegrationHealth,
  MessageStatus,
  UserRole,
} from '../../generated/prisma/enums.js';
import type { StreamCodec } from '../../realtime/stream-hubs.js';
import { fromWire, type MessageRecord, type MessageWire, toWire } from '../messages/message-record.js';

// What happens in an organization, as its realtime stream carries it to every instance. Every committed change
// has a number in the organization's one sequence (`seq`), by which subscribers receive changes in order and
// resume after a cursor: a message's own changes are numbered in `messages.event_seq`, every other change in the
// event log (`organization_events`, see event-log.ts). Typing and presence are ephemeral: not numbered, not kept.

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
  seq: bigint;
  kind: 'ADDED' | 'REMOVED';
  channelId: string;
  messageId: string;
  emoji: string;
  userId: string;
  at: Date;
  /** The message is an internal note, so the reaction is for staff only (absent: it is not). */
  internal?: boolean;
}

/** One recipient's status, newly set on some messages of one channel. */
export interface StatusChange {
  type: 'status';
  seq: bigint;
  channelId: string;
  userId: string;
  status: MessageStatus;
  messageIds: string[];
  at: Date;
  /** The messages are internal notes, so the change is for staff only (absent: they are not). */
  internal?: boolean;
}

/** A change to a channel, or to who may see it. */
export type ChannelChange = { type: 'channel'; seq: bigint } & (
  | { change: 'created'; channelId: string; channelType: ChannelType; memberIds: string[] }
  /** Its name, description or type changed (`channelType` is the new type, `previousType` the old one). */
  | { change: 'updated'; channelId: string; channelType: ChannelType; previousType: ChannelType }
  | { change: 'members-added'; channelId: string; userIds: string[] }
  | { change: 'member-removed'; channelId: string; userId: string }
  | { change: 'client-assigned'; clientUserId: string; channelId: string | null; previousChannelId: string | null }
  /** A client conversation's status or assignee changed (its timeline gained a row). */
  | { change: 'conversation'; channelId: string; status: ConversationStatus; assigneeId: string | null }
  /** A user's role changed: the channels they could see and no longer can, and the reverse. */
  | { change: 'role-changed'; userId: string; role: UserRole; lost: string[]; gained: string[] }
);

/** Someone started or stopped typing in a channel (ends by itself after a few seconds). */
export interface TypingChange {
  type: 'typing';
  channelId: string;
  userId: string;
  typing: boolean;
}

export type Presence = 'ONLINE' | 'AWAY' | 'OFFLINE';

export interface PresenceChange {
  type: 'presence';
  userId: string;
  presence: Presence;
  lastSeenAt: Date | null;
}

/** An integration's health changed (Meta's answers to sends): for admins, live only (the state is readable). */
export interface IntegrationHealthChange {
  type: 'integration-health';
  integrationId: string;
  status: IntegrationHealth;
  previous: IntegrationHealth;
  lastError: string | null;
  checkedAt: Date;
}

export type SequencedEvent = MessageChange | ReactionChange | StatusChange | ChannelChange;
export type OrganizationEvent = SequencedEvent | TypingChange | PresenceChange | IntegrationHealthChange;

/** The event-log changes, before the log numbers them. */
export type LoggedChange = DistributiveOmit<ReactionChange | StatusChange | ChannelChange, 'seq'>;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** The bus form of an event: JSON, with numbers that JSON cannot hold and dates as strings. */
type Wire =
  | (Omit<MessageChange, 'seq' | 'message'> & { seq: string; message: MessageWire })
  | (Omit<ReactionChange, 'seq' | 'at'> & { seq: string; at: string })
  | (Omit<StatusChange, 'seq' | 'at'> & { seq: string; at: string })
  | (DistributiveOmit<ChannelChange, 'seq'> & { seq: string })
  | TypingChange
  | (Omit<PresenceChange, 'lastSeenAt'> & { lastSeenAt: string | null })
  | (Omit<IntegrationHealthChange, 'checkedAt'> & { checkedAt: string });

export const organizationEventCodec: StreamCodec<OrganizationEvent> = {
  encode(event): Wire {
    switch (event.type) {
      case 'message':
        return { ...event, seq: event.seq.toString(), message: toWire(event.message) };
      case 'reaction':
      case 'status':
        return { ...event, seq: event.seq.toString(), at: event.at.toISOString() };
      case 'channel':
        return { ...event, seq: event.seq.toString() };
      case 'typing':
        return event;
      case 'presence':
        return { ...event, lastSeenAt: event.lastSeenAt?.toISOString() ?? null };
      case 'integration-health':
        return { ...event, checkedAt: event.checkedAt.toISOString() };
    }
  },
  decode(raw): OrganizationEvent {
    const wire = raw as Wire;
    switch (wire.type) {
      case 'message':
        return { ...wire, seq: BigInt(wire.seq), message: fromWire(wire.message) };
      case 'reaction':
      case 'status':
        return { ...wire, seq: BigInt(wire.seq), at: new Date(wire.at) };
      case 'channel':
        return { ...wire, seq: BigInt(wire.seq) } as ChannelChange;
      case 'typing':
        return wire;
      case 'presence':
        return { ...wire, lastSeenAt: wire.lastSeenAt ? new Date(wire.lastSeenAt) : null };
      case 'integration-health':
        return { ...wire, checkedAt: new Date(wire.checkedAt) };
    }
  },
  seqOf: (event) => ('seq' in event ? event.seq : undefined),
};

/** The channels a change concerns, in a fixed order: a change reaches a subscriber as one event per channel. */
export function channelsOf(change: ChannelChange): string[] {
  switch (change.change) {
    case 'client-assigned':
      return [change.previousChannelId, change.channelId].filter(
        (id, index, ids): id is string => id !== null && ids.indexOf(id) === index,
      );
    case 'role-changed':
      return [...change.lost, ...change.gained];
    default:
      return [change.channelId];
  }
}
