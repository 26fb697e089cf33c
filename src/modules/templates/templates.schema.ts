import { z } from 'zod';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { detailsOf, MessageRef } from '../messages/messages.schema.js';

/** The Send API components of one template send: small, whatever a client posts. */
const MAX_PARAMETERS_BYTES = 16 * 1024;

builder.prismaObject('MessageTemplate', {
  description: "A WhatsApp message template of an integration's business account, as Meta last reported it.",
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    language: t.exposeString('language', { description: 'Meta\'s language code, e.g. "en_US".' }),
    category: t.exposeString('category', { nullable: true, description: 'MARKETING, UTILITY or AUTHENTICATION.' }),
    status: t.exposeString('status', {
      description: "Meta's status: APPROVED (sendable), PENDING, REJECTED, PAUSED, DISABLED, ...",
    }),
    statusReason: t.exposeString('statusReason', {
      nullable: true,
      description: 'Why Meta rejected, paused or disabled it.',
    }),
    components: t.expose('components', {
      type: 'JSON',
      description: "Meta's components: HEADER, BODY, FOOTER and BUTTONS, with their `{{1}}` placeholders.",
    }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const SendTemplateMessageInput = builder.inputType('SendTemplateMessageInput', {
  fields: (t) => ({
    channelId: t.id({ required: true, validate: uuid }),
    templateName: t.string({ required: true, validate: z.string().min(1).max(512) }),
    language: t.string({ required: true, validate: z.string().min(1).max(32) }),
    parameters: t.field({
      type: 'JSON',
      description:
        'Meta\'s Send API template `components`: `[{ type: "body", parameters: [{ type: "text", text: "Ada" }] }, ...]`.',
      validate: z.unknown().refine((value) => JSON.stringify(value ?? null).length <= MAX_PARAMETERS_BYTES, {
        error: 'must be at most 16 KiB',
      }),
    }),
  }),
});

builder.queryField('messageTemplates', (t) =>
  t.prismaField({
    type: ['MessageTemplate'],
    description:
      "A WhatsApp integration's templates by name and language (staff), as the last sync and webhooks left them.",
    args: { integrationId: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, context) =>
      context.services.templates.list(context.session, String(args.integrationId), query),
  }),
);

builder.mutationFields((t) => ({
  syncMessageTemplates: t.prismaField({
    type: ['MessageTemplate'],
    description:
      "Reads the integration's templates from Meta's Graph API (every page) and stores them (admin); " +
      'templates Meta no longer lists are removed.',
    args: { integrationId: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, args, context) =>
      context.services.templates.sync(context.session, String(args.integrationId), query),
  }),
  sendTemplateMessage: t.field({
    type: MessageRef,
    description:
      "Sends an APPROVED WhatsApp template to the channel's client, its parameters checked against the template " +
      '(BAD_USER_INPUT naming what is missing). Allowed when the 24-hour window is closed; the message shows its ' +
      'rendered text and goes out through the outbox.',
    args: { input: t.arg({ type: SendTemplateMessageInput, required: true }) },
    resolve: async (_root, { input }, context) => {
      const message = await context.services.templates.send(context.session, {
        channelId: String(input.channelId),
        templateName: input.templateName,
        language: input.language,
        parameters: input.parameters ?? [],
      });
      detailsOf(message, context).primeNew(message);
      return message;
    },
  }),
}));
