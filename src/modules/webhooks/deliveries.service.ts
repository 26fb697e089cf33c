import { createHash } from 'node:crypto';
import type { Session } from '../../auth/session.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { WebhookDeliveryStatus } from '../../generated/prisma/enums.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { Database } from '../../db/database.js';
import type { WebhookIntegration } from '../integrations/integrations.service.js';
import type { WebhookProcessor } from './webhook-processor.js';

export interface StoredDelivery {
  id: string;
  /** The same bytes were delivered before: nothing was stored or queued. */
  duplicate: boolean;
}

/** What WebhookDeliveryService is built from. */
export interface WebhookDeliveryServiceDeps {
  db: Database;
}

export class WebhookDeliveryService {
  constructor(
    private readonly deps: WebhookDeliveryServiceDeps,
    private readonly processor: WebhookProcessor,
  ) {}

  /**
   * Stores a verified delivery verbatim; it is committed when this resolves (the route answers 200 only then).
   * The same bytes for the same integration are one delivery, however often and however concurrently Meta
   * sends them. A new delivery is queued for processing.
   */
  async store(
    integration: WebhookIntegration,
    rawBody: Buffer,
    text: string,
    requestId?: string,
  ): Promise<StoredDelivery> {
    const sha256 = createHash('sha256').update(rawBody).digest('hex');
    const { rows } = await this.deps.db.pool.query<{ id: string }>(
      `INSERT INTO webhook_deliveries (organization_id, platform_integration_id, platform, raw_body, body_sha256)
       VALUES ($1, $2, $3::platform, $4, $5)
       ON CONFLICT (platform_integration_id, body_sha256) DO NOTHING
       RETURNING id`,
      [integration.organizationId, integration.id, integration.platform.toLowerCase(), text, sha256],
    );
    const inserted = rows[0];
    if (!inserted) {
      const existing = await this.deps.db.prisma.webhookDelivery.findUniqueOrThrow({
        where: { platformIntegrationId_bodySha256: { platformIntegrationId: integration.id, bodySha256: sha256 } },
        select: { id: true },
      });
      return { id: existing.id, duplicate: true };
    }
    void this.processor.enqueue(inserted.id, integration.id, { requestId }).catch(() => undefined);
    return { id: inserted.id, duplicate: false };
  }

  /** The organization's deliveries an admin may list, optionally by status and integration. */
  listWhere(
    session: Session,
    filter: { status?: WebhookDeliveryStatus | null; platformIntegrationId?: string | null },
  ): Prisma.WebhookDeliveryWhereInput {
    const { organizationId } = session.assertAdmin(session.organizationId);
    return {
      organizationId,
      ...(filter.status ? { status: filter.status } : {}),
      ...(filter.platformIntegrationId ? { platformIntegrationId: filter.platformIntegrationId } : {}),
    };
  }

  /** Processes a delivery again (e.g. once its sender is linked) and returns it as it is afterwards. */
  async replay(session: Session, id: string, query: PrismaSelection = {}) {
    const { organizationId } = session.assertAdmin(session.organizationId);
    const { prisma } = this.deps.db;
    const delivery = await prisma.webhookDelivery.findFirst({
      where: { id, organizationId },
      select: { id: true, platformIntegrationId: true },
    });
    if (!delivery) throw notFound('Webhook delivery');
    try {
      await this.processor.enqueue(delivery.id, delivery.platformIntegrationId, { replay: true });
    } catch (error) {
      // lock_not_available: another instance kept processing it for longer than the replay waits.
      if ((error as { code?: string }).code === '55P03')
        throw conflict('The delivery is being processed; try again shortly');
      throw error;
    }
    return prisma.webhookDelivery.findUniqueOrThrow({ ...query, where: { id: delivery.id } });
  }
}
