import { WebhookDeliveryStatus } from '../../generated/prisma/enums.js';
import { uuid } from '../../lib/validation.js';
import { builder } from '../../schema/builder.js';
import { assertCursorInList, idCursor, pageArgsSchema } from '../../schema/pagination.js';
import { PlatformEnum } from '../integrations/integrations.schema.js';

export const WebhookDeliveryStatusEnum = builder.enumType(WebhookDeliveryStatus, { name: 'WebhookDeliveryStatus' });

builder.prismaObject('WebhookDelivery', {
  description: 'A signed webhook delivery from Meta, stored verbatim before it was acknowledged.',
  fields: (t) => ({
    id: t.exposeID('id'),
    platform: t.expose('platform', { type: PlatformEnum }),
    platformIntegrationId: t.exposeID('platformIntegrationId'),
    integration: t.relation('integration'),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum }),
    attempts: t.exposeInt('attempts', { description: 'How many times it was processed (replays included).' }),
    errors: t.expose('errors', {
      type: 'JSON',
      nullable: true,
      description:
        'Why parts of it did not take effect: [{ path, kind: shape | unroutable | unknown-target | failed, reason, ' +
        'customer? }]; null when it was processed cleanly.',
    }),
    rawBody: t.exposeString('rawBody', { description: 'The body exactly as Meta sent it.' }),
    receivedAt: t.expose('receivedAt', { type: 'DateTime' }),
    processedAt: t.expose('processedAt', { type: 'DateTime', nullable: true }),
  }),
});

builder.queryField('webhookDeliveries', (t) =>
  t.prismaConnection(
    {
      type: 'WebhookDelivery',
      cursor: 'id',
      description: "The organization's webhook deliveries, newest first (admin); e.g. FAILED ones to replay.",
      args: {
        status: t.arg({ type: WebhookDeliveryStatusEnum }),
        platformIntegrationId: t.arg.id({ validate: uuid.nullish() }),
      },
      validate: pageArgsSchema(idCursor).loose(),
      resolve: async (query, _root, args, context) => {
        const where = context.services.webhookDeliveries.listWhere(context.session, {
          status: args.status,
          platformIntegrationId: args.platformIntegrationId == null ? null : String(args.platformIntegrationId),
        });
        await assertCursorInList(args, query.cursor, (key) =>
          context.prisma.webhookDelivery.findFirst({ where: { AND: [where, key] }, select: { id: true } }),
        );
        return context.prisma.webhookDelivery.findMany({
          ...query,
          where,
          orderBy: [{ receivedAt: 'desc' }, { id: 'desc' }],
        });
      },
    },
    { name: 'WebhookDeliveryConnection' },
    { name: 'WebhookDeliveryEdge' },
  ),
);

builder.mutationField('replayWebhookDelivery', (t) =>
  t.prismaField({
    type: 'WebhookDelivery',
    description: 'Processes a delivery again, e.g. after linking its sender (admin); returns it as it is afterwards.',
    args: { id: t.arg.id({ required: true, validate: uuid }) },
    resolve: (query, _root, { id }, context) =>
      context.services.webhookDeliveries.replay(context.session, String(id), query),
  }),
);
