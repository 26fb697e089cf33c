import { z } from 'zod';
import { MessageSource, MessageStatus, MessageType } from '../../generated/prisma/enums.js';
import { mapMaybe } from '../../lib/settled-loader.js';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import type { GraphQLContext } from '../../schema/context.js';
import { pageArgsSchema } from '../../schema/pagination.js';
import { forViewer } from '../../schema/viewer-values.js';
import { sequenceCursorSchema } from './sequence-cursor.js';
import { MessageDetails, sharedDetailsFor } from './message-details.js';
import type { Page } from './message-history.js';
import { checkMessageShape, messageContent } from './message-input.js';
import type { MessageRecord } from './message-record.js';
import type { HighlightPart } from '../search/search.service.js';
import { UserType } from '../users/users.schema.js';
import { seesStaffOnly } from '../access/channel-rules.js';

export const MessageTypeEnum = builder.enumType(MessageType, { name: 'MessageType' });
export const MessageSourceEnum = builder.enumType(MessageSource, { name: 'MessageSource' });
export const MessageStatusEnum = builder.enumType(MessageStatus, { name: 'MessageStatus' });

export const MessageRef = builder.objectRef<MessageRecord>('Message');

/** The request's detail loaders. */
export const requestDetails = (context: GraphQLContext) =>
  context.loaders.once('messageDetails', () => context.services.messages.details(() => context.session.viewer));

/** Details from the event's shared set when the message came from a realtime event, else the request's. */
export const detailsOf = (message: MessageRecord, context: GraphQLContext) =>
  sharedDetailsFor(message) ?? requestDetails(context);

/** A user by id through the given loaders (users are cached per instance; this batches the rest). */
export const userById = (details: MessageDetails, userId: string) =>
  mapMaybe(details.authors.get(userId), (user) => {
    if (!user) throw new Error(`user ${userId} is missing`);
    return user;
  });

interface ReactionGroup {
  emoji: string;
  count: number;
  userIds: string[];
}

const ReactionGroupRef = builder.objectRef<ReactionGroup>('ReactionGroup').implement({
  description: 'The reactions of one emoji on a message.',
  fields: (t) => ({
    emoji: t.exposeString('emoji'),
    count: t.exposeInt('count'),
    viewerReacted: t.boolean({
      description: 'Whether the viewer is among those who reacted.',
      resolve: (group, _args, context, info) => forViewer(context, info, (viewer) => group.userIds.includes(viewer.id)),
    }),
    userIds: t.exposeIDList('userIds', { description: 'Who reacted, earliest first.' }),
  }),
});

const MessageReadRef = builder.objectRef<{ userId: string; readAt: Date }>('MessageRead').implement({
  fields: (t) => ({
    user: t.field({
      type: UserType,
      resolve: (read, _args, context) => userById(requestDetails(context), read.userId),
    }),
    readAt: t.expose('readAt', { type: 'DateTime' }),
  }),
});

const HighlightPartRef = builder.objectRef<HighlightPart>('HighlightPart').implement({
  description: 'A piece of a search highlight: the pieces in order give an excerpt of the content.',
  fields: (t) => ({
    text: t.exposeString('text'),
    matched: t.exposeBoolean('matched', { description: 'Whether this piece matched the query (show it marked).' }),
  }),
});

export const MessageConnection = builder.connectionObject(
  { type: MessageRef, name: 'MessageConnection' },
  {
    name: 'MessageEdge',
    fields: (t) => ({
      highlight: t.field({
        type: [HighlightPartRef],
        nullable: true,
        description: 'Where the content matched, in context: in `searchMessages` only (null in other lists).',
        // Edges of search pages carry their highlight; history pages' edges have none.
        resolve: (edge) => (edge as { highlight?: HighlightPart[] }).highlight ?? null,
      }),
    }),
  },
);

export const messagePageArgs = pageArgsSchema(sequenceCursorSchema);

/** A history page as a Relay connection. */
export const toConnection = (page: Page, context: GraphQLContext) => {
  const cursorOf = (message: MessageRecord) => context.services.cursors.ofMessage(message);
  return {
    edges: page.messages.map((message) => ({ cursor: cursorOf(message), node: message })),
    pageInfo: {
      hasNextPage: page.hasNextPage,
      hasPreviousPage: page.hasPreviousPage,
      startCursor: page.messages[0] ? cursorOf(page.messages[0]) : null,
      endCursor: page.messages.at(-1) ? cursorOf(page.messages.at(-1)!) : null,
    },
  };
};

MessageRef.implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    channelId: t.exposeID('channelId'),
    channel: t.prismaField({
      type: 'Channel',
      resolve: (query, message, _args, context) =>
        context.prisma.channel.findUniqueOrThrow({ ...query, where: { id: message.channelId } }),
    }),
    author: t.field({
      type: UserType,
      resolve: (message, _args, context) => userById(detailsOf(message, context), message.userId),
    }),
    content: t.exposeString('content', { nullable: true, description: 'Null once the message is deleted.' }),
    messageType: t.expose('messageType', { type: MessageTypeEnum }),
    metadata: t.expose('metadata', {
      type: 'JSON',
      nullable: true,
      description: 'Attachment (url, mimeType, size, fileName) or platform details; null once deleted.',
    }),
    threadId: t.exposeID('threadId', {
      nullable: true,
      description: 'The first message of the thread this replies to.',
    }),
    replyCount: t.int({
      description: 'How many replies the thread shows the viewer (a client does not count internal notes).',
      resolve: (message, _args, context, info) =>
        mapMaybe(detailsOf(message, context).replyCounts.get(message.id), (counts) =>
          forViewer(context, info, (viewer) => (seesStaffOnly(viewer) ? counts.all : counts.toClients)),
        ),
    }),
    replies: t.connection(
      {
        type: MessageRef,
        description: "The thread's replies in chronological order (keyset pages, like `messages`).",
        validate: messagePageArgs,
        resolve: async (message, args, context) =>
          toConnection(await context.services.messages.replies(context.session.viewer, message, args), context),
      },
      MessageConnection,
    ),
    reactions: t.field({
      type: [ReactionGroupRef],
      resolve: (message, _args, context) =>
        mapMaybe(detailsOf(message, context).reactions.get(message.id), (rows) => {
          const groups = new Map<string, ReactionGroup>();
          for (const row of rows) {
            const group = groups.get(row.emoji) ?? { emoji: row.emoji, count: 0, userIds: [] };
            group.count += 1;
            group.userIds.push(row.userId);
            groups.set(row.emoji, group);
          }
          return [...groups.values()];
        }),
    }),
    mentions: t.field({
      type: [UserType],
      description:
        'The people the message mentions: `@` followed by their e-mail address or display name, without case, ' +
        'resolved by the server when the message is written or edited. Empty once deleted.',
      resolve: (message, _args, context) => {
        if (message.deletedAt) return [];
        const details = detailsOf(message, context);
        return mapMaybe(details.mentions.get(message.id), (userIds) =>
          userIds.map((userId) => userById(details, userId)),
        );
      },
    }),
    readBy: t.field({
      type: [MessageReadRef],
      description: 'Who has read the message, and when.',
      resolve: (message, _args, context) => detailsOf(message, context).readers.get(message.id),
    }),
    messageSource: t.expose('messageSource', { type: MessageSourceEnum }),
    platformIntegrationId: t.exposeID('platformIntegrationId', { nullable: true }),
    externalMessageId: t.exposeString('externalMessageId', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    editedAt: t.expose('editedAt', { type: 'DateTime', nullable: true }),
    edited: t.boolean({ resolve: (message) => message.editedAt !== null }),
    internal: t.exposeBoolean('internal', {
      description: 'An internal note: staff see it, the client never does, and it is never sent to a platform.',
    }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    deleted: t.boolean({ resolve: (message) => message.deletedAt !== null }),
    cursor: t.string({
      description: "This message's place in its channel: `after` for `messages` and for subscriptions.",
      resolve: (message, _args, context) => context.services.cursors.ofMessage(message),
    }),
  }),
});

builder.queryFields((t) => ({
  messages: t.connection(
    {
      type: MessageRef,
      description:
        "A channel's messages (replies included) in chronological order. Keyset pages by cursor: asking for " +
        'everything after the last cursor you saw returns exactly what you missed. Without first/last: the newest page.',
      args: { channelId: t.arg.id({ required: true, validate: uuid }) },
      validate: messagePageArgs.loose(),
      resolve: async (_root, args, context) =>
        toConnection(await context.services.messages.history(context.session, String(args.channelId), args), context),
    },
    MessageConnection,
  ),
  message: t.field({
    type: MessageRef,
    nullable: true,
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (_root, args, context) => context.services.messages.find(context.session, String(args.id)),
  }),
}));

const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    content: t.string({ validate: messageContent }),
    messageType: t.field({ type: MessageTypeEnum, defaultValue: 'TEXT' }),
    metadata: t.field({ type: 'JSON' }),
    threadId: t.id({ validate: uuid, description: 'Reply in the thread of this message (same channel).' }),
    internal: t.boolean({
      defaultValue: false,
      description: 'An internal note: visible to staff only, never to the client, never sent to a platform.',
    }),
    uploadId: t.id({
      validate: uuid,
      description: 'The attachment: an upload of yours (createUpload), used once; `content` is its caption.',
    }),
  }),
  validate: z.any().superRefine(checkMessageShape),
});

const EditMessageInput = builder.inputType('EditMessageInput', {
  fields: (t) => ({
    messageId: t.id({ required: true, validate: uuid }),
    content: t.string({ required: true, validate: messageContent }),
  }),
});

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: MessageRef,
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const message = await context.services.sendMessage.execute(context.session, {
        ...input,
        channelId: String(input.channelId),
        threadId: input.threadId ? String(input.threadId) : null,
        uploadId: input.uploadId ? String(input.uploadId) : null,
      });
      detailsOf(message, context).primeNew(message);
      return message;
    },
  }),
  editMessage: t.field({
    type: MessageRef,
    description: 'Changes the content of your own message.',
    args: { input: t.arg({ type: EditMessageInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.messages.edit(context.session, { messageId: String(input.messageId), content: input.content }),
  }),
  deleteMessage: t.field({
    type: MessageRef,
    description: 'Deletes your message (admins: any message). It stays as a tombstone without content.',
    args: { messageId: t.arg.id({ required: true, validate: uuid }) },
    resolve: (_root, args, context) => context.services.messages.delete(context.session, String(args.messageId)),
  }),
}));
