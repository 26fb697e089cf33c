import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { sequenceCursorSchema } from '../messages/sequence-cursor.js';
import { MessageRef, MessageStatusEnum, requestDetails, userById } from '../messages/messages.schema.js';
import { UserType } from '../users/users.schema.js';
import type {
  ChannelEvent,
  MessageEvent,
  MessageStatusEvent,
  PresenceEvent,
  ReactionEvent,
  TypingEvent,
  ViewerEvent,
} from './subscriber-events.js';

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
    cursor: t.exposeString('cursor', { description: 'Resume from here with `after` after a disconnect.' }),
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
    cursor: t.exposeString('cursor', { description: 'Resume from here with `after` after a disconnect.' }),
  }),
});

const ChannelEventKindEnum = builder.enumType('ChannelEventKind', {
  values: ['ADDED', 'UPDATED', 'REMOVED'] as const,
});

const ChannelEventRef = builder.objectRef<ChannelEvent>('ChannelEvent').implement({
  description:
    'ADDED: the viewer can now see the channel (created, made a member, a direct channel opened, a client ' +
    'assigned, a role change). UPDATED: its name, description, type, members or conversation changed. ' +
    'REMOVED: the viewer lost it (removed, reassigned, made private, a role change).',
  isTypeOf: (value) => (value as ViewerEvent).type === 'channel',
  fields: (t) => ({
    kind: t.expose('kind', { type: ChannelEventKindEnum }),
    channelId: t.exposeID('channelId'),
    channel: t.prismaField({
      type: 'Channel',
      nullable: true,
      description: 'The channel as it is now; null when it was REMOVED.',
      resolve: (query, event, _args, context) =>
        event.kind === 'REMOVED'
          ? null
          : context.prisma.channel.findFirst({
              ...query,
              where: { id: event.channelId, organizationId: context.session.organizationId },
            }),
    }),
    cursor: t.exposeString('cursor', { description: 'Resume from here with `after` after a disconnect.' }),
  }),
});

const TypingEventRef = builder.objectRef<TypingEvent>('TypingEvent').implement({
  description: 'Someone started or stopped typing; typing ends by itself six seconds after its last signal.',
  isTypeOf: (value) => (value as ViewerEvent).type === 'typing',
  fields: (t) => ({
    channelId: t.exposeID('channelId'),
    user: t.field({
      type: UserType,
      resolve: (event, _args, context) => userById(requestDetails(context), event.userId),
    }),
    typing: t.exposeBoolean('typing'),
  }),
});

export const PresenceEnum = builder.enumType('Presence', { values: ['ONLINE', 'AWAY', 'OFFLINE'] as const });

const PresenceEventRef = builder.objectRef<PresenceEvent>('PresenceEvent').implement({
  isTypeOf: (value) => (value as ViewerEvent).type === 'presence',
  fields: (t) => ({
    user: t.field({
      type: UserType,
      resolve: (event, _args, context) => userById(requestDetails(context), event.userId),
    }),
    presence: t.expose('presence', { type: PresenceEnum }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime', nullable: true }),
  }),
});

const ViewerEventRef = builder.unionType('ViewerEvent', {
  types: [MessageEventRef, ReactionEventRef, MessageStatusEventRef, ChannelEventRef, TypingEventRef, PresenceEventRef],
});

/** A channel's resumable subscription: the channel, and `after` (a cursor) to replay from. */
const channelStreamArgs = (t: SubscriptionFieldBuilder) => ({
  channelId: t.arg.id({ required: true, validate: uuid }),
  after: t.arg.string({ validate: sequenceCursorSchema }),
});
type SubscriptionFieldBuilder = Parameters<Parameters<typeof builder.subscriptionFields>[0]>[0];
type ChannelStreamArgs = { channelId: string | number; after?: string | null };
const channelStream = (args: ChannelStreamArgs) => ({ channelId: String(args.channelId), after: args.after });

builder.subscriptionFields((t) => ({
  messageEvents: t.field({
    type: MessageEventRef,
    description:
      "A channel's message events. With `after` (a cursor from an event or from `messages`), first everything " +
      'that changed after it, then live: no gap and no duplicate in between.',
    args: channelStreamArgs(t),
    subscribe: (_root, args, context) => context.services.events.channelMessages(context.session, channelStream(args)),
    resolve: (event) => event as MessageEvent,
  }),
  reactionEvents: t.field({
    type: ReactionEventRef,
    description: "A channel's reactions; resumable with `after` like `messageEvents`.",
    args: channelStreamArgs(t),
    subscribe: (_root, args, context) => context.services.events.channelReactions(context.session, channelStream(args)),
    resolve: (event) => event as ReactionEvent,
  }),
  messageStatusEvents: t.field({
    type: MessageStatusEventRef,
    description: "A channel's delivery and read statuses; resumable with `after` like `messageEvents`.",
    args: channelStreamArgs(t),
    subscribe: (_root, args, context) => context.services.events.channelStatuses(context.session, channelStream(args)),
    resolve: (event) => event as MessageStatusEvent,
  }),
  typingEvents: t.field({
    type: TypingEventRef,
    description: 'Who is typing in a channel (never replayed).',
    args: { channelId: t.arg.id({ required: true, validate: uuid }) },
    subscribe: (_root, args, context) =>
      context.services.events.channelTyping(context.session, { channelId: String(args.channelId) }),
    resolve: (event) => event as TypingEvent,
  }),
  viewerEvents: t.field({
    type: ViewerEventRef,
    description:
      'Everything the viewer may see, on one subscription: messages, reactions, statuses and channel changes ' +
      '(each with a cursor; `after` replays what was missed, in order, then continues live), typing and presence.',
    args: { after: t.arg.string({ validate: sequenceCursorSchema }) },
    subscribe: (_root, args, context) => context.services.events.viewerEvents(context.session, { after: args.after }),
    resolve: (event) => event as ViewerEvent,
  }),
}));
