import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { messageCursorSchema } from '../messages/message-cursor.js';
import { MessageRef, MessageStatusEnum, requestDetails, userById } from '../messages/messages.schema.js';
import { UserType } from '../users/users.schema.js';
import type { EventPayload, MessageEventPayload, ReactionEventPayload, StatusEventPayload } from './events.service.js';

const MessageEventKindEnum = builder.enumType('MessageEventKind', {
  values: ['CREATED', 'UPDATED', 'DELETED'] as const,
});
const ReactionEventKindEnum = builder.enumType('ReactionEventKind', { values: ['ADDED', 'REMOVED'] as const });

const MessageEventRef = builder.objectRef<MessageEventPayload>('MessageEvent').implement({
  isTypeOf: (value) => (value as EventPayload).type === 'message',
  fields: (t) => ({
    kind: t.expose('kind', { type: MessageEventKindEnum }),
    message: t.field({ type: MessageRef, resolve: (event) => event.message }),
    cursor: t.exposeString('cursor', { description: 'Resume from here with `after` after a disconnect.' }),
  }),
});

const ReactionEventRef = builder.objectRef<ReactionEventPayload>('ReactionEvent').implement({
  isTypeOf: (value) => (value as EventPayload).type === 'reaction',
  fields: (t) => ({
    kind: t.expose('kind', { type: ReactionEventKindEnum }),
    channelId: t.exposeID('channelId'),
    messageId: t.exposeID('messageId'),
    emoji: t.exposeString('emoji'),
    user: t.field({
      type: UserType,
      resolve: (event, _args, context) => userById(requestDetails(context), event.userId),
    }),
    at: t.expose('at', { type: 'DateTime' }),
  }),
});

const MessageStatusEventRef = builder.objectRef<StatusEventPayload>('MessageStatusEvent').implement({
  isTypeOf: (value) => (value as EventPayload).type === 'status',
  fields: (t) => ({
    channelId: t.exposeID('channelId'),
    messageId: t.exposeID('messageId'),
    user: t.field({
      type: UserType,
      resolve: (event, _args, context) => userById(requestDetails(context), event.userId),
    }),
    status: t.expose('status', { type: MessageStatusEnum }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
  }),
});

const ViewerEvent = builder.unionType('ViewerEvent', {
  types: [MessageEventRef, ReactionEventRef, MessageStatusEventRef],
});

builder.subscriptionFields((t) => ({
  messageEvents: t.field({
    type: MessageEventRef,
    description:
      "A channel's message events. With `after` (a cursor from an event or from `messages`), first everything " +
      'that changed after it, then live: no gap and no duplicate in between.',
    args: {
      channelId: t.arg.id({ required: true, validate: uuid }),
      after: t.arg.string({ validate: messageCursorSchema }),
    },
    subscribe: (_root, args, context) =>
      context.services.events.messageEvents(context.session, { channelId: String(args.channelId), after: args.after }),
    resolve: (event) => event as MessageEventPayload,
  }),
  reactionEvents: t.field({
    type: ReactionEventRef,
    args: { channelId: t.arg.id({ required: true, validate: uuid }) },
    subscribe: (_root, args, context) =>
      context.services.events.reactionEvents(context.session, { channelId: String(args.channelId) }),
    resolve: (event) => event as ReactionEventPayload,
  }),
  messageStatusEvents: t.field({
    type: MessageStatusEventRef,
    args: { channelId: t.arg.id({ required: true, validate: uuid }) },
    subscribe: (_root, args, context) =>
      context.services.events.messageStatusEvents(context.session, { channelId: String(args.channelId) }),
    resolve: (event) => event as StatusEventPayload,
  }),
  viewerEvents: t.field({
    type: ViewerEvent,
    description: 'Every message, reaction and status event of every channel the viewer may see, on one subscription.',
    args: { after: t.arg.string({ validate: messageCursorSchema }) },
    subscribe: (_root, args, context) => context.services.events.viewerEvents(context.session, { after: args.after }),
    resolve: (event) => event as EventPayload,
  }),
}));
