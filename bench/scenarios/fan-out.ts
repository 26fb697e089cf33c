import { spawn } from 'node:child_process';
import path from 'node:path';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { projectRoot } from '../../src/lib/project-root.js';
import { betweenMessages } from '../lib/between-messages.js';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchUser } from '../lib/setup.js';
import { diesWithBench } from '../lib/server-process.js';
import { percentile } from '../lib/stats.js';

export const SUBSCRIBERS = 1_000;
export const SCALE_SUBSCRIBERS = 10_000;
const MESSAGES = 200;
/** How many subscribers connect at once. */
const CONNECT_BATCH = 200;

/** When the subscribers received each message, by message id: what both fan-out measurements time. */
class Receipts {
  private readonly times = new Map<string, number[]>();

  record(id: string, at: number): void {
    const list = this.times.get(id);
    if (list) list.push(at);
    else this.times.set(id, [at]);
  }

  /** The receipt times of `id` once `subscribers` have it, or what came within 10 s. */
  async untilAll(id: string, subscribers: number): Promise<number[]> {
    const giveUpAt = Date.now() + 10_000;
    while ((this.times.get(id)?.length ?? 0) < subscribers && Date.now() < giveUpAt)
      await new Promise((resolve) => setTimeout(resolve, 1));
    return this.times.get(id) ?? [];
  }

  forget(id: string): void {
    this.times.delete(id);
  }
}

/** From `since` to the last receipt (0 when none came). */
const toLast = (times: number[], since: number) => times.reduce((last, at) => Math.max(last, at), since) - since;

export interface FanOutResult {
  p50: number;
  p99: number;
  messages: number;
  subscribers: number;
  /** Subscriptions the server ended (an error or a completion) while their client kept reading. */
  cutOff: number;
}

export interface FanOutOptions {
  subscribers?: number;
  messages?: number;
  /** Called once every subscriber is live and idle, before the messages are sent (e.g. to read the server's RSS). */
  whenIdle?: () => Promise<void>;
  /** Called once this many subscribers have connected, before the others connect. */
  partway?: { subscribers: number; call: () => Promise<void> };
}

const SUBSCRIPTION = `subscription Events($channelId: ID!) {
  messageEvents(channelId: $channelId) {
    kind cursor
    message { id content createdAt author { id displayName avatarUrl } reactions { emoji count viewerReacted } replyCount }
  }
}`;

/**
 * One message to 1,000 (or `subscribers`) graphql-ws subscribers of a channel on one instance, each its own
 * client and socket: the time from the mutation's response to the last subscriber's receipt, per message.
 */
export async function benchFanOut(
  serverUrl: string,
  seeded: { users: BenchUser[]; channelId: string },
  options: FanOutOptions = {},
): Promise<FanOutResult> {
  const subscribers = options.subscribers ?? SUBSCRIBERS;
  const messages = options.messages ?? MESSAGES;
  const wsUrl = `${serverUrl.replace(/^http/, 'ws')}/graphql`;
  const receipts = new Receipts();
  const clients: Client[] = [];
  let firstEvents = 0;
  let cutOff = 0;
  let refused = 0;
  let connected = 0;
  try {
    for (let index = 0; index < subscribers; index++) {
      const user = seeded.users[index % seeded.users.length]!;
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        connectionParams: { authorization: `Bearer ${user.token}` },
        retryAttempts: 0,
        lazy: false,
        onNonLazyError: (error) => {
          refused += 1;
          if (refused === 1) console.warn('a connection failed:', describe(error));
        },
      });
      clients.push(client);
      let seen = false;
      client.subscribe<{ messageEvents: { message: { id: string } } }>(
        { query: SUBSCRIPTION, variables: { channelId: seeded.channelId } },
        {
          next: (result) => {
            const id = result.data?.messageEvents.message.id;
            if (!id) return;
            const at = performance.now();
            if (!seen) {
              seen = true;
              firstEvents += 1;
            }
            receipts.record(id, at);
          },
          error: (error) => {
            cutOff += 1;
            if (cutOff === 1) console.warn('a subscription ended with', describe(error));
          },
          complete: () => (cutOff += 1),
        },
      );
      client.on('connected', () => (connected += 1));
      // Connecting thousands at once would only measure the accept queue: a batch at a time, as clients arrive.
      if (index % CONNECT_BATCH === CONNECT_BATCH - 1) {
        const batchDeadline = Date.now() + 30_000;
        while (connected + refused < index + 1 && Date.now() < batchDeadline)
          await new Promise((resolve) => setTimeout(resolve, 10));
        if (index + 1 === options.partway?.subscribers) await options.partway.call();
      }
    }
    const send = (content: string) =>
      postGraphQL(
        `${serverUrl}/graphql`,
        JSON.stringify({
          query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
          variables: { i: { channelId: seeded.channelId, content } },
        }),
        seeded.users[0]!.token,
      ) as Promise<{ sendMessage: { id: string } }>;

    // Subscriptions have no acknowledgement: warm up until every subscriber has received something.
    const deadline = Date.now() + 120_000;
    while (firstEvents < subscribers) {
      if (Date.now() > deadline)
        throw new Error(
          `only ${firstEvents} of ${subscribers} subscribers became live (${cutOff} ended, ${refused} connections failed)`,
        );
      await send('warm-up');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
    await options.whenIdle?.();

    const latencies: number[] = [];
    for (let index = 0; index < messages; index++) {
      const { sendMessage } = await send(`fan-out ${index}`);
      const respondedAt = performance.now();
      const got = await receipts.untilAll(sendMessage.id, subscribers);
      if (got.length < subscribers)
        throw new Error(`message ${index} reached ${got.length} of ${subscribers} subscribers`);
      latencies.push(toLast(got, respondedAt));
      receipts.forget(sendMessage.id);
      await betweenMessages();
    }
    return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), messages, subscribers, cutOff };
  } finally {
    // Also when the measurement fails: a server asked to stop waits for its open connections to close.
    await Promise.all(clients.map((client) => client.dispose()));
  }
}

/** The server's RSS once the garbage of what just happened is collected: the lowest of a few readings a second apart, each after a full collection. */
async function lowestRss(server: { rss(): Promise<number>; collectGarbage(): void }): Promise<number> {
  const readings: number[] = [];
  for (let reading = 0; reading < 5; reading++) {
    server.collectGarbage();
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    readings.push(await server.rss());
  }
  return Math.min(...readings);
}

/**
 * The RSS each idle subscription adds, read (with `lowestRss`) at `from` and at `to` connected subscribers, so that
 * what the server holds anyway (its start, memory earlier scenarios left it holding) cancels out: `partway` and
 * `whenIdle` are benchFanOut's options, `perSubscription` the figure once it has run.
 */
export function idleRssPerSubscription(
  server: { rss(): Promise<number>; collectGarbage(): void },
  from: number,
  to: number,
) {
  let atFrom = 0;
  let perSubscription = 0;
  return {
    partway: { subscribers: from, call: async () => void (atFrom = await lowestRss(server)) },
    whenIdle: async () => {
      perSubscription = ((await lowestRss(server)) - atFrom) / (to - from);
    },
    perSubscription: () => perSubscription,
  };
}

/** The same measurement against a bare WebSocket broadcast server (the raw WebSocket send ceiling). */
export async function benchRawBroadcast(
  port: number,
  payloadBytes: number,
  subscribers = SUBSCRIBERS,
): Promise<FanOutResult> {
  const child = spawn(
    process.execPath,
    [
      path.join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      path.join(projectRoot, 'bench', 'raw-broadcast-server.ts'),
    ],
    {
      env: { ...process.env, PORT: String(port) },
      stdio: 'inherit',
    },
  );
  diesWithBench(child);
  const url = `http://127.0.0.1:${port}`;
  for (
    let attempt = 0;
    !(await fetch(url).then(
      (r) => r.ok,
      () => false,
    ));
    attempt++
  ) {
    if (attempt > 100) throw new Error('raw broadcast server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const receipts = new Receipts();
  const sockets: WebSocket[] = [];
  const open = () => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'));
    sockets.push(socket);
    socket.on('message', (data) => {
      const at = performance.now();
      receipts.record((JSON.parse(String(data)) as { id: string }).id, at);
    });
    return new Promise((resolve, reject) => {
      socket.once('open', resolve);
      socket.on('error', (error) => reject(new Error(`a raw WebSocket failed: ${error.message}`)));
    });
  };
  const latencies: number[] = [];
  try {
    // A batch at a time, as benchFanOut connects its clients: thousands at once would overflow the accept queue.
    for (let connected = 0; connected < subscribers; connected += CONNECT_BATCH)
      await Promise.all(Array.from({ length: Math.min(CONNECT_BATCH, subscribers - connected) }, open));
    for (let index = 0; index < MESSAGES; index++) {
      const id = `raw-${index}`;
      const payload = JSON.stringify({ id, padding: 'x'.repeat(Math.max(0, payloadBytes - 30)) });
      await fetch(url, { method: 'POST', body: payload }).then((r) => r.text());
      const respondedAt = performance.now();
      latencies.push(toLast(await receipts.untilAll(id, subscribers), respondedAt));
      await betweenMessages();
    }
  } finally {
    sockets.forEach((socket) => socket.close());
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    messages: MESSAGES,
    subscribers,
    cutOff: 0,
  };
}

/** A close event, an error or GraphQL errors, briefly. */
function describe(error: unknown): string {
  const { code, reason, message } = (error ?? {}) as { code?: number; reason?: string; message?: string };
  return code !== undefined ? `close ${code} ${reason ?? ''}` : (message ?? JSON.stringify(error).slice(0, 300));
}
