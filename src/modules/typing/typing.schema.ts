import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';

const SetTypingInput = builder.inputType('SetTypingInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    typing: t.boolean({ required: true }),
  }),
});

builder.mutationFields((t) => ({
  setTyping: t.boolean({
    description:
      "Tells the channel's other readers you are typing (or stopped). Ends by itself 6 seconds after the last " +
      'signal: while typing, send it again every few seconds. Never stored.',
    args: { input: t.arg({ type: SetTypingInput, required: true }) },
    resolve: (_root, { input }, context) =>
      context.services.typing.setTyping(context.session, { channelId: String(input.channelId), typing: input.typing }),
  }),
}));
