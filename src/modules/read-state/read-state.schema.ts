import { z } from 'zod';
import { badInput } from '../../lib/errors.js';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { DEFAULT_PAGE_SIZE, NOT_ISSUED } from '../../schema/pagination.js';
import { MessageRef, MessageStatusEnum, requestDetails, userById } from '../messages/messages.schema.js';
import { UserType } from '../users/users.schema.js';
import type { RecipientStatus } from './read-state.service.js';

const MarkMessagesReadInput = builder.inputType('MarkMessagesReadInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    upToMessageId: t.id({ validate: uuid, description: 'Defaults to the newest message of the channel.' }),
  }),
});

const MarkMessagesDeliveredInput = builder.inputType('MarkMessagesDeliveredInput', {
  fields: (t) => ({
    messageIds: t.idList({ required: true, validate: z.array(uuid).min(1).max(1000) }),
  }),
});

const MarkMessagesPayload = builder.objectRef<{ messageIds: string[] }>('MarkMessagesPayload').implement({
  fields: (t) => ({
    markedMessageIds: t.exposeIDList('messageIds', {
      description: 'The messages whose status changed (already read or delivered ones are not repeated).',
    }),
  }),
});

builder.mutationFields((t) => ({
  markMessagesRead: t.field({
    type: MarkMessagesPayload,
    description: 'Marks everything in the channel up to a message as read by you (one statement, however many).',
    args: { input: t.arg({ type: MarkMessagesReadInput, required: true }) },
    resolve: async (_root, { input }, context) => ({
      messageIds: await context.services.readState.markRead(context.session, {
        channelId: String(input.channelId),
        upToMessageId: input.upToMessageId ? String(input.upToMessageId) : null,
      }),
    }),
  }),
  markMessagesDelivered: t.field({
    type: MarkMessagesPayload,
    description: 'Marks messages as delivered to your device.',
    args: { input: t.arg({ type: MarkMessagesDeliveredInput, required: true }) },
    resolve: async (_root, { input }, context) => ({
      messageIds: await context.services.readState.markDelivered(context.session, input.messageIds.map(String)),
    }),
  }),
}));

const RecipientStatusRef = builder.objectRef<RecipientStatus>('MessageRecipientStatus').implement({
  description: "One recipient's status of a message, and when it was reached.",
  fields: (t) => ({
    user: t.field({ type: UserType, resolve: (row, _args, context) => userById(requestDetails(context), row.userId) }),
    status: t.expose('status', { type: MessageStatusEnum }),
    timestamp: t.expose('timestamp', { type: 'DateTime' }),
    errorCode: t.exposeString('errorCode', { nullable: true, description: "The platform's code when FAILED." }),
    errorTitle: t.exposeString('errorTitle', { nullable: true, description: "The platform's reason when FAILED." }),
  }),
});

// A statuses cursor names the recipient it follows: `status:<user id>`, base64url-encoded.
const STATUS_CURSOR_PREFIX = 'status:';
const statusCursor = (userId: string) => Buffer.from(`${STATUS_CURSOR_PREFIX}${userId}`).toString('base64url');
const statusCursorUser = (cursor: string): string | null => {
  if (cursor.length > 100) return null;
  const decoded = Buffer.from(cursor, 'base64url').toString();
  if (!decoded.startsWith(STATUS_CURSOR_PREFIX)) return null;
  const userId = decoded.slice(STATUS_CURSOR_PREFIX.length);
  return uuid.safeParse(userId).success ? userId : null;
};

builder.objectFields(MessageRef, (t) => ({
  statuses: t.connection(
    {
      type: RecipientStatusRef,
      nullable: true,
      description:
        "Each recipient's status (SENT, DELIVERED, READ, FAILED) with its time, by recipient; for the message's " +
        'author and admins (null for anyone else).',
      validate: z.object({
        first: z.number().int().min(0).max(100, { error: 'must be between 0 and 100' }).nullish(),
        after: z
          .string()
          .refine((cursor) => statusCursorUser(cursor) !== null, { error: NOT_ISSUED })
          .nullish(),
        last: z.null({ error: 'statuses are paged forward (first, after)' }).optional(),
        before: z.null({ error: 'statuses are paged forward (first, after)' }).optional(),
      }),
      resolve: async (message, args, context) => {
        const afterUserId = args.after ? statusCursorUser(args.after) : null;
        if (args.after && !afterUserId) throw badInput('after', NOT_ISSUED);
        const page = await context.services.readState.recipientStatuses(context.session.viewer, message, {
          first: args.first ?? DEFAULT_PAGE_SIZE,
          afterUserId,
        });
        if (!page) return null;
        const edges = page.statuses.map((status) => ({ cursor: statusCursor(status.userId), node: status }));
        return {
          edges,
          pageInfo: {
            hasNextPage: page.hasNextPage,
            hasPreviousPage: Boolean(args.after),
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges.at(-1)?.cursor ?? null,
          },
        };
      },
    },
    { name: 'MessageRecipientStatusConnection' },
    { name: 'MessageRecipientStatusEdge' },
  ),
}));
