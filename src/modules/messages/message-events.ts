import type { MessageChangeKind } from '../events/organization-events.js';
import type { OrganizationStream } from '../events/organization-stream.js';
import type { MessageRecord } from './message-record.js';

/**
 * Announces message changes to every instance, once they are committed: each carries the organization
 * sequence number the writer gave the change, by which subscribers receive them in order.
 */
export class MessageEvents {
  constructor(private readonly stream: OrganizationStream) {}

  /** `requestId` names the request (or webhook delivery) that made the change in the log lines of its fan-out. */
  publish(kind: MessageChangeKind, message: MessageRecord, requestId?: string): void {
    void this.stream.publish(message.organizationId, {
      type: 'message',
      kind,
      seq: BigInt(message.eventSeq),
      message,
      requestId,
    });
  }
}
