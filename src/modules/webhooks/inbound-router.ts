import type { Database } from '../../db/database.js';
import type { ClientLinkService, PlatformSender, VerificationRefusal } from '../client-links/links.service.js';
import type { RoutedIntegration } from './inbound-handler.js';

/** The integration a webhook URL names, as the processor knows it. */
export interface DeliveryIntegration extends RoutedIntegration {
  platformAccountId: string | null;
}

export type CustomerRoute =
  | { routed: true; linkId: string; clientUserId: string; channelId: string; verifiedNow: boolean }
  | { routed: false; reason: string };

const REFUSALS: Record<VerificationRefusal, string> = {
  'rate-limited': 'too many wrong codes from this sender; try again later',
  'integration-rate-limited': 'too many wrong codes on this integration; try again later',
  'unknown-code': 'no pending link has that code',
  expired: 'the code has expired; issue a new one',
  'sender-mismatch': 'the code was issued for another platform user',
  'already-linked': 'this platform user is already linked to another client',
};

/** What InboundRouter is built from. */
export interface InboundRouterDeps {
  db: Database;
}

/**
 * Routing per the ER: a customer's verified client_platform_links row -> the client user -> their active
 * client_channel_assignments row -> the channel. Every lookup stays inside the delivery's organization.
 */
export class InboundRouter {
  constructor(
    private readonly deps: InboundRouterDeps,
    private readonly links: ClientLinkService,
  ) {}

  /**
   * The integration an event belongs to. One Meta app may send every number's changes to one callback URL, so
   * a WhatsApp change is routed by its phone_number_id to the organization's integration with that account;
   * the URL's integration takes changes for its own account, or for any account when it names none.
   */
  async integrationFor(
    urlIntegration: DeliveryIntegration,
    businessAccountId: string | null,
  ): Promise<RoutedIntegration | null> {
    const own = {
      id: urlIntegration.id,
      organizationId: urlIntegration.organizationId,
      platform: urlIntegration.platform,
    };
    if (
      urlIntegration.platform !== 'WHATSAPP' ||
      !businessAccountId ||
      urlIntegration.platformAccountId === businessAccountId
    )
      return own;
    const owner = await this.deps.db.prisma.platformIntegration.findFirst({
      where: {
        organizationId: urlIntegration.organizationId,
        platform: 'WHATSAPP',
        platformAccountId: businessAccountId,
        isActive: true,
      },
      select: { id: true, organizationId: true, platform: true },
    });
    if (owner) return owner;
    return urlIntegration.platformAccountId ? null : own;
  }

  /**
   * The client and channel a customer's event goes to. When the customer is not linked yet and `text` holds a
   * pending link's code, the link is verified first (so the message carrying the code is routed too).
   */
  async routeCustomer(
    integration: RoutedIntegration,
    customer: PlatformSender,
    text: string | null,
  ): Promise<CustomerRoute> {
    let link: { id: string; clientUserId: string } | null = await this.links.findVerified(integration.id, customer);
    let verifiedNow = false;
    if (!link) {
      const outcome = text ? await this.links.verify(integration, customer, text) : { status: 'no-code' as const };
      if (outcome.status === 'refused')
        return {
          routed: false,
          reason: `sender is not linked to a client (verification refused: ${REFUSALS[outcome.reason]})`,
        };
      if (outcome.status === 'no-code') return { routed: false, reason: 'sender is not linked to a client' };
      link = { id: outcome.linkId, clientUserId: outcome.clientUserId };
      verifiedNow = true;
    }
    const assignment = await this.deps.db.prisma.clientChannelAssignment.findFirst({
      where: {
        clientUserId: link.clientUserId,
        isActive: true,
        client: { isActive: true, organizationId: integration.organizationId },
      },
      select: { channelId: true },
    });
    if (!assignment)
      return { routed: false, reason: `client ${link.clientUserId} is inactive or has no channel assigned` };
    return {
      routed: true,
      linkId: link.id,
      clientUserId: link.clientUserId,
      channelId: assignment.channelId,
      verifiedNow,
    };
  }

  /** Our messages.id for a platform message id: a message we received, or one of our sends. */
  async messageIdFor(integration: RoutedIntegration, externalMessageId: string): Promise<string | null> {
    const { prisma } = this.deps.db;
    const received = await prisma.message.findFirst({
      where: {
        platformIntegrationId: integration.id,
        externalMessageId,
        organizationId: integration.organizationId,
      },
      select: { id: true },
    });
    if (received) return received.id;
    const sent = await this.sendOf(integration, externalMessageId);
    return sent?.messageId ?? null;
  }

  /** The outbox row that sent a platform message id, with the client it went to. */
  async sendOf(integration: RoutedIntegration, externalMessageId: string) {
    const row = await this.deps.db.prisma.outboundMessage.findFirst({
      where: { platformIntegrationId: integration.id, externalMessageId, organizationId: integration.organizationId },
      select: { id: true, messageId: true, link: { select: { clientUserId: true } } },
    });
    return row ? { outboundMessageId: row.id, messageId: row.messageId, clientUserId: row.link.clientUserId } : null;
  }

  /**
   * Whether an echo is of one of our own sends. Meta can deliver the echo before the Graph API call that sent
   * it has returned its id; while a send through the integration is in flight, wait briefly for it to land.
   */
  async isOwnSend(integration: RoutedIntegration, externalMessageId: string, waitMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (await this.sendOf(integration, externalMessageId)) return true;
      const inFlight = await this.deps.db.prisma.outboundMessage.count({
        where: { platformIntegrationId: integration.id, status: 'PENDING', lockedUntil: { gt: new Date() } },
      });
      if (inFlight === 0 || Date.now() >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
