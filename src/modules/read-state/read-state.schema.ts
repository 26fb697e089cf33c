import { z } from 'zod';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';

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
