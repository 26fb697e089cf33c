import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { emoji } from '../messages/message-input.js';
import { MessageRef } from '../messages/messages.schema.js';

const ReactionInput = builder.inputType('ReactionInput', {
  fields: (t) => ({
    messageId: t.id({ required: true, validate: uuid }),
    emoji: t.string({ required: true, validate: emoji }),
  }),
});

builder.mutationFields((t) => ({
  addReaction: t.field({
    type: MessageRef,
    description: 'Adds your reaction; adding it again changes nothing.',
    args: { input: t.arg({ type: ReactionInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.reactions.add(context.session, { messageId: String(input.messageId), emoji: input.emoji }),
  }),
  removeReaction: t.field({
    type: MessageRef,
    description: 'Removes your reaction; removing one you did not add changes nothing.',
    args: { input: t.arg({ type: ReactionInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.reactions.remove(context.session, { messageId: String(input.messageId), emoji: input.emoji }),
  }),
}));
