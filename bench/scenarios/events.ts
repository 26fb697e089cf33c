import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchDatabase, BenchUser } from '../lib/setup.js';
import { percentile } from '../lib/stats.js';

export const MISSED_EVENTS = 10_000;
export const TYPING_SUBSCRIBERS = 1_000;
const TYPING_SIGNALS = 200;

/**
 * A client back after missing 10,000 events (messages and reactions, half each): the time from subscribing with
 * its cursor to its last replayed event, beside a raw SELECT of the same rows from both tables.
 */
export async function benchReplay(
  bench: BenchDatabase,
  serverUrl: string,
  seeded: { organizationId: string; users: BenchUser[]; channelId: string },
): Promise<{ replayMs: number; rawMs: number; events: number }> {
  const [author, reactor] = seeded.users;
  const { sendMessage, reactions } = bench.services;
  const before = await sendMessage.execute(author!.session, { channelId: seeded.channelId, content: 'before' });
  const cursor = bench.services.cursors.ofMessage(before);
  for (let sent = 0; sent < MISSED_EVENTS / 2; sent += 250) {
    const messages = await Promise.all(
      Array.from({ length: 250 }, (_, index) =>
        sendMessage.execute(author!.session, { channelId: seeded.channelId, content: `missed ${sent + index}` }),
      ),
    );
    await Promise.all(
      messages.map((message) => reactions.add(reactor!.session, { messageId: message.id, emoji: '👍' })),
    );
  }

  // The ceiling: the same rows read whole, in order, from both tables, by a plain client.
  const rawStarted = performance.now();
  const [messages, logged] = await Promise.all([
    bench.db.pool.query('SELECT * FROM messages WHERE organization_id = $1 AND event_seq > $2 ORDER BY event_seq', [
      seeded.organizationId,
      before.createdSeq,
    ]),
    bench.db.pool.query('SELECT * FROM organization_events WHERE organization_id = $1 AND seq > $2 ORDER BY seq', [
      seeded.organizationId,
      before.createdSeq,
    ]),
  ]);
  const rawMs = performance.now() - rawStarted;
  const stored = messages.rowCount! + logged.rowCount!;

  const client = createClient({
    url: `${serverUrl.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${reactor!.token}` },
    retryAttempts: 0,
  });
  let received = 0;
  const started = performance.now();
  const replayMs = await new Promise<number>((resolve, reject) => {
    const timeout = setTimeout(() => reject(new Error(`replayed ${received} of ${MISSED_EVENTS}`)), 120_000);
    client.subscribe(
      {
        query: 'subscription($after: String) { viewerEvents(after: $after) { __typename } }',
        variables: { after: cursor },
      },
      {
        next: () => {
          received += 1;
          if (received === MISSED_EVENTS) {
            clearTimeout(timeout);
            resolve(performance.now() - started);
          }
        },
        error: reject,
        complete: () => undefined,
      },
    );
  });
  await client.dispose();
  if (stored < MISSED_EVENTS) throw new Error(`only ${stored} events were stored`);
  return { replayMs, rawMs, events: received };
}

/**
 * Typing indicators to 1,000 subscribers of a channel on one instance: the time from `setTyping`'s response to
 * the last subscriber's receipt, per signal.
 */
export async function benchTyping(
  serverUrl: string,
  seeded: { users: BenchUser[]; channelId: string },
): Promise<{ p50: number; p99: number }> {
  const typist = seeded.users[0]!;
  const readers = seeded.users.slice(1);
  const receipts: number[][] = [];
  const clients: Client[] = [];
  let live = 0;
  for (let index = 0; index < TYPING_SUBSCRIBERS; index++) {
    const reader = readers[index % readers.length]!;
    const client = createClient({
      url: `${serverUrl.replace(/^http/, 'ws')}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${reader.token}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
    });
    clients.push(client);
    let seen = false;
    client.subscribe<{ typingEvents: { typing: boolean } }>(
      {
        query: 'subscription($c: ID!) { typingEvents(channelId: $c) { typing user { id } } }',
        variables: { c: seeded.channelId },
      },
      {
        next: () => {
          if (!seen) {
            seen = true;
            live += 1;
          }
          receipts.at(-1)?.push(performance.now());
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  }
  let typing = false;
  const signal = () => {
    typing = !typing;
    return postGraphQL(
      `${serverUrl}/graphql`,
      JSON.stringify({
        query: 'mutation($i: SetTypingInput!) { setTyping(input: $i) }',
        variables: { i: { channelId: seeded.channelId, typing } },
      }),
      typist.token,
    );
  };
  const deadline = Date.now() + 60_000;
  while (live < TYPING_SUBSCRIBERS) {
    if (Date.now() > deadline) throw new Error(`only ${live} of ${TYPING_SUBSCRIBERS} typing subscribers became live`);
    receipts.push([]);
    await signal();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const latencies: number[] = [];
  for (let index = 0; index < TYPING_SIGNALS; index++) {
    const got: number[] = [];
    receipts.push(got);
    await signal();
    const respondedAt = performance.now();
    const waitUntil = Date.now() + 10_000;
    while (got.length < TYPING_SUBSCRIBERS && Date.now() < waitUntil)
      await new Promise((resolve) => setTimeout(resolve, 1));
    if (got.length < TYPING_SUBSCRIBERS)
      throw new Error(`typing signal ${index} reached ${got.length} of ${TYPING_SUBSCRIBERS} subscribers`);
    latencies.push(Math.max(0, Math.max(...got) - respondedAt));
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await Promise.all(clients.map((client) => client.dispose()));
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}
