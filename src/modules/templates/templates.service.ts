import { z } from 'zod';
import type { Session } from '../../auth/session.js';
import type { Database } from '../../db/database.js';
import type { Prisma } from '../../generated/prisma/client.js';
import { AppError, badInput, invalidInput, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import { assertPostable } from '../access/channel-rules.js';
import type { ChannelService } from '../channels/channels.service.js';
import type { IntegrationService } from '../integrations/integrations.service.js';
import type { MessageRecord } from '../messages/message-record.js';
import type { SendMessage } from '../messages/send-message.js';
import { CHOSEN_LINK_ORDER } from '../outbox/chosen-link.js';
import type { GraphApiClient } from '../outbox/graph-api.js';
import { checkTemplateParameters } from './template-parameters.js';

/** At most this many pages of templates are read by one sync (100 each). */
const MAX_SYNC_PAGES = 50;

const templateSchema = z
  .object({
    id: z.string().optional(),
    name: z.string().min(1).max(512),
    language: z.string().min(1).max(32),
    category: z.string().max(64).optional(),
    status: z.string().min(1).max(64),
    components: z.array(z.json()).optional(),
  })
  .loose();

/** A template status change Meta announced (`message_template_status_update`). */
export interface TemplateStatusUpdate {
  templateId: string | null;
  name: string | null;
  language: string | null;
  /** Meta's event: APPROVED, REJECTED, PAUSED, DISABLED, PENDING_DELETION, ... */
  status: string;
  reason: string | null;
}

export interface SendTemplateInput {
  channelId: string;
  templateName: string;
  language: string;
  /** Meta's Send API template `components` (header, body and button parameters). */
  parameters: unknown;
}

/** What TemplateService is built from. */
export interface TemplateServiceDeps {
  db: Database;
  graph: Pick<GraphApiClient, 'templatePage'>;
  integrations: Pick<IntegrationService, 'accessTokenOf'>;
  channels: Pick<ChannelService, 'cachedFacts'>;
  /** A template goes out like any message: stored, announced, queued for the platform. */
  sendMessage: Pick<SendMessage, 'execute'>;
}

/**
 * WhatsApp message templates: mirrored from the Graph API, kept current by status webhooks, and sent through
 * the outbox with their parameters checked against their components first.
 */
export class TemplateService {
  constructor(private readonly deps: TemplateServiceDeps) {}

  /** An integration's templates by name and language (staff: they send them). */
  async list(session: Session, integrationId: string, query: PrismaSelection = {}) {
    const viewer = session.assertStaff(session.organizationId);
    await this.integrationOf(viewer.organizationId, integrationId);
    return this.deps.db.prisma.messageTemplate.findMany({
      ...query,
      where: { platformIntegrationId: integrationId, organizationId: viewer.organizationId },
      orderBy: [{ name: 'asc' }, { language: 'asc' }],
    });
  }

  /**
   * Reads every template of the integration's WhatsApp Business account from the Graph API, a page at a time,
   * then stores them in one transaction: new ones added, known ones updated, ones Meta no longer lists removed.
   */
  async sync(session: Session, integrationId: string, query: PrismaSelection = {}) {
    const admin = session.assertAdmin(session.organizationId);
    const integration = await this.integrationOf(admin.organizationId, integrationId);
    if (integration.platform !== 'WHATSAPP') throw badInput('integrationId', 'templates are a WhatsApp feature');
    if (!integration.businessAccountId)
      throw badInput('integrationId', 'the integration has no businessAccountId (its WhatsApp Business account id)');
    const accessToken = this.deps.integrations.accessTokenOf(integration);
    const fetched: z.output<typeof templateSchema>[] = [];
    let after: string | null = null;
    for (let page = 0; page < MAX_SYNC_PAGES; page++) {
      const answer = await this.deps.graph.templatePage(accessToken, integration.businessAccountId, after);
      if (!answer.ok)
        throw new AppError('SERVICE_UNAVAILABLE', `Meta's Graph API refused the template list: ${answer.error.title}`, {
          metaCode: answer.error.code,
          retryable: answer.error.transient,
        });
      for (const item of answer.templates) {
        const parsed = templateSchema.safeParse(item);
        if (parsed.success) fetched.push(parsed.data);
      }
      after = answer.after;
      if (!after) break;
    }
    const keys = fetched.map((template) => ({ name: template.name, language: template.language }));
    await this.deps.db.prisma.$transaction(async (tx) => {
      for (const template of fetched) {
        const fields = {
          externalId: template.id ?? null,
          category: template.category ?? null,
          status: template.status,
          components: (template.components ?? []) as Prisma.InputJsonValue,
          syncedAt: new Date(),
        };
        await tx.messageTemplate.upsert({
          where: {
            platformIntegrationId_name_language: {
              platformIntegrationId: integration.id,
              name: template.name,
              language: template.language,
            },
          },
          create: {
            ...fields,
            organizationId: admin.organizationId,
            platformIntegrationId: integration.id,
            name: template.name,
            language: template.language,
          },
          update: fields,
        });
      }
      await tx.messageTemplate.deleteMany({
        where: { platformIntegrationId: integration.id, NOT: keys.length > 0 ? { OR: keys } : undefined },
      });
    });
    return this.list(session, integrationId, query);
  }

  /**
   * Applies Meta's status webhook to the template it names (by Meta's id, else by name and language). A
   * template not synced yet is added with what the webhook says; a sync fills in its components.
   */
  async applyStatusUpdate(integration: { id: string; organizationId: string }, update: TemplateStatusUpdate) {
    const { prisma } = this.deps.db;
    const fields = { status: update.status, statusReason: update.reason };
    if (update.templateId) {
      const changed = await prisma.messageTemplate.updateMany({
        where: { platformIntegrationId: integration.id, externalId: update.templateId },
        data: fields,
      });
      if (changed.count > 0) return;
    }
    if (!update.name || !update.language) return;
    await prisma.messageTemplate.upsert({
      where: {
        platformIntegrationId_name_language: {
          platformIntegrationId: integration.id,
          name: update.name,
          language: update.language,
        },
      },
      create: {
        ...fields,
        organizationId: integration.organizationId,
        platformIntegrationId: integration.id,
        externalId: update.templateId,
        name: update.name,
        language: update.language,
      },
      update: { ...fields, ...(update.templateId ? { externalId: update.templateId } : {}) },
    });
  }

  /**
   * Sends an APPROVED template to the channel's client on WhatsApp, in the language asked, with parameters that
   * fill every placeholder: the message shows its rendered text in the channel and goes out through the outbox.
   * Allowed when the customer-service window is closed (that is what templates are for).
   */
  async send(session: Session, input: SendTemplateInput): Promise<MessageRecord> {
    const viewer = session.assertStaff(session.organizationId);
    const facts = assertPostable(viewer, await this.deps.channels.cachedFacts(viewer, input.channelId));
    if (!facts.hasClients) throw badInput('input.channelId', 'is not a client conversation (no client is assigned)');
    const { rows } = await this.deps.db.pool.query<{ integrationId: string; platform: string }>(
      `SELECT i.id AS "integrationId", i.platform::text AS platform
       FROM client_channel_assignments a
       JOIN users c ON c.id = a.client_user_id AND c.organization_id = $1 AND c.is_active
       JOIN client_platform_links l ON l.client_user_id = c.id AND l.verification_status = 'verified'
       JOIN platform_integrations i ON i.id = l.platform_integration_id AND i.organization_id = $1 AND i.is_active
       WHERE a.channel_id = $2 AND a.is_active
       ORDER BY ${CHOSEN_LINK_ORDER} LIMIT 1`,
      [viewer.organizationId, input.channelId],
    );
    const recipient = rows[0];
    if (!recipient) throw badInput('input.channelId', 'the client has no verified link to send a template to');
    if (recipient.platform !== 'whatsapp')
      throw badInput('input.channelId', 'templates are a WhatsApp feature; the client writes from Instagram');
    const candidates = await this.deps.db.prisma.messageTemplate.findMany({
      where: { platformIntegrationId: recipient.integrationId, name: input.templateName },
      select: { language: true, status: true, components: true },
    });
    if (candidates.length === 0)
      throw badInput('input.templateName', 'no template of that name (syncMessageTemplates reads them from Meta)');
    const template = candidates.find((candidate) => candidate.language === input.language);
    if (!template)
      throw badInput(
        'input.language',
        `the template exists in ${candidates.map((candidate) => candidate.language).join(', ')}, not in ${input.language}`,
      );
    if (template.status !== 'APPROVED')
      throw badInput('input.templateName', `the template is ${template.status}; only APPROVED templates can be sent`);
    const checked = checkTemplateParameters(template.components, input.parameters);
    if (!checked.ok)
      throw invalidInput(
        checked.problems.map((problem) => ({
          field: problem.field ? `input.parameters.${problem.field}` : 'input.parameters',
          message: problem.message,
        })),
      );
    return this.deps.sendMessage.execute(session, {
      channelId: input.channelId,
      content: checked.rendered || null,
      messageType: 'TEXT',
      metadata: {
        template: { name: input.templateName, language: input.language, components: input.parameters ?? [] },
      },
    });
  }

  private async integrationOf(organizationId: string, integrationId: string) {
    const integration = await this.deps.db.prisma.platformIntegration.findFirst({
      where: { id: integrationId, organizationId },
      select: { id: true, platform: true, businessAccountId: true, accessToken: true },
    });
    if (!integration) throw notFound('Platform integration');
    return integration;
  }
}
