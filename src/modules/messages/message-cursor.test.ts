import { describe, expect, it } from '@jest/globals';
import { decodeCursor, encodeCursor } from './message-cursor.js';

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
  ])('refuse %s', (_case, value) => {
    expect(decodeCursor(value)).toBeUndefined();
  });
});
