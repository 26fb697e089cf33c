import { randomUUID } from 'node:crypto';
import type { Session } from '../../auth/session.js';
import type { Prisma, PlatformIntegration } from '../../generated/prisma/client.js';
import type { Platform } from '../../generated/prisma/enums.js';
import { conflict, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import { type SecretBox, SecretError } from '../../lib/secrets.js';
import { INTEGRATION_CHANGES_TOPIC, type IntegrationChangedEvent } from '../../realtime/topics.js';
import type { Database } from '../../db/database.js';
import type { EventBus } from '../../realtime/event-bus.js';
import { recordAudit } from '../audit/audit-log.js';
import type { AppConfig } from '../../config.js';

export interface CreateIntegrationInput {
  platform: Platform;
  integrationName: string;
  accessToken: string;
  appSecret: string;
  verifyToken: string;
  businessPhone?: string | null;
  businessAccountId?: string | null;
  platformAccountId?: string | null;
  settings?: Record<string, unknown> | null;
}

export interface UpdateIntegrationInput {
  id: string;
  integrationName?: string | null;
  accessToken?: string | null;
  appSecret?: string | null;
  verifyToken?: string | null;
  businessPhone?: string | null;
  businessAccountId?: string | null;
  platformAccountId?: string | null;
  settings?: Record<string, unknown> | null;
  isActive?: boolean | null;
}

/** What the webhook route needs of the integration named in its URL, secrets opened. */
export interface WebhookIntegration {
  id: string;
  organizationId: string;
  platform: Platform;
  platformAccountId: string | null;
  appSecret: string;
  verifyToken: string;
}

// Each secret column is sealed for its own purpose, so sealed values cannot be swapped between columns.
const SECRET_COLUMNS = {
  accessToken: 'platform_integrations.access_token',
  appSecret: 'platform_integrations.app_secret',
  verifyToken: 'platform_integrations.verify_token',
} as const;
type SecretColumn = keyof typeof SECRET_COLUMNS;

const WEBHOOK_CACHE_TTL_MS = 30_000;
const WEBHOOK_CACHE_MAX = 10_000;

/** What IntegrationService is built from. */
export interface IntegrationServiceDeps {
  db: Database;
  bus: EventBus;
  config: Pick<AppConfig, 'publicUrl'>;
}

export class IntegrationService {
  private readonly webhookCache = new Map<string, { integration: WebhookIntegration | null; expiresAt: number }>();

  constructor(
    private readonly deps: IntegrationServiceDeps,
    private readonly secrets: SecretBox,
  ) {}

  /** The URL to configure at Meta, from the current PUBLIC_URL. */
  webhookUrl(integration: { id: string; platform: Platform }): string {
    return `${this.deps.config.publicUrl}/webhooks/${integration.platform.toLowerCase()}/${integration.id}`;
  }

  async list(session: Session, query: PrismaSelection = {}) {
    const { organizationId } = session.assertAdmin(session.organizationId);
    return this.deps.db.prisma.platformIntegration.findMany({
      ...query,
      where: { organizationId },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
  }

  async create(session: Session, input: CreateIntegrationInput, query: PrismaSelection = {}) {
    const viewer = session.assertAdmin(session.organizationId);
    // The id is chosen here so that the stored webhook_url, which contains it, is written with the row.
    const id = randomUUID();
    return this.deps.db.prisma.$transaction(async (tx) => {
      await this.assertAccountFree(tx, viewer.organizationId, input.platform, input.platformAccountId ?? null, null);
      await recordAudit(tx, {
        organizationId: viewer.organizationId,
        action: 'integration-created',
        actorUserId: viewer.id,
        details: { integrationId: id, platform: input.platform },
        address: viewer.clientAddress ?? null,
      });
      return tx.platformIntegration.create({
        ...query,
        data: {
          id,
          organizationId: viewer.organizationId,
          platform: input.platform,
          integrationName: input.integrationName,
          webhookUrl: this.webhookUrl({ id, platform: input.platform }),
          accessToken: this.seal('accessToken', input.accessToken),
          appSecret: this.seal('appSecret', input.appSecret),
          verifyToken: this.seal('verifyToken', input.verifyToken),
          businessPhone: input.businessPhone ?? null,
          businessAccountId: input.businessAccountId ?? null,
          platformAccountId: input.platformAccountId ?? null,
          settings: (input.settings ?? {}) as Prisma.InputJsonObject,
          createdBy: viewer.id,
        },
      });
    });
  }

  /**
   * Changes what is given. A given secret replaces the stored one; secrets not given are re-sealed with the
   * current key when an older one sealed them, so every update also completes a key rotation for its row.
   */
  async update(session: Session, input: UpdateIntegrationInput, query: PrismaSelection = {}) {
    const viewer = session.assertAdmin(session.organizationId);
    const { organizationId } = viewer;
    const updated = await this.deps.db.prisma.$transaction(async (tx) => {
      const current = await tx.platformIntegration.findFirst({ where: { id: input.id, organizationId } });
      if (!current) throw notFound('Platform integration');
      const platformAccountId =
        input.platformAccountId !== undefined ? input.platformAccountId : current.platformAccountId;
      const isActive = input.isActive ?? current.isActive;
      if (isActive) await this.assertAccountFree(tx, organizationId, current.platform, platformAccountId, current.id);
      const secret = (column: SecretColumn) => {
        const given = input[column];
        return given != null ? this.seal(column, given) : this.secrets.reseal(current[column], SECRET_COLUMNS[column]);
      };
      const updated = await tx.platformIntegration.update({
        ...query,
        where: { id: current.id },
        data: {
          ...(input.integrationName != null ? { integrationName: input.integrationName } : {}),
          ...(input.businessPhone !== undefined ? { businessPhone: input.businessPhone } : {}),
          ...(input.businessAccountId !== undefined ? { businessAccountId: input.businessAccountId } : {}),
          ...(input.settings != null ? { settings: input.settings as Prisma.InputJsonObject } : {}),
          platformAccountId,
          isActive,
          accessToken: secret('accessToken'),
          appSecret: secret('appSecret'),
          verifyToken: secret('verifyToken'),
          webhookUrl: this.webhookUrl(current),
          // A new access token is a fresh start: its sends (those that waited on a refused token too) go ahead.
          ...(input.accessToken != null
            ? { healthStatus: 'OK' as const, healthError: null, consecutiveFailures: 0, healthCheckedAt: new Date() }
            : {}),
        },
      });
      // Recorded last: the audit row's key-share lock on the organization must not come before assertAccountFree's
      // lock on it, or two updates deadlock. Names of what changed, never values (secrets are write-only, and
      // settings may hold anything).
      const changed = Object.entries(input)
        .filter(([field, value]) => field !== 'id' && value !== undefined && !(field in SECRET_COLUMNS))
        .map(([field]) => field);
      const replaced = (Object.keys(SECRET_COLUMNS) as SecretColumn[]).filter((column) => input[column] != null);
      const audited = { organizationId, actorUserId: viewer.id, address: viewer.clientAddress ?? null };
      await recordAudit(
        tx,
        ...(changed.length > 0
          ? [{ ...audited, action: 'integration-updated' as const, details: { integrationId: current.id, changed } }]
          : []),
        ...(replaced.length > 0
          ? [
              {
                ...audited,
                action: 'integration-secrets-replaced' as const,
                details: { integrationId: current.id, secrets: replaced },
              },
            ]
          : []),
      );
      return updated;
    });
    this.announceChange(updated.id);
    return updated;
  }

  /** Stops webhooks (404) and sends through the integration; its history and links stay. */
  async deactivate(session: Session, id: string, query: PrismaSelection = {}) {
    const viewer = session.assertAdmin(session.organizationId);
    const { organizationId } = viewer;
    await this.deps.db.prisma.$transaction(async (tx) => {
      const { count } = await tx.platformIntegration.updateMany({
        where: { id, organizationId },
        data: { isActive: false },
      });
      if (count === 0) throw notFound('Platform integration');
      await recordAudit(tx, {
        organizationId,
        action: 'integration-deactivated',
        actorUserId: viewer.id,
        details: { integrationId: id },
        address: viewer.clientAddress ?? null,
      });
    });
    this.announceChange(id);
    return this.deps.db.prisma.platformIntegration.findUniqueOrThrow({ ...query, where: { id } });
  }

  /** Every instance forgets what it cached about the integration (see forWebhook). */
  private announceChange(id: string): void {
    this.webhookCache.delete(id);
    const event: IntegrationChangedEvent = { type: 'integration.changed', integrationId: id };
    this.deps.bus.publish(INTEGRATION_CHANGES_TOPIC, event);
  }

  /** Called for integration-change events from any instance. */
  forget(id: string): void {
    this.webhookCache.delete(id);
  }

  /**
   * The active integration a webhook URL names, or null when there is none (404 at the route). Meta posts
   * every event to the same URL, so the row and its opened secrets are cached briefly; a change to the
   * integration on any instance evicts it everywhere at once.
   */
  async forWebhook(id: string, platform: Platform): Promise<WebhookIntegration | null> {
    const now = Date.now();
    const cached = this.webhookCache.get(id);
    if (cached && cached.expiresAt > now) return cached.integration?.platform === platform ? cached.integration : null;
    const integration = await this.loadForWebhook(id);
    if (this.webhookCache.size >= WEBHOOK_CACHE_MAX) this.webhookCache.clear();
    this.webhookCache.set(id, { integration, expiresAt: now + WEBHOOK_CACHE_TTL_MS });
    return integration?.platform === platform ? integration : null;
  }

  private async loadForWebhook(id: string): Promise<WebhookIntegration | null> {
    const row = await this.deps.db.prisma.platformIntegration.findFirst({ where: { id, isActive: true } });
    if (!row) return null;
    return {
      id: row.id,
      organizationId: row.organizationId,
      platform: row.platform,
      platformAccountId: row.platformAccountId,
      appSecret: this.open(row, 'appSecret'),
      verifyToken: this.open(row, 'verifyToken'),
    };
  }

  /** The access token the Graph API is called with. */
  accessTokenOf(integration: Pick<PlatformIntegration, 'accessToken'>): string {
    return this.open(integration, 'accessToken');
  }

  /**
   * Re-seals every integration's secrets that an older key sealed (operator CLI, after changing
   * ENCRYPTION_KEY and listing the old key in ENCRYPTION_PREVIOUS_KEYS). Rows no configured key opens are
   * left alone and named, so the operator can find the key that is still missing.
   */
  async resealAll(): Promise<{ resealed: number; unreadable: string[] }> {
    const { prisma } = this.deps.db;
    const rows = await prisma.platformIntegration.findMany({
      select: { id: true, organizationId: true, accessToken: true, appSecret: true, verifyToken: true },
    });
    const columns = Object.keys(SECRET_COLUMNS) as SecretColumn[];
    let resealed = 0;
    const unreadable: string[] = [];
    for (const row of rows) {
      if (!columns.some((column) => this.secrets.isStale(row[column]))) continue;
      let data: Record<SecretColumn, string>;
      try {
        data = Object.fromEntries(
          columns.map((column) => [column, this.secrets.reseal(row[column], SECRET_COLUMNS[column])]),
        ) as Record<SecretColumn, string>;
      } catch (error) {
        if (!(error instanceof SecretError)) throw error;
        unreadable.push(row.id);
        continue;
      }
      // Compare-and-set on the old values, so a concurrent update's new secrets are never overwritten.
      resealed += await prisma.$transaction(async (tx) => {
        const { count } = await tx.platformIntegration.updateMany({
          where: { id: row.id, accessToken: row.accessToken, appSecret: row.appSecret, verifyToken: row.verifyToken },
          data,
        });
        if (count > 0)
          await recordAudit(tx, {
            organizationId: row.organizationId,
            action: 'integration-secrets-resealed',
            details: { integrationId: row.id },
          });
        return count;
      });
    }
    return { resealed, unreadable };
  }

  private seal(column: SecretColumn, value: string): string {
    return this.secrets.seal(value, SECRET_COLUMNS[column]);
  }

  private open(row: Partial<Pick<PlatformIntegration, SecretColumn>>, column: SecretColumn): string {
    const sealed = row[column];
    if (sealed === undefined) throw new Error(`${column} was not loaded`);
    return this.secrets.open(sealed, SECRET_COLUMNS[column]);
  }

  /**
   * Inbound WhatsApp changes are routed by their phone_number_id, so two active integrations of an
   * organization may not claim the same account. Serialised per organization (the organization row's lock).
   */
  private async assertAccountFree(
    tx: Prisma.TransactionClient,
    organizationId: string,
    platform: Platform,
    platformAccountId: string | null,
    exceptId: string | null,
  ): Promise<void> {
    if (!platformAccountId) return;
    await tx.$executeRaw`SELECT 1 FROM organizations WHERE id = ${organizationId}::uuid FOR UPDATE`;
    const taken = await tx.platformIntegration.findFirst({
      where: {
        organizationId,
        platform,
        platformAccountId,
        isActive: true,
        ...(exceptId ? { id: { not: exceptId } } : {}),
      },
      select: { id: true },
    });
    if (taken) throw conflict(`Another active ${platform.toLowerCase()} integration uses account ${platformAccountId}`);
  }
}
