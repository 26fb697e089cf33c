import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { z } from 'zod';
import { AppError, badInput } from '../../lib/errors.js';
import { NOT_ISSUED } from '../../schema/pagination.js';
import type { MessageRecord } from './message-record.js';

/**
 * One cursor for history pages and for every kind of realtime event: a point in the organization's sequence,
 * meaning "everything up to here was seen". Every change of an organization (a message created, edited or
 * deleted, a reaction, a status, a channel change) has a number in that one sequence, given in commit order, so:
 * - `messages(after:)` returns the channel's messages created after the point, in order;
 * - a subscription's `after` replays every event after the point, then continues live.
 * An event that reaches a subscriber as several (a read receipt covering many messages, say) gives each part a
 * cursor of its own: `part` counts the parts of event `seq` that were seen, all of those before it being seen
 * (0: event `seq` was seen whole).
 */
export interface SequenceCursor {
  seq: bigint;
  part: number;
}

/** The point after part `part` (from 0) of the `parts` parts of event `seq`: after its last part, the event whole. */
export const afterPart = (seq: bigint, part: number, parts: number): SequenceCursor => ({
  seq,
  part: part === parts - 1 ? 0 : part + 1,
});

/** A decoded cursor, before its signature is checked. */
type Decoded =
  | (SequenceCursor & { format: 's1'; mac: string; signed: string })
  /** A cursor of the earlier format, which clients may still hold: a message's creation time and id besides. */
  | (SequenceCursor & { format: 'm1'; createdAtUs: bigint; messageId: string });

const MAX_SEQ = 2n ** 63n - 1n;
const MAX_PART = 1_000_000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const NUMBER = /^(0|[1-9]\d{0,18})$/;
const MAC = /^[A-Za-z0-9_-]{16}$/;
/** Creation times of `m1` cursors are from the epoch to the end of year 9999, in microseconds. */
const END_OF_TIME_US = 253_402_300_800_000_000n;

const base64url = (text: string) => Buffer.from(text).toString('base64url');

/** The point a cursor covers whole: history after it starts with the next message created. */
export const wholeUpTo = (cursor: SequenceCursor): bigint => (cursor.part > 0 ? cursor.seq - 1n : cursor.seq);

/**
 * Reads a cursor's shape (`s1` or the older `m1`), or undefined unless it is exactly what this server writes
 * (base64url without padding or stray characters) with values that fit the database's types.
 */
function decode(value: string): Decoded | undefined {
  if (value.length > 200) return undefined;
  const text = Buffer.from(value, 'base64url').toString('utf8');
  if (base64url(text) !== value) return undefined;
  const [prefix, ...fields] = text.split(':');
  if (prefix === 's1' && (fields.length === 2 || fields.length === 3)) {
    const mac = fields.pop()!;
    const [seq, part = '0'] = fields;
    if (!NUMBER.test(seq!) || !NUMBER.test(part) || (fields.length === 2 && part === '0') || !MAC.test(mac))
      return undefined;
    const cursor = { seq: BigInt(seq!), part: Number(part) };
    if (cursor.seq > MAX_SEQ || cursor.part > MAX_PART) return undefined;
    return { ...cursor, format: 's1', mac, signed: text.slice(0, text.length - mac.length - 1) };
  }
  if (prefix === 'm1' && fields.length === 3) {
    const [seq, createdAtUs, id] = fields;
    if (!NUMBER.test(seq!) || !/^(0|[1-9]\d{0,17})$/.test(createdAtUs!) || !UUID.test(id!)) return undefined;
    if (BigInt(seq!) > MAX_SEQ || BigInt(createdAtUs!) >= END_OF_TIME_US) return undefined;
    return { format: 'm1', seq: BigInt(seq!), part: 0, createdAtUs: BigInt(createdAtUs!), messageId: id! };
  }
  return undefined;
}

/** For input validation: a cursor in a format this server issues (`SequenceCursors.issued` checks the rest). */
export const sequenceCursorSchema = z.string().refine((value) => decode(value) !== undefined, { error: NOT_ISSUED });

/**
 * Issues and checks cursors. A cursor is signed for its organization (HMAC with a key derived from
 * ENCRYPTION_KEY, so every instance accepts every instance's cursors): one this server did not issue, or another
 * organization's, is refused. Keys in ENCRYPTION_PREVIOUS_KEYS still verify during a rotation.
 */
export class SequenceCursors {
  private readonly keys: Buffer[];

  constructor(encryptionKeys: { current: Buffer; previous: Buffer[] }) {
    this.keys = [encryptionKeys.current, ...encryptionKeys.previous].map((key) =>
      Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'chat-server sequence cursors', 32)),
    );
  }

  encode(organizationId: string, cursor: SequenceCursor): string {
    const signed = cursor.part > 0 ? `s1:${cursor.seq}:${cursor.part}` : `s1:${cursor.seq}`;
    return base64url(`${signed}:${this.mac(this.keys[0]!, organizationId, signed)}`);
  }

  /** The cursor of a message in a history page: the client has everything up to its creation. */
  ofMessage(message: MessageRecord): string {
    return this.encode(message.organizationId, { seq: BigInt(message.createdSeq), part: 0 });
  }

  /**
   * The cursor a client sent back, when this server issued it for the viewer's organization and the
   * organization's sequence has reached it (one ahead of it is BAD_USER_INPUT: a client told to retry would
   * retry forever). With `resumable`, the events after it must still be kept: a cursor older than the retention
   * (EVENT_RETENTION_DAYS) is CURSOR_EXPIRED, telling the client to refetch its state and subscribe afresh.
   */
  async issued(
    db: pg.Pool,
    organizationId: string,
    value: string,
    field: string,
    options: { resumable?: boolean } = {},
  ): Promise<SequenceCursor> {
    const cursor = this.read(organizationId, value);
    if (!cursor) throw badInput(field, NOT_ISSUED);
    const { rows } = await db.query<{ lastSeq: string; retainedFromSeq: string; issuedM1: boolean | null }>(
      `SELECT s.last_seq::text AS "lastSeq", s.retained_from_seq::text AS "retainedFromSeq",
         (SELECT (extract(epoch FROM m.created_at) * 1000000)::bigint = $3 AND m.created_seq <= $4 AND $4 <= m.event_seq
          FROM messages m WHERE m.id = $2 AND m.organization_id = $1) AS "issuedM1"
       FROM message_sequences s WHERE s.organization_id = $1`,
      [
        organizationId,
        cursor.format === 'm1' ? cursor.messageId : null,
        cursor.format === 'm1' ? cursor.createdAtUs.toString() : null,
        cursor.seq.toString(),
      ],
    );
    const sequence = rows[0];
    // An m1 cursor named a message of the organization with its creation time, at a number of its life.
    if (!sequence || cursor.seq > BigInt(sequence.lastSeq) || (cursor.format === 'm1' && !sequence.issuedM1))
      throw badInput(field, NOT_ISSUED);
    if (options.resumable && wholeUpTo(cursor) < BigInt(sequence.retainedFromSeq))
      throw new AppError(
        'CURSOR_EXPIRED',
        'The events after this cursor are no longer kept: fetch the current state again and subscribe without it',
        { field },
      );
    return { seq: cursor.seq, part: cursor.part };
  }

  /**
   * A cursor's point, if it is well-formed and (for `s1`) signed for this organization by one of the keys;
   * `m1` cursors carry no signature (`issued` checks them against the database).
   */
  read(organizationId: string, value: string): Decoded | undefined {
    const cursor = decode(value);
    if (cursor?.format !== 's1') return cursor;
    const expected = Buffer.from(cursor.mac);
    const signedByUs = this.keys.some((key) => {
      const mac = Buffer.from(this.mac(key, organizationId, cursor.signed));
      return mac.length === expected.length && timingSafeEqual(mac, expected);
    });
    return signedByUs ? cursor : undefined;
  }

  private mac(key: Buffer, organizationId: string, signed: string): string {
    return createHmac('sha256', key).update(`${organizationId}|${signed}`).digest('base64url').slice(0, 16);
  }
}
