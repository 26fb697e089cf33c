import type { MessageStatus } from '../../generated/prisma/enums.js';
import type { MessageRecord } from '../messages/message-record.js';
import type { MessageChangeKind, ReactionChange } from './organization-events.js';

// What a subscriber receives: the GraphQL types MessageEvent, ReactionEvent and MessageStatusEvent (members of
// the ViewerEvent union), as their resolvers read them.

export interface MessageEvent {
  type: 'message';
  kind: MessageChangeKind;
  message: MessageRecord;
  /** Resume from here: the subscriber has seen every change up to this event. */
  cursor: string;
}

export type ReactionEvent = ReactionChange;

/** One message's status for one recipient (a status change covering many messages is one event each). */
export interface MessageStatusEvent {
  type: 'status';
  channelId: string;
  messageId: string;
  userId: string;
  status: MessageStatus;
  timestamp: Date;
}

export type ViewerEvent = MessageEvent | ReactionEvent | MessageStatusEvent;
