import { describe, expect, it } from '@jest/globals';
import { decodeCursor, encodeCursor } from './message-cursor.js';

const ID = '0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69';

describe('message cursors', () => {
  const cursor = { seq: 12345678901234n, createdAtUs: 1795574142123457n, id: '0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69' };

  it('round-trip exactly, microseconds and 64-bit sequence numbers included', () => {
    expect(decodeCursor(encodeCursor(cursor))).toEqual(cursor);
  });

  it.each([
    ['empty', ''],
    ['not base64 of a cursor', 'bm90LWEtY3Vyc29y'],
    ['another version', Buffer.from('m2:1:2:0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69').toString('base64url')],
    ['a bad id', Buffer.from('m1:1:2:not-a-uuid').toString('base64url')],
    ['a non-numeric sequence', Buffer.from('m1:x:2:0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69').toString('base64url')],
    ['extra parts', Buffer.from('m1:1:2:0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69:9').toString('base64url')],
    ['an oversized value', 'a'.repeat(500)],
    ['a sequence beyond bigint', Buffer.from(`m1:9223372036854775808:2:${ID}`).toString('base64url')],
    ['a creation time beyond bigint', Buffer.from(`m1:1:9999999999999999999:${ID}`).toString('base64url')],
    ['a creation time after year 9999', Buffer.from(`m1:1:253402300800000000:${ID}`).toString('base64url')],
    ['a creation time before the epoch', Buffer.from(`m1:1:-2:${ID}`).toString('base64url')],
    ['leading zeros', Buffer.from(`m1:01:2:${ID}`).toString('base64url')],
    ['an upper-case id', Buffer.from(`m1:1:2:${ID.toUpperCase()}`).toString('base64url')],
    ['padding', `${Buffer.from(`m1:1:2:${ID}`).toString('base64url')}=`],
    ['characters base64url decoding skips', `${Buffer.from(`m1:1:2:${ID}`).toString('base64url')}!`],
  ])('refuse %s', (_case, value) => {
    expect(decodeCursor(value)).toBeUndefined();
  });
});
