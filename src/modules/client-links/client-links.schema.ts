import { z } from 'zod';
import { VerificationStatus } from '../../generated/prisma/enums.js';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';

export const VerificationStatusEnum = builder.enumType(VerificationStatus, { name: 'VerificationStatus' });

builder.prismaObject('ClientChannelAssignment', {
  description: 'The one channel a client user is in: their platform messages land there, replies there reach them.',
  fields: (t) => ({
    id: t.exposeID('id'),
    clientUserId: t.exposeID('clientUserId'),
    client: t.relation('client'),
    channelId: t.exposeID('channelId'),
    assignedBy: t.relation('assigner'),
    assignedAt: t.expose('assignedAt', { type: 'DateTime' }),
    isActive: t.exposeBoolean('isActive'),
  }),
});

builder.prismaObject('ClientPlatformLink', {
  description: "A client user's account on a platform integration, verified by a code the client sends from it.",
  fields: (t) => ({
    id: t.exposeID('id'),
    clientUserId: t.exposeID('clientUserId'),
    client: t.relation('client'),
    platformIntegrationId: t.exposeID('platformIntegrationId'),
    integration: t.relation('integration'),
    platformUserId: t.exposeString('platformUserId', {
      nullable: true,
      description: "WhatsApp: the number (wa_id, digits only). Instagram: the sender's Instagram-scoped id.",
    }),
    platformScopedUserId: t.exposeString('platformScopedUserId', {
      nullable: true,
      description: "WhatsApp's business-scoped user id, for users who hide their number.",
    }),
    verificationCode: t.exposeString('verificationCode', { nullable: true }),
    verificationStatus: t.expose('verificationStatus', { type: VerificationStatusEnum }),
    verifiedAt: t.expose('verifiedAt', { type: 'DateTime', nullable: true }),
    codeExpiresAt: t.expose('codeExpiresAt', { type: 'DateTime', nullable: true }),
    lastInboundAt: t.expose('lastInboundAt', { type: 'DateTime', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const AssignClientToChannelInput = builder.inputType('AssignClientToChannelInput', {
  fields: (t) => ({
    clientUserId: t.id({ required: true, validate: uuid }),
    channelId: t.id({ required: true, validate: uuid }),
  }),
});

const CreateClientPlatformLinkInput = builder.inputType('CreateClientPlatformLinkInput', {
  fields: (t) => ({
    clientUserId: t.id({ required: true, validate: uuid }),
    platformIntegrationId: t.id({ required: true, validate: uuid }),
    platformUserId: t.string({
      description: 'When given, only this platform user (a WhatsApp number, or an id) can verify the link.',
      validate: z
        .string()
        .trim()
        .min(1, { error: 'must not be empty' })
        .max(128, { error: 'must be at most 128 characters' })
        .nullable(),
    }),
  }),
});

builder.queryField('clientPlatformLinks', (t) =>
  t.prismaField({
    type: ['ClientPlatformLink'],
    description: "The organization's client platform links, newest first, optionally of one client (admin).",
    args: { clientUserId: t.arg.id({ validate: uuid.nullish() }) },
    resolve: (query, _root, args, context) =>
      context.services.clientLinks.list(
        context.session,
        { clientUserId: args.clientUserId == null ? null : String(args.clientUserId) },
        query,
      ),
  }),
);

builder.mutationFields((t) => ({
  assignClientToChannel: t.prismaField({
    type: 'ClientChannelAssignment',
    description: 'Puts a client user in a channel, replacing their previous channel (admin).',
    args: { input: t.arg({ type: AssignClientToChannelInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.clientAssignments.assign(
        context.session,
        { clientUserId: String(input.clientUserId), channelId: String(input.channelId) },
        query,
      ),
  }),
  createClientPlatformLink: t.prismaField({
    type: 'ClientPlatformLink',
    description:
      'Issues a verification code for a client on an integration (admin); the link is verified when the client ' +
      'sends the code from the platform. Issuing again replaces a pending code.',
    args: { input: t.arg({ type: CreateClientPlatformLinkInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.clientLinks.create(
        context.session,
        {
          clientUserId: String(input.clientUserId),
          platformIntegrationId: String(input.platformIntegrationId),
          platformUserId: input.platformUserId,
        },
        query,
      ),
  }),
}));
