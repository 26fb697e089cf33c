import type { OrganizationHubs } from '../../realtime/organization-hub.js';
import type { MessageEventKind } from '../../realtime/org-events.js';
import { type MessageRecord, toWire } from './message-record.js';

/**
 * Announces message changes to every instance, once they are committed: each carries the organization
 * sequence number the writer gave the change, by which subscribers receive them in order.
 */
export class MessageEvents {
  constructor(private readonly hubs: OrganizationHubs) {}

  /** `requestId` names the request (or webhook delivery) that made the change in the log lines of its fan-out. */
  publish(kind: MessageEventKind, message: MessageRecord, requestId?: string): void {
    void this.hubs.publish(message.organizationId, {
      type: 'message',
      kind,
      seq: message.eventSeq,
      message: toWire(message),
      requestId,
    });
  }
}
