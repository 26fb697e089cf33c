import type { Platform } from '../../generated/prisma/enums.js';
import { AppError } from '../../lib/errors.js';
import type { Database } from '../../db/database.js';
import { CHOSEN_LINK_ORDER } from './chosen-link.js';

// Meta lets a business write free-form to a customer only for a while after the customer last wrote: the
// customer-service window. Outside it WhatsApp needs a template; Instagram allows a human agent 7 days.

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

/** What CustomerServiceWindow is built from. */
export interface CustomerServiceWindowDeps {
  db: Database;
}

/** Whether a channel's clients may receive a free-form message now, read from when each last wrote. */
export class CustomerServiceWindow {
  constructor(private readonly deps: CustomerServiceWindowDeps) {}

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

  /**
   * CONFLICT, saying why, when freeFormWindow refuses; send a WhatsApp template instead. Otherwise the platforms
   * the message will go to.
   */
  async assertOpen(organizationId: string, channelId: string): Promise<Platform[]> {
    const window = await this.freeFormWindow(organizationId, channelId);
    const closed = window.recipients.filter((recipient) => !recipient.open);
    if (closed.length === 0) return [...new Set(window.recipients.map((recipient) => recipient.platform))];
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
