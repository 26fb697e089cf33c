import type { ClientBase } from 'pg';
import type { MessageRecord } from '../messages/message-record.js';
import type { PlatformDeliveries } from '../messages/message-writer.js';
import { CHOSEN_LINK_ORDER } from './chosen-link.js';
import type { OutboxWorker } from './outbox-worker.js';

/** The platform outbox as the message writer sees it: deliveries queued with the messages, then sent. */
export class OutboxService implements PlatformDeliveries {
  constructor(private readonly worker: Pick<OutboxWorker, 'wake'>) {}

  /**
   * Inside the transaction that inserts messages (`client` has an open transaction): queues each staff
   * message written in a client's channel for delivery to that client's platform. Idempotent per message and
   * link; returns how many deliveries were queued. After the transaction commits, call wake() so the sender
   * starts at once.
   */
  async enqueueInTransaction(
    client: Pick<ClientBase, 'query'>,
    messages: Pick<MessageRecord, 'id' | 'organizationId' | 'channelId' | 'userId' | 'messageSource' | 'internal'>[],
  ): Promise<number> {
    if (messages.length === 0) return 0;
    const { rowCount } = await client.query({
      // Prepared once per connection: the message writer runs this with every batch it writes.
      name: 'enqueue-deliveries',
      text: `INSERT INTO outbound_messages (organization_id, message_id, platform_integration_id, client_platform_link_id,
                                     message_seq)
       SELECT DISTINCT ON (m.id, a.client_user_id) m.organization_id, m.id, l.platform_integration_id, l.id,
              -- Read only for the rows that have a recipient (the batch's INSERT, before this, wrote the message).
              (SELECT created_seq FROM messages WHERE id = m.id)
       FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::uuid[], $5::text[], $6::boolean[])
              AS m(id, organization_id, channel_id, user_id, message_source, internal)
       JOIN users author ON author.id = m.user_id AND author.organization_id = m.organization_id
                        AND author.role <> 'client'
       JOIN client_channel_assignments a ON a.channel_id = m.channel_id AND a.is_active
       JOIN users c ON c.id = a.client_user_id AND c.organization_id = m.organization_id AND c.is_active
       JOIN client_platform_links l ON l.client_user_id = c.id AND l.verification_status = 'verified'
       JOIN platform_integrations i ON i.id = l.platform_integration_id AND i.organization_id = m.organization_id
                                   AND i.is_active
       -- Written in the app, and not an internal note (a note is never sent, so no retry can send it either).
       WHERE m.message_source = 'INTERNAL' AND NOT m.internal
       ORDER BY m.id, a.client_user_id, ${CHOSEN_LINK_ORDER}
       ON CONFLICT (message_id, client_platform_link_id) DO NOTHING`,
      values: [
        messages.map((message) => message.id),
        messages.map((message) => message.organizationId),
        messages.map((message) => message.channelId),
        messages.map((message) => message.userId),
        messages.map((message) => message.messageSource),
        messages.map((message) => message.internal),
      ],
    });
    return rowCount ?? 0;
  }

  /** Tells this instance's sender that rows were queued (other instances find them at their next poll). */
  wake(): void {
    this.worker.wake();
  }
}
