import type { Session } from '../../auth/session.js';
import type { Prisma } from '../../generated/prisma/client.js';
import type { Platform } from '../../generated/prisma/enums.js';
import { badInput, conflict, isUniqueViolation, notFound } from '../../lib/errors.js';
import type { PrismaSelection } from '../../lib/prisma-selection.js';
import type { Database } from '../../db/database.js';
import { GuessBudgets } from './guess-budgets.js';
import { CODE_TTL_MS, codeIn, generateVerificationCode } from './verification-codes.js';

/** Who wrote, as the platform names them: WhatsApp's wa_id / Instagram's scoped id, and WhatsApp's BSUID. */
export interface PlatformSender {
  platformUserId: string | null;
  scopedUserId: string | null;
}

export interface CreateLinkInput {
  clientUserId: string;
  platformIntegrationId: string;
  platformUserId?: string | null;
}

/** The integration an inbound event came through, already resolved from the webhook URL. */
export interface LinkIntegration {
  id: string;
  organizationId: string;
  platform: Platform;
}

export type VerificationOutcome =
  /** The text holds nothing shaped like a code: not an attempt at all. */
  | { status: 'no-code' }
  | { status: 'verified'; linkId: string; clientUserId: string }
  | { status: 'refused'; reason: VerificationRefusal };

export type VerificationRefusal =
  'rate-limited' | 'integration-rate-limited' | 'unknown-code' | 'expired' | 'sender-mismatch' | 'already-linked';

/** What ClientLinkService is built from. */
export interface ClientLinkServiceDeps {
  db: Database;
}

export class ClientLinkService {
  private readonly budgets;

  constructor(private readonly deps: ClientLinkServiceDeps) {
    this.budgets = new GuessBudgets(deps.db.pool);
  }

  async list(session: Session, filter: { clientUserId?: string | null }, query: PrismaSelection = {}) {
    const { organizationId } = session.assertAdmin(session.organizationId);
    return this.deps.db.prisma.clientPlatformLink.findMany({
      ...query,
      where: { client: { organizationId }, ...(filter.clientUserId ? { clientUserId: filter.clientUserId } : {}) },
      orderBy: [{ createdAt: 'desc' }, { id: 'asc' }],
    });
  }

  /**
   * Issues a verification code for a client on an integration (pending until the client sends it from the
   * platform). Issuing again for the same client and integration replaces the pending code; a verified link
   * is not silently reset.
   */
  async create(session: Session, input: CreateLinkInput, query: PrismaSelection = {}) {
    const { organizationId } = session.assertAdmin(session.organizationId);
    const { prisma } = this.deps.db;
    const client = await prisma.user.findFirst({
      where: { id: input.clientUserId, organizationId },
      select: { role: true },
    });
    if (!client) throw notFound('User');
    if (client.role !== 'CLIENT') throw badInput('input.clientUserId', 'must be a client user');
    const integration = await prisma.platformIntegration.findFirst({
      where: { id: input.platformIntegrationId, organizationId },
      select: { id: true, platform: true },
    });
    if (!integration) throw notFound('Platform integration');
    const platformUserId = input.platformUserId
      ? normalisePlatformUserId(integration.platform, input.platformUserId)
      : null;

    // A fresh code collides with a live one about once in 10^11 issues; trying again is the whole remedy.
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await prisma.$transaction(async (tx) => {
          const existing = await tx.clientPlatformLink.findUnique({
            where: {
              clientUserId_platformIntegrationId: {
                clientUserId: input.clientUserId,
                platformIntegrationId: integration.id,
              },
            },
            select: { verificationStatus: true },
          });
          if (existing?.verificationStatus === 'VERIFIED')
            throw conflict('This client is already verified on this integration');
          if (platformUserId) await assertPlatformUserFree(tx, integration.id, platformUserId, input.clientUserId);
          const pending = {
            platformUserId,
            platformScopedUserId: null,
            verificationCode: generateVerificationCode(),
            verificationStatus: 'PENDING' as const,
            verifiedAt: null,
            codeExpiresAt: new Date(Date.now() + CODE_TTL_MS),
          };
          return tx.clientPlatformLink.upsert({
            ...query,
            where: {
              clientUserId_platformIntegrationId: {
                clientUserId: input.clientUserId,
                platformIntegrationId: integration.id,
              },
            },
            create: { clientUserId: input.clientUserId, platformIntegrationId: integration.id, ...pending },
            update: pending,
          });
        });
      } catch (error) {
        if (!isUniqueViolation(error) || attempt === 3) {
          if (isUniqueViolation(error)) throw conflict('Could not issue a unique code; try again');
          throw error;
        }
      }
    }
  }

  /** The verified link of a sender on an integration, matched on either of the sender's ids. */
  async findVerified(integrationId: string, sender: PlatformSender) {
    const ids = senderMatch(sender);
    if (ids.length === 0) return null;
    return this.deps.db.prisma.clientPlatformLink.findFirst({
      where: { platformIntegrationId: integrationId, verificationStatus: 'VERIFIED', OR: ids },
      select: { id: true, clientUserId: true, platformUserId: true, platformScopedUserId: true },
    });
  }

  /**
   * Verifies a pending link when `text` (a message from `sender` on `integration`) holds its code (the first
   * code-shaped word: a message is one guess): the code must be unexpired and unused, and when the admin named
   * the platform user, the sender must be them. Each wrong guess counts against the integration and against
   * the sender (see GuessBudgets); after MAX_FAILED_GUESSES_PER_INTEGRATION on the integration from everyone,
   * or MAX_FAILED_GUESSES from the sender, within GUESS_WINDOW_MS, every code on it (or from them) is refused
   * until the window ends, the right one too.
   */
  async verify(integration: LinkIntegration, sender: PlatformSender, text: string): Promise<VerificationOutcome> {
    const code = codeIn(text);
    const senderKey = sender.platformUserId ?? sender.scopedUserId;
    if (!code || !senderKey) return { status: 'no-code' };
    const integrationKey = [integration.id];
    const senderKeys = [integration.id, senderKey];
    if (!(await this.budgets.charge('integration', integrationKey))) return refused('integration-rate-limited');
    if (!(await this.budgets.charge('sender', senderKeys))) {
      await this.budgets.refund('integration', integrationKey);
      return refused('rate-limited');
    }
    let outcome: VerificationOutcome;
    try {
      outcome = await this.tryCode(integration, sender, code);
    } catch (error) {
      // Not a guess that was judged: the customer may send it again.
      await Promise.all([
        this.budgets.refund('integration', integrationKey),
        this.budgets.refund('sender', senderKeys),
      ]).catch(() => undefined);
      throw error;
    }
    if (outcome.status === 'verified') {
      await Promise.all([this.budgets.refund('integration', integrationKey), this.budgets.clear('sender', senderKeys)]);
    } else if (outcome.status === 'refused' && outcome.reason === 'already-linked') {
      await Promise.all([
        this.budgets.refund('integration', integrationKey),
        this.budgets.refund('sender', senderKeys),
      ]);
    }
    return outcome;
  }

  /** Verifies the link holding `code` for `sender`, or says why not. */
  private tryCode(integration: LinkIntegration, sender: PlatformSender, code: string): Promise<VerificationOutcome> {
    return this.deps.db.prisma.$transaction(async (tx) => {
      const link = await tx.clientPlatformLink.findFirst({
        where: { platformIntegrationId: integration.id, verificationStatus: 'PENDING', verificationCode: code },
      });
      if (!link) return refused('unknown-code');
      if (!link.codeExpiresAt || link.codeExpiresAt.getTime() <= Date.now()) return refused('expired');
      if (
        link.platformUserId &&
        link.platformUserId !== sender.platformUserId &&
        link.platformUserId !== sender.scopedUserId
      )
        return refused('sender-mismatch');

      const taken = await tx.clientPlatformLink.findFirst({
        where: { platformIntegrationId: integration.id, id: { not: link.id }, OR: senderMatch(sender) },
        select: { id: true },
      });
      if (taken) return refused('already-linked');
      // Guarded on PENDING: of two messages carrying the same code, one verifies and the other finds it used.
      const { count } = await tx.clientPlatformLink.updateMany({
        where: { id: link.id, verificationStatus: 'PENDING' },
        data: {
          verificationStatus: 'VERIFIED',
          verifiedAt: new Date(),
          platformUserId: sender.platformUserId ?? link.platformUserId,
          platformScopedUserId: sender.scopedUserId ?? link.platformScopedUserId,
        },
      });
      if (count === 0) return refused('unknown-code');
      return { status: 'verified', linkId: link.id, clientUserId: link.clientUserId };
    });
  }

  /**
   * The customer's WhatsApp number changed (Meta's `user_changed_number`): the link now matches the new number,
   * so the old one no longer routes to this client. A new number already linked to someone else is refused.
   */
  async followNumberChange(linkId: string, newPlatformUserId: string): Promise<void> {
    await this.deps.db.prisma.clientPlatformLink
      .update({ where: { id: linkId }, data: { platformUserId: newPlatformUserId } })
      .catch((error: unknown) => {
        if (isUniqueViolation(error)) throw new Error('the new number is already linked to another client');
        throw error;
      });
  }

  /**
   * Notes when customers wrote (Meta's time; never moves back, so replays and out-of-order deliveries are
   * harmless), and learns a sender's business-scoped id when the link did not know it yet, unless another link
   * already holds it (a number that changed hands). One statement for any number of links.
   */
  async recordInbound(entries: { linkId: string; at: Date; scopedUserId: string | null }[]): Promise<void> {
    if (entries.length === 0) return;
    const update = (learnScopedIds: boolean) =>
      this.deps.db.pool.query(
        `UPDATE client_platform_links l SET
           last_inbound_at = GREATEST(l.last_inbound_at, e.at),
           platform_scoped_user_id = COALESCE(l.platform_scoped_user_id, CASE WHEN $4 AND NOT EXISTS (
             SELECT 1 FROM client_platform_links o
             WHERE o.platform_integration_id = l.platform_integration_id AND o.platform_scoped_user_id = e.scoped_user_id
           ) THEN e.scoped_user_id END)
         FROM unnest($1::uuid[], $2::timestamptz[], $3::text[]) AS e(link_id, at, scoped_user_id)
         WHERE l.id = e.link_id`,
        [entries.map((e) => e.linkId), entries.map((e) => e.at), entries.map((e) => e.scopedUserId), learnScopedIds],
      );
    try {
      await update(true);
    } catch (error) {
      // Two links claimed the same scoped id at once: the times still count; the ids wait for the next message.
      if (!isUniqueViolation(error)) throw error;
      await update(false);
    }
  }
}

const refused = (reason: VerificationRefusal): VerificationOutcome => ({ status: 'refused', reason });

/** Link conditions matching either of a sender's ids. */
function senderMatch(sender: PlatformSender): Prisma.ClientPlatformLinkWhereInput[] {
  return [
    ...(sender.platformUserId ? [{ platformUserId: sender.platformUserId }] : []),
    ...(sender.scopedUserId
      ? [{ platformScopedUserId: sender.scopedUserId }, { platformUserId: sender.scopedUserId }]
      : []),
  ];
}

/** WhatsApp identifies people by their number in digits only (wa_id); admins type it with `+`, spaces, dashes. */
export function normalisePlatformUserId(platform: Platform, value: string): string {
  const trimmed = value.trim();
  if (platform === 'WHATSAPP' && /^\+?[0-9][0-9 ().-]*$/.test(trimmed)) return trimmed.replace(/[^0-9]/g, '');
  return trimmed;
}

async function assertPlatformUserFree(
  tx: Prisma.TransactionClient,
  integrationId: string,
  platformUserId: string,
  clientUserId: string,
): Promise<void> {
  const taken = await tx.clientPlatformLink.findFirst({
    where: { platformIntegrationId: integrationId, platformUserId, clientUserId: { not: clientUserId } },
    select: { id: true },
  });
  if (taken) throw conflict('This platform user is already linked to another client on this integration');
}
