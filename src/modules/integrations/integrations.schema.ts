import { IntegrationHealth, Platform } from '../../generated/prisma/enums.js';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import {
  accessToken,
  appSecret,
  businessPhone,
  integrationName,
  metaId,
  settings,
  verifyToken,
} from './integrations.validation.js';

export const PlatformEnum = builder.enumType(Platform, { name: 'Platform' });
export const IntegrationHealthEnum = builder.enumType(IntegrationHealth, { name: 'IntegrationHealthStatus' });

interface HealthView {
  status: IntegrationHealth;
  lastError: string | null;
  checkedAt: Date | null;
}

const IntegrationHealthRef = builder.objectRef<HealthView>('IntegrationHealth').implement({
  description:
    "How Meta last answered the integration's sends. TOKEN_INVALID: Meta refused the access token (expired or " +
    'revoked); sends wait until the token is updated. FAILING: several sends in a row failed.',
  fields: (t) => ({
    status: t.expose('status', { type: IntegrationHealthEnum }),
    lastError: t.exposeString('lastError', { nullable: true, description: "Meta's last refusal: code and title." }),
    checkedAt: t.expose('checkedAt', { type: 'DateTime', nullable: true }),
  }),
});

// The secrets (access token, app secret, verify token) are write-only: there is no field that reads them.
builder.prismaObject('PlatformIntegration', {
  fields: (t) => ({
    id: t.exposeID('id'),
    platform: t.expose('platform', { type: PlatformEnum }),
    integrationName: t.exposeString('integrationName'),
    webhookUrl: t.string({
      description: "The callback URL to configure at Meta for this integration's webhooks.",
      resolve: (integration, _args, context) => context.services.integrations.webhookUrl(integration),
    }),
    isActive: t.exposeBoolean('isActive'),
    businessPhone: t.exposeString('businessPhone', { nullable: true }),
    businessAccountId: t.exposeString('businessAccountId', { nullable: true }),
    platformAccountId: t.exposeString('platformAccountId', {
      nullable: true,
      description: 'WhatsApp: the phone number id that sends and receives. Instagram: the account id (null: "me").',
    }),
    settings: t.expose('settings', { type: 'JSON' }),
    health: t.field({
      type: IntegrationHealthRef,
      select: { healthStatus: true, healthError: true, healthCheckedAt: true },
      resolve: (integration) => ({
        status: integration.healthStatus,
        lastError: integration.healthError,
        checkedAt: integration.healthCheckedAt,
      }),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
  }),
});

const CreatePlatformIntegrationInput = builder.inputType('CreatePlatformIntegrationInput', {
  fields: (t) => ({
    platform: t.field({ type: PlatformEnum, required: true }),
    integrationName: t.string({ required: true, validate: integrationName }),
    accessToken: t.string({ required: true, validate: accessToken }),
    appSecret: t.string({ required: true, validate: appSecret }),
    verifyToken: t.string({ required: true, validate: verifyToken }),
    businessPhone: t.string({ validate: businessPhone.nullable() }),
    businessAccountId: t.string({ validate: metaId.nullable() }),
    platformAccountId: t.string({ validate: metaId.nullable() }),
    settings: t.field({ type: 'JSON', validate: settings.nullable() }),
  }),
});

const UpdatePlatformIntegrationInput = builder.inputType('UpdatePlatformIntegrationInput', {
  description: 'Fields left out stay as they are; a secret given replaces the stored one.',
  fields: (t) => ({
    id: t.id({ required: true, validate: uuid }),
    integrationName: t.string({ validate: integrationName }),
    accessToken: t.string({ validate: accessToken }),
    appSecret: t.string({ validate: appSecret }),
    verifyToken: t.string({ validate: verifyToken }),
    businessPhone: t.string({ validate: businessPhone.nullable() }),
    businessAccountId: t.string({ validate: metaId.nullable() }),
    platformAccountId: t.string({ validate: metaId.nullable() }),
    settings: t.field({ type: 'JSON', validate: settings }),
    isActive: t.boolean(),
  }),
});

builder.queryField('platformIntegrations', (t) =>
  t.prismaField({
    type: ['PlatformIntegration'],
    description: "The organization's WhatsApp and Instagram integrations (admin).",
    resolve: (query, _root, _args, context) => context.services.integrations.list(context.session, query),
  }),
);

builder.mutationFields((t) => ({
  createPlatformIntegration: t.prismaField({
    type: 'PlatformIntegration',
    description: 'Connects a WhatsApp number or Instagram account (admin); configure its webhookUrl at Meta.',
    args: { input: t.arg({ type: CreatePlatformIntegrationInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.integrations.create(
        context.session,
        { ...input, settings: input.settings as Record<string, unknown> | null | undefined },
        query,
      ),
  }),
  updatePlatformIntegration: t.prismaField({
    type: 'PlatformIntegration',
    description: 'Changes an integration (admin), including rotating its secrets.',
    args: { input: t.arg({ type: UpdatePlatformIntegrationInput, required: true }) },
    resolve: (query, _root, { input }, context) =>
      context.services.integrations.update(
        context.session,
        { ...input, id: String(input.id), settings: input.settings as Record<string, unknown> | null | undefined },
        query,
      ),
  }),
  deactivatePlatformIntegration: t.prismaField({
    type: 'PlatformIntegration',
    description: 'Stops webhooks and sends through an integration (admin); updatePlatformIntegration reactivates.',
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, { id }, context) =>
      context.services.integrations.deactivate(context.session, String(id), query),
  }),
}));
