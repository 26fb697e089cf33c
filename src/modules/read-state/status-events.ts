import { appendToLog, type SqlRunner } from '../events/event-log.js';
import type { StatusChange } from '../events/organization-events.js';
import type { OrganizationStream } from '../events/organization-stream.js';

/** At most this many message ids go into one status change; a read covers older messages too. */
const MAX_IDS_PER_CHANGE = 500;

export type StatusUpdate = Omit<StatusChange, 'type' | 'seq'>;

/**
 * Status changes (read receipts, deliveries, the outbox's sends, platform reports) as the organization's stream
 * carries them: logged in the transaction that changed the statuses, published once it has committed.
 */
export class StatusEvents {
  constructor(private readonly stream: OrganizationStream) {}

  /** Logs the changes in the caller's transaction; returns them numbered, for `publish` after the commit. */
  log(run: SqlRunner, organizationId: string, updates: StatusUpdate[]): Promise<StatusChange[]> {
    return appendToLog(
      run,
      organizationId,
      updates
        .filter((update) => update.messageIds.length > 0)
        // The newest ones: a read position covers everything before it anyway.
        .map((update) => ({
          type: 'status' as const,
          ...update,
          messageIds: update.messageIds.slice(-MAX_IDS_PER_CHANGE),
        })),
    );
  }

  publish(organizationId: string, changes: StatusChange[]): void {
    for (const change of changes) void this.stream.publish(organizationId, change);
  }
}
