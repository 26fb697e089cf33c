import type { MessageStatus } from '../../generated/prisma/enums.js';
import type { OrganizationHubs } from '../../realtime/organization-hub.js';

/** One recipient's status, newly set on some messages of one channel. */
export interface StatusChange {
  organizationId: string;
  channelId: string;
  userId: string;
  status: MessageStatus;
  messageIds: string[];
  at: Date;
}

/** At most this many message ids go into one status event; a longer read covers older messages too. */
const MAX_IDS_PER_EVENT = 500;

/** Announces committed status changes (read receipts, deliveries, the outbox's sends) to every instance. */
export class StatusEvents {
  constructor(private readonly hubs: OrganizationHubs) {}

  publish(change: StatusChange): void {
    if (change.messageIds.length === 0) return;
    void this.hubs.publish(change.organizationId, {
      type: 'status',
      channelId: change.channelId,
      userId: change.userId,
      status: change.status,
      // The newest ones: a read position covers everything before it anyway.
      messageIds: change.messageIds.slice(-MAX_IDS_PER_EVENT),
      at: change.at.toISOString(),
    });
  }
}
