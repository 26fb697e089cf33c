import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { withPipelinedTransaction } from '../../src/db/transaction.js';
import { MentionResolver } from '../../src/modules/messages/mentions.js';
import { type MessageDraft, MessageWriter } from '../../src/modules/messages/message-writer.js';
import { useFixture } from '../support/fixture.js';
import { createChannel } from '../support/messaging.js';

describe('a pipelined transaction', () => {
  // One connection, so that the test sees the very connection each transaction used.
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
  const table = `pipelined_${randomUUID().replaceAll('-', '')}`;
  beforeAll(() => pool.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`));
  afterAll(async () => {
    await pool.query(`DROP TABLE ${table}`);
    await pool.end();
  });
  const insert = (client: pg.PoolClient, id: number) => client.query(`INSERT INTO ${table} VALUES ($1)`, [id]);
  const stored = async () =>
    (await pool.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).rows.map((row) => row.id);

  it('commits every statement and answers what the work returns', async () => {
    const answer = await withPipelinedTransaction(pool, (client) =>
      Promise.all([insert(client, 1), insert(client, 2)]).then((results) => results.length),
    );
    expect(answer).toBe(2);
    expect(await stored()).toEqual([1, 2]);
    // The connection went back to the pool in its ordinary mode.
    const client = await pool.connect();
    expect(client.pipeline).toBe(false);
    client.release();
  });

  it('stores nothing when one statement fails, and throws that statement’s error', async () => {
    const failed = withPipelinedTransaction(pool, (client) =>
      Promise.all([insert(client, 3), insert(client, 1), insert(client, 4)]),
    );
    await expect(failed).rejects.toMatchObject({ code: '23505' });
    expect(await stored()).toEqual([1, 2]);
    // The pool goes on working (the failed connection was replaced).
    await withPipelinedTransaction(pool, (client) => insert(client, 5));
    expect(await stored()).toEqual([1, 2, 5]);
  });
});

/** A text message of the author's in a channel, as the writer takes it. */
const textDraft = (userId: string, channelId: string, content: string): MessageDraft => ({
  channelId,
  userId,
  content,
  messageType: 'TEXT',
  metadata: null,
  threadId: null,
  messageSource: 'INTERNAL',
});

describe('the message writer', () => {
  const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob'] } });

  it('answers each of many sends written together, and a row that fails fails alone', async () => {
    const [alice, bob] = [org().users.Alice!, org().users.Bob!];
    const channel = await createChannel(server(), alice, { members: [bob] });
    const { writer } = server().app.services;
    const draft = (content: string, channelId = channel.id) => textDraft(alice.id, channelId, content);
    // The first goes alone; the others gather behind it and are written together.
    const sends = [
      writer.insert(org().id, draft('one')),
      writer.insert(org().id, draft('two')),
      writer.insert(org().id, draft('nowhere', randomUUID())),
      writer.insert(org().id, draft('three')),
      writer.insert(org().id, draft(`four for @${bob.email}`)),
    ];
    const outcomes = await Promise.allSettled(sends);
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'fulfilled',
      'fulfilled',
    ]);
    const messages = outcomes.flatMap((outcome) => (outcome.status === 'fulfilled' ? [outcome.value.message] : []));
    expect(messages.map((message) => message.content)).toEqual(['one', 'two', 'three', `four for @${bob.email}`]);
    // Numbered without gaps, in the order they were stored.
    const sequence = messages.map((message) => Number(message.eventSeq));
    expect(sequence).toEqual(sequence.map((_, index) => sequence[0]! + index));
    // The mention was written with its message, in the same transaction.
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    try {
      const { rows } = await pool.query('SELECT user_id FROM message_mentions WHERE message_id = $1', [
        messages[3]!.id,
      ]);
      expect(rows).toEqual([{ user_id: bob.id }]);
    } finally {
      await pool.end();
    }
  });

  it('writes every batch on the plan its connection made once, not a plan made again per batch', async () => {
    const alice = org().users.Alice!;
    const channel = await createChannel(server(), alice);
    const app = server().app;
    // A writer of its own on one connection, so that the test reads that connection's prepared statements.
    const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 1 });
    try {
      const writer = new MessageWriter(pool, app.logger, app.services.outbox, new MentionResolver(pool));
      const send = (content: string) => writer.insert(org().id, textDraft(alice.id, channel.id, content));
      // Batches of different sizes: PostgreSQL would plan each size again if left to choose.
      for (let size = 1; size <= 8; size++)
        await Promise.all(Array.from({ length: size }, (_, n) => send(`${size}.${n}`)));
      const { rows } = await pool.query<{ generic_plans: string; custom_plans: string }>(
        "SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = 'insert-message-batch'",
      );
      expect(rows).toHaveLength(1);
      expect(Number(rows[0]!.custom_plans)).toBe(0);
      // The first send of each round goes alone and the rest gather behind it: more batches than rounds.
      expect(Number(rows[0]!.generic_plans)).toBeGreaterThanOrEqual(8);
    } finally {
      await pool.end();
    }
  });
});
