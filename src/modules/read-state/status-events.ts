import type { StatusChange } from '../events/organization-events.js';
import type { OrganizationStream } from '../events/organization-stream.js';

/** At most this many message ids go into one status event; a longer read covers older messages too. */
const MAX_IDS_PER_EVENT = 500;

/** Announces committed status changes (read receipts, deliveries, the outbox's sends) to every instance. */
export class StatusEvents {
  constructor(private readonly stream: OrganizationStream) {}

  publish(organizationId: string, change: Omit<StatusChange, 'type'>): void {
    if (change.messageIds.length === 0) return;
    void this.stream.publish(organizationId, {
      type: 'status',
      ...change,
      // The newest ones: a read position covers everything before it anyway.
      messageIds: change.messageIds.slice(-MAX_IDS_PER_EVENT),
    });
  }
}
