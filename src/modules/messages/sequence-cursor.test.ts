import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { SequenceCursors, sequenceCursorSchema, wholeUpTo } from './sequence-cursor.js';

const ID = '0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69';
const ORG = 'a9378cdd-6fde-4cb9-9894-faf2805f1769';
const OTHER_ORG = '5c0c6f0e-1a62-4f43-9a3e-0d5b5f1b2b74';
const b64 = (text: string) => Buffer.from(text).toString('base64url');
const key = randomBytes(32);
const cursors = new SequenceCursors({ current: key, previous: [] });

describe('sequence cursors', () => {
  it('round-trip exactly, 64-bit sequence numbers and parts included', () => {
    for (const cursor of [
      { seq: 0n, part: 0 },
      { seq: 12345678901234n, part: 0 },
      { seq: 9223372036854775807n, part: 3 },
    ])
      expect(cursors.read(ORG, cursors.encode(ORG, cursor))).toMatchObject(cursor);
  });

  it('are signed for their organization: another organization, a forgery or a tampered number is refused', () => {
    const issued = cursors.encode(ORG, { seq: 42n, part: 0 });
    expect(cursors.read(OTHER_ORG, issued)).toBeUndefined();
    const [, seq, mac] = Buffer.from(issued, 'base64url').toString().split(':');
    expect(seq).toBe('42');
    expect(cursors.read(ORG, b64(`s1:43:${mac}`))).toBeUndefined();
    expect(cursors.read(ORG, b64('s1:42:AAAAAAAAAAAAAAAA'))).toBeUndefined();
    expect(new SequenceCursors({ current: randomBytes(32), previous: [] }).read(ORG, issued)).toBeUndefined();
  });

  it('stay valid across a key rotation while the old key is among the previous ones', () => {
    const issued = cursors.encode(ORG, { seq: 7n, part: 2 });
    const rotated = new SequenceCursors({ current: randomBytes(32), previous: [key] });
    expect(rotated.read(ORG, issued)).toMatchObject({ seq: 7n, part: 2 });
  });

  it('read the cursors clients already hold (m1) as their sequence number', () => {
    expect(cursors.read(ORG, b64(`m1:42:1795574142123457:${ID}`))).toMatchObject({ seq: 42n, part: 0 });
  });

  it('cover everything before an event of which only some parts were seen', () => {
    expect(wholeUpTo({ seq: 10n, part: 0 })).toBe(10n);
    expect(wholeUpTo({ seq: 10n, part: 2 })).toBe(9n);
  });

  it.each([
    ['empty', ''],
    ['not base64 of a cursor', 'bm90LWEtY3Vyc29y'],
    ['another version', b64('s2:1:AAAAAAAAAAAAAAAA')],
    ['no signature', b64('s1:1')],
    ['a non-numeric sequence', b64('s1:x:AAAAAAAAAAAAAAAA')],
    ['a part of 0 written out', b64('s1:5:0:AAAAAAAAAAAAAAAA')],
    ['extra fields', b64('s1:5:1:2:AAAAAAAAAAAAAAAA')],
    ['a sequence beyond bigint', b64('s1:9223372036854775808:AAAAAAAAAAAAAAAA')],
    ['leading zeros', b64('s1:05:AAAAAAAAAAAAAAAA')],
    ['an oversized value', 'a'.repeat(500)],
    ['an m1 cursor with a bad id', b64('m1:1:2:not-a-uuid')],
    ['an m1 creation time beyond bigint', b64(`m1:1:9999999999999999999:${ID}`)],
    ['an m1 creation time after year 9999', b64(`m1:1:253402300800000000:${ID}`)],
    ['an m1 creation time before the epoch', b64(`m1:1:-2:${ID}`)],
    ['an m1 upper-case id', b64(`m1:1:2:${ID.toUpperCase()}`)],
    ['padding', `${b64('s1:1:AAAAAAAAAAAAAAAA')}=`],
    ['characters base64url decoding skips', `${b64('s1:1:AAAAAAAAAAAAAAAA')}!`],
  ])('refuse %s', (_case, value) => {
    expect(cursors.read(ORG, value)).toBeUndefined();
    expect(sequenceCursorSchema.safeParse(value).success).toBe(false);
  });

  it('are checked for their shape at validation, and for their signature when used', () => {
    expect(sequenceCursorSchema.safeParse(cursors.encode(ORG, { seq: 3n, part: 0 })).success).toBe(true);
    expect(sequenceCursorSchema.safeParse(b64('s1:3:AAAAAAAAAAAAAAAA')).success).toBe(true);
    expect(cursors.read(ORG, b64('s1:3:AAAAAAAAAAAAAAAA'))).toBeUndefined();
  });
});
