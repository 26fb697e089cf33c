import type pg from 'pg';
import type { Sequenced, SequenceSource } from '../../realtime/sequenced-delivery.js';
import { kindOfRow, readChangedMessages } from '../messages/changed-messages.js';
import type { MessageRecord } from '../messages/message-record.js';
import { readLog } from './event-log.js';
import type { MessageChange, MessageChangeKind, SequencedEvent } from './organization-events.js';

export interface ChangesRange {
  after: bigint;
  upTo?: bigint;
  /** Only these channels (and the logged changes that concern several); null: all. */
  channelIds?: string[] | null;
  /** Which kinds of change to read. */
  messages?: boolean;
  logged?: ('reaction' | 'status' | 'channel')[];
  limit: number;
  /** What a message row's change means (default: what its latest number stands for). */
  kindOf?: (row: MessageRecord) => MessageChangeKind;
}

/**
 * An organization's changes numbered in a range, in sequence order, from where each kind is kept: a message's
 * latest change is its row (`event_seq`; a message changed again since shows its current state under its later
 * number), every other change is in the event log. At most `limit` changes; when a page is full, what it covers
 * ends at its last change.
 */
export async function readChanges(
  pool: pg.Pool,
  organizationId: string,
  range: ChangesRange,
): Promise<SequencedEvent[]> {
  const [rows, logged] = await Promise.all([
    range.messages === false ? [] : readChangedMessages(pool, organizationId, range),
    range.logged?.length === 0 ? [] : readLog(pool, organizationId, { ...range, types: range.logged }),
  ]);
  const kindOf = range.kindOf ?? kindOfRow;
  const messages = rows.map((row): MessageChange => ({
    type: 'message',
    kind: kindOf(row),
    seq: BigInt(row.eventSeq),
    message: row,
  }));
  return [...messages, ...logged].sort((a, b) => (a.seq < b.seq ? -1 : 1)).slice(0, range.limit);
}

/** The organization's stream read back from the database, for what the bus lost. */
export function organizationEventSource(pool: pg.Pool, organizationId: string): SequenceSource<SequencedEvent> {
  return {
    async highWater() {
      const { rows } = await pool.query<{ seq: string }>(
        'SELECT last_seq::text AS seq FROM message_sequences WHERE organization_id = $1',
        [organizationId],
      );
      return BigInt(rows[0]?.seq ?? 0);
    },
    async read(after, upTo, limit): Promise<Sequenced<SequencedEvent>[]> {
      const changes = await readChanges(pool, organizationId, { after, upTo, limit });
      return changes.map((event) => ({ seq: event.seq, event }));
    },
  };
}
