import type { ClientBase } from 'pg';
import type { Platform } from '../../generated/prisma/enums.js';
import { AppError } from '../../lib/errors.js';
import type { ServiceDeps } from '../../services.js';
import type { OutboxWorker } from './outbox-worker.js';

/** A message row as inserted (snake_case, as `RETURNING *` gives it): what enqueueing needs of it. */
export interface OutboundCandidate {
  id: string;
  organization_id: string;
  channel_id: string;
  user_id: string;
  /** `internal` for messages written here; inbound platform messages are never sent back out. */
  message_source: string;
}

export interface EnqueuedOutbound {
  id: string;
  messageId: string;
  clientPlatformLinkId: string;
  platformIntegrationId: string;
}

export interface WindowRecipient {
  clientUserId: string;
  linkId: string;
  platform: Platform;
  lastInboundAt: Date | null;
  /** Until when a free-form message may be sent (null: the customer never wrote). */
  windowClosesAt: Date | null;
  open: boolean;
}

export interface FreeFormWindow {
  /** Every client of the channel may receive a free-form message now (true when there are none). */
  allowed: boolean;
  recipients: WindowRecipient[];
}

const HOUR_MS = 3600_000;
/** WhatsApp: free-form replies within 24 hours of the customer's last message; templates any time. */
export const WHATSAPP_WINDOW_MS = 24 * HOUR_MS;
/** Instagram: 24 hours, extended to 7 days for a human agent (sent with the HUMAN_AGENT tag). */
export const INSTAGRAM_STANDARD_WINDOW_MS = 24 * HOUR_MS;
export const INSTAGRAM_HUMAN_AGENT_WINDOW_MS = 7 * 24 * HOUR_MS;

// Each client of a channel receives a message on one link: the one they most recently wrote from, else the
// most recently verified. Only verified links of active integrations and active clients count.
const CHOSEN_LINK_ORDER = 'l.last_inbound_at DESC NULLS LAST, l.verified_at DESC NULLS LAST, l.id';

export class OutboxService {
  constructor(
    private readonly deps: ServiceDeps,
    private readonly worker: OutboxWorker,
  ) {}

  /**
   * Inside the transaction that inserts messages (`client` has an open transaction): queues each staff
   * message written in a client's channel for delivery to that client's platform. Idempotent per message and
   * link. After the transaction commits, call wake() so the sender starts at once.
   */
  async enqueueInTransaction(
    client: Pick<ClientBase, 'query'>,
    messages: OutboundCandidate[],
  ): Promise<EnqueuedOutbound[]> {
    if (messages.length === 0) return [];
    const { rows } = await client.query<{
      id: string;
      message_id: string;
      client_platform_link_id: string;
      platform_integration_id: string;
    }>(
      `INSERT INTO outbound_messages (organization_id, message_id, platform_integration_id, client_platform_link_id)
       SELECT DISTINCT ON (m.id, a.client_user_id) m.organization_id, m.id, l.platform_integration_id, l.id
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[])
              AS m(id, organization_id, channel_id, user_id, message_source)
       JOIN users author ON author.id = m.user_id AND author.organization_id = m.organization_id
                        AND author.role <> 'client'
       JOIN client_channel_assignments a ON a.channel_id = m.channel_id AND a.is_active
       JOIN users c ON c.id = a.client_user_id AND c.organization_id = m.organization_id AND c.is_active
       JOIN client_platform_links l ON l.client_user_id = c.id AND l.verification_status = 'verified'
       JOIN platform_integrations i ON i.id = l.platform_integration_id AND i.organization_id = m.organization_id
                                   AND i.is_active
       WHERE lower(m.message_source) = 'internal'
       ORDER BY m.id, a.client_user_id, ${CHOSEN_LINK_ORDER}
       ON CONFLICT (message_id, client_platform_link_id) DO NOTHING
       RETURNING id, message_id, client_platform_link_id, platform_integration_id`,
      [
        messages.map((message) => message.id),
        messages.map((message) => message.organization_id),
        messages.map((message) => message.channel_id),
        messages.map((message) => message.user_id),
        messages.map((message) => message.message_source),
      ],
    );
    return rows.map((row) => ({
      id: row.id,
      messageId: row.message_id,
      clientPlatformLinkId: row.client_platform_link_id,
      platformIntegrationId: row.platform_integration_id,
    }));
  }

  /** Tells this instance's sender that rows were queued (other instances find them at their next poll). */
  wake(): void {
    this.worker.wake();
  }

  /**
   * Whether the clients of a channel may receive a free-form (non-template) message now: within 24 hours of
   * their last message on WhatsApp, 7 days on Instagram (as a human agent).
   */
  async freeFormWindow(organizationId: string, channelId: string, now = new Date()): Promise<FreeFormWindow> {
    const { rows } = await this.deps.db.pool.query<{
      client_user_id: string;
      link_id: string;
      platform: 'whatsapp' | 'instagram';
      last_inbound_at: Date | null;
    }>(
      `SELECT DISTINCT ON (a.client_user_id)
              a.client_user_id, l.id AS link_id, i.platform::text AS platform, l.last_inbound_at
       FROM client_channel_assignments a
       JOIN users c ON c.id = a.client_user_id AND c.organization_id = $1 AND c.is_active
       JOIN client_platform_links l ON l.client_user_id = c.id AND l.verification_status = 'verified'
       JOIN platform_integrations i ON i.id = l.platform_integration_id AND i.organization_id = $1 AND i.is_active
       WHERE a.channel_id = $2 AND a.is_active
       ORDER BY a.client_user_id, ${CHOSEN_LINK_ORDER}`,
      [organizationId, channelId],
    );
    const recipients = rows.map((row): WindowRecipient => {
      const platform = row.platform.toUpperCase() as Platform;
      const span = platform === 'WHATSAPP' ? WHATSAPP_WINDOW_MS : INSTAGRAM_HUMAN_AGENT_WINDOW_MS;
      const windowClosesAt = row.last_inbound_at ? new Date(row.last_inbound_at.getTime() + span) : null;
      return {
        clientUserId: row.client_user_id,
        linkId: row.link_id,
        platform,
        lastInboundAt: row.last_inbound_at,
        windowClosesAt,
        open: windowClosesAt !== null && windowClosesAt > now,
      };
    });
    return { allowed: recipients.every((recipient) => recipient.open), recipients };
  }

  /** CONFLICT, saying why, when freeFormWindow refuses; send a WhatsApp template instead. */
  async assertFreeFormAllowed(organizationId: string, channelId: string): Promise<void> {
    const window = await this.freeFormWindow(organizationId, channelId);
    const closed = window.recipients.filter((recipient) => !recipient.open);
    if (closed.length === 0) return;
    const first = closed[0]!;
    const reason =
      first.platform === 'WHATSAPP'
        ? "WhatsApp allows free-form messages only within 24 hours of the customer's last message; send a template instead"
        : "Instagram allows messages only within 7 days of the customer's last message";
    throw new AppError('CONFLICT', `The customer service window is closed: ${reason}`, {
      reason: 'CUSTOMER_SERVICE_WINDOW_CLOSED',
      clients: closed.map((recipient) => ({
        clientUserId: recipient.clientUserId,
        platform: recipient.platform,
        windowClosedAt: recipient.windowClosesAt?.toISOString() ?? null,
      })),
    });
  }
}
