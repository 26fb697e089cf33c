import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import type { MessageStatus } from '../../src/generated/prisma/enums.js';
import { canMoveStatus, statusUpsertSql } from '../../src/modules/read-state/status-transitions.js';
import { createChannel, send } from '../support/messaging.js';

// The SQL that read receipts, the outbox and platform webhooks write statuses with is derived from the state
// machine's table; this proves the database applies exactly the table, for every transition.

const { server, org } = useFixture({ server: { redis: false }, organization: { users: ['Reader'] } });

const STATUSES: MessageStatus[] = ['SENT', 'DELIVERED', 'READ', 'FAILED'];

describe('statusUpsertSql', () => {
  it('applies exactly the transitions canMoveStatus allows', async () => {
    const channel = await createChannel(server(), org().admin, { members: [org().users.Reader!] });
    const { pool } = server().app.db;
    const reader = org().users.Reader!.id;
    const seen: string[] = [];
    for (const from of [null, ...STATUSES]) {
      for (const to of STATUSES) {
        const message = await send(server(), org().admin, channel.id, `${from} -> ${to}`);
        if (from)
          await pool.query(
            `INSERT INTO message_user_status (message_id, user_id, status) VALUES ($1, $2, lower($3)::message_status)`,
            [message.id, reader, from],
          );
        const result = await pool.query(
          statusUpsertSql('VALUES ($1::uuid, $2::uuid, lower($3)::message_status, now(), NULL, NULL)'),
          [message.id, reader, to],
        );
        const { rows } = await pool.query<{ status: string }>(
          'SELECT upper(status::text) AS status FROM message_user_status WHERE message_id = $1 AND user_id = $2',
          [message.id, reader],
        );
        const moved = canMoveStatus(from, to);
        seen.push(`${from ?? 'NONE'} -> ${to}: ${moved}`);
        expect({ from, to, changed: (result.rowCount ?? 0) > 0, now: rows[0]?.status }).toEqual({
          from,
          to,
          changed: moved,
          now: moved ? to : from,
        });
      }
    }
    expect(seen).toHaveLength(20);
  });
});
