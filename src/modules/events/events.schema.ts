import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { messageCursorSchema } from '../messages/message-cursor.js';
import { MessageRef, MessageStatusEnum, requestDetails, userById } from '../messages/messages.schema.js';
import { UserType } from '../users/users.schema.js';
import type { MessageEvent, MessageStatusEvent, ReactionEvent, ViewerEvent } from './subscriber-events.js';

const MessageEventKindEnum = builder.enumType('MessageEventKind', {
  values: ['CREATED', 'UPDATED', 'DELETED'] as const,
});
const ReactionEventKindEnum = builder.enumType('ReactionEventKind', { values: ['ADDED', 'REMOVED'] as const });

const MessageEventRef = builder.objectRef<MessageEvent>('MessageEvent').implement({
  isTypeOf: (value) => (value as ViewerEvent).type === 'message',
  fields: (t) => ({
    kind: t.expose('kind', { type: MessageEventKindEnum }),
    message: t.field({ type: MessageRef, resolve: (event) => event.message }),
    cursor: t.exposeString('cursor', { description: 'Resume from here with `after` after a disconnect.' }),
  }),
});

const ReactionEventRef = builder.objectRef<ReactionEvent>('ReactionEvent').implement({
  isTypeOf: (value) => (value as ViewerEvent).type === 'reaction',
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

const MessageStatusEventRef = builder.objectRef<MessageStatusEvent>('MessageStatusEvent').implement({
  isTypeOf: (value) => (value as ViewerEvent).type === 'status',
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

const ViewerEventRef = builder.unionType('ViewerEvent', {
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
      context.services.events.channelMessages(context.session, {
        channelId: String(args.channelId),
        after: args.after,
      }),
    resolve: (event) => event as MessageEvent,
  }),
  reactionEvents: t.field({
    type: ReactionEventRef,
    args: { channelId: t.arg.id({ required: true, validate: uuid }) },
    subscribe: (_root, args, context) =>
      context.services.events.channelReactions(context.session, { channelId: String(args.channelId) }),
    resolve: (event) => event as ReactionEvent,
  }),
  messageStatusEvents: t.field({
    type: MessageStatusEventRef,
    args: { channelId: t.arg.id({ required: true, validate: uuid }) },
    subscribe: (_root, args, context) =>
      context.services.events.channelStatuses(context.session, { channelId: String(args.channelId) }),
    resolve: (event) => event as MessageStatusEvent,
  }),
  viewerEvents: t.field({
    type: ViewerEventRef,
    description: 'Every message, reaction and status event of every channel the viewer may see, on one subscription.',
    args: { after: t.arg.string({ validate: messageCursorSchema }) },
    subscribe: (_root, args, context) => context.services.events.viewerEvents(context.session, { after: args.after }),
    resolve: (event) => event as ViewerEvent,
  }),
}));
