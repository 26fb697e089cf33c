import { describe, expect, it } from '@jest/globals';
import type { MessageStatus } from '../../generated/prisma/enums.js';
import { canMoveStatus } from './status-transitions.js';

// Every transition of message_user_status, written out: a change to the state machine changes this table.
const STATUSES = ['SENT', 'DELIVERED', 'READ', 'FAILED'] as const satisfies readonly MessageStatus[];
const ALLOWED: Record<'NONE' | MessageStatus, Record<MessageStatus, boolean>> = {
  NONE: { SENT: true, DELIVERED: true, READ: true, FAILED: true },
  SENT: { SENT: false, DELIVERED: true, READ: true, FAILED: true },
  DELIVERED: { SENT: false, DELIVERED: false, READ: true, FAILED: false },
  READ: { SENT: false, DELIVERED: false, READ: false, FAILED: false },
  FAILED: { SENT: false, DELIVERED: true, READ: true, FAILED: false },
};

describe('message status transitions', () => {
  for (const from of ['NONE', ...STATUSES] as const) {
    for (const to of STATUSES) {
      const allowed = ALLOWED[from][to];
      it(`${from} -> ${to}: ${allowed ? 'allowed' : 'refused'}`, () => {
        expect(canMoveStatus(from === 'NONE' ? null : from, to)).toBe(allowed);
      });
    }
  }
});
