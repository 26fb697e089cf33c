import { createClient, type Client } from 'graphql-ws';
import pg from 'pg';
import WebSocket from 'ws';
import type { FakeGraph } from '../../tests/support/fake-graph.js';
import { postGraphQL } from '../lib/graphql-client.js';
import { postDelivery, whatsAppDelivery, type BenchPlatform } from '../lib/platform.js';
import { closedLoop, type LoadResult } from '../lib/stats.js';

export const SOAK_SUBSCRIBERS = 2_000;

export interface SoakResults {
  operations: Record<string, LoadResult>;
  subscribers: number;
  delivered: number;
  missing: number;
  duplicated: number;
  rowsChecked: number;
  /**
   * Staff messages in clients' channels, as the outbox rows and the fake Graph API's requests count them: `failed`
   * gave up, `queued` were still waiting their turn when the run stopped waiting (the phone number's pace,
   * WHATSAPP_SENDS_PER_SECOND, bounds how fast a backlog drains).
   */
  outbox: { sent: number; sentTwice: number; failed: number; queued: number };
  rssStartMb: number;
  rssEndMb: number;
  rssPeakMb: number;
}

interface Subscriber {
  channelId: string;
  seen: Set<string>;
  duplicates: number;
}

const SUBSCRIPTION = 'subscription($c: ID!) { messageEvents(channelId: $c) { kind message { id } } }';

async function residentMb(serverUrl: string): Promise<number> {
  const text = await (await fetch(`${serverUrl}/metrics`)).text();
  const line = text.split('\n').find((entry) => entry.startsWith('process_resident_memory_bytes '));
  return Number(line?.split(' ')[1] ?? 0) / 1024 / 1024;
}

async function countOutbox(database: pg.Pool, organizationId: string) {
  const { rows } = await database.query<{ pending: number; sent: number; failed: number }>(
    `SELECT count(*) FILTER (WHERE status = 'pending')::int AS pending,
            count(*) FILTER (WHERE status = 'sent')::int AS sent,
            count(*) FILTER (WHERE status = 'failed')::int AS failed
     FROM outbound_messages WHERE organization_id = $1`,
    [organizationId],
  );
  return rows[0]!;
}

/**
 * Mixed traffic for a bounded time (messages, reactions, reads, webhooks) with 2,000 subscribers listening,
 * then a check against the database: every subscriber received every message of its channel created during
 * the run exactly once.
 */
export async function benchSoak(
  serverUrl: string,
  databaseUrl: string,
  platform: BenchPlatform,
  graph: FakeGraph,
  seconds: number,
): Promise<SoakResults> {
  const graphqlUrl = `${serverUrl}/graphql`;
  const wsUrl = graphqlUrl.replace(/^http/, 'ws');
  const channels = [...platform.staffChannelIds, ...platform.customers.map((customer) => customer.channelId)];
  const subscribers: Subscriber[] = [];
  const clients: Client[] = [];
  for (let index = 0; index < SOAK_SUBSCRIBERS; index++) {
    // Half listen to the busy staff channel, the rest spread over the customers' channels.
    const channelId = index % 2 === 0 ? channels[0]! : channels[1 + (index % (channels.length - 1))]!;
    const subscriber: Subscriber = { channelId, seen: new Set(), duplicates: 0 };
    subscribers.push(subscriber);
    const client = createClient({
      url: wsUrl,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${platform.staffTokens[index % platform.staffTokens.length]}` },
      retryAttempts: 0,
      lazy: false,
      onNonLazyError: () => undefined,
    });
    clients.push(client);
    client.subscribe<{ messageEvents: { message: { id: string } } }>(
      { query: SUBSCRIPTION, variables: { c: channelId } },
      {
        next: (result) => {
          const id = result.data?.messageEvents.message.id;
          if (!id) return;
          if (subscriber.seen.has(id)) subscriber.duplicates += 1;
          else subscriber.seen.add(id);
        },
        error: () => undefined,
        complete: () => undefined,
      },
    );
  }

  const database = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const send = (token: string, channelId: string, content: string) =>
    postGraphQL(
      graphqlUrl,
      JSON.stringify({
        query: 'mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }',
        variables: { i: { channelId, content } },
      }),
      token,
    ) as Promise<{ sendMessage: { id: string } }>;

  // Subscriptions are not acknowledged: warm every channel up until each subscriber has received something.
  const deadline = Date.now() + 120_000;
  while (subscribers.some((subscriber) => subscriber.seen.size === 0)) {
    if (Date.now() > deadline) throw new Error('not every soak subscriber became live');
    await Promise.all(channels.map((channelId) => send(platform.staffTokens[0]!, channelId, 'warm-up')));
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
  await new Promise((resolve) => setTimeout(resolve, 500));
  const { rows: startRows } = await database.query<{ seq: string }>(
    'SELECT last_seq::text AS seq FROM message_sequences WHERE organization_id = $1',
    [platform.organizationId],
  );
  const startSeq = startRows[0]!.seq;
  const outboxStart = await countOutbox(database, platform.organizationId);
  const graphRequestsStart = graph.requests.length;

  const rss: number[] = [await residentMb(serverUrl)];
  const sampler = setInterval(
    () =>
      void residentMb(serverUrl).then(
        (mb) => rss.push(mb),
        () => undefined,
      ),
    5_000,
  );
  const recent: string[] = [];
  let webhookCounter = 0;
  const pick = <T>(list: T[]) => list[Math.floor(Math.random() * list.length)]!;
  const [messages, reactions, reads, webhooks] = await Promise.all([
    closedLoop(
      6,
      seconds,
      async (worker) => {
        const { sendMessage } = await send(pick(platform.staffTokens), pick(channels), `soak ${worker} ${Date.now()}`);
        recent.push(sendMessage.id);
        if (recent.length > 500) recent.shift();
      },
      { warmupSeconds: 0 },
    ),
    closedLoop(
      2,
      seconds,
      async () => {
        if (recent.length === 0) return new Promise((resolve) => setTimeout(resolve, 10));
        await postGraphQL(
          graphqlUrl,
          JSON.stringify({
            query: 'mutation($i: ReactionInput!) { addReaction(input: $i) { id } }',
            variables: { i: { messageId: pick(recent), emoji: pick(['👍', '🎉', '❤️', '😂']) } },
          }),
          pick(platform.staffTokens),
        );
      },
      { warmupSeconds: 0 },
    ),
    closedLoop(
      2,
      seconds,
      async () => {
        await postGraphQL(
          graphqlUrl,
          JSON.stringify({
            query: 'mutation($i: MarkMessagesReadInput!) { markMessagesRead(input: $i) { markedMessageIds } }',
            variables: { i: { channelId: pick(channels) } },
          }),
          pick(platform.staffTokens),
        );
      },
      { warmupSeconds: 0 },
    ),
    closedLoop(
      2,
      seconds,
      async () => {
        const customer = pick(platform.customers);
        const wamid = `wamid.soak-${webhookCounter++}-${Date.now()}`;
        const status = await postDelivery(
          `${serverUrl}/webhooks/whatsapp/${platform.integrationId}`,
          platform.appSecret,
          whatsAppDelivery(platform, customer, wamid, `soak from ${customer.phone}`),
        );
        if (status !== 200) throw new Error(`webhook answered ${status}`);
      },
      { warmupSeconds: 0 },
    ),
  ]);
  clearInterval(sampler);

  // Everything created in the run, per channel, as the database has it; then wait for it to arrive.
  const { rows } = await database.query<{ id: string; channelId: string }>(
    `SELECT id, channel_id AS "channelId" FROM messages WHERE organization_id = $1 AND created_seq > $2`,
    [platform.organizationId, startSeq],
  );
  const expected = new Map<string, Set<string>>();
  for (const row of rows) expected.set(row.channelId, (expected.get(row.channelId) ?? new Set()).add(row.id));
  const missingFor = (subscriber: Subscriber) =>
    [...(expected.get(subscriber.channelId) ?? [])].filter((id) => !subscriber.seen.has(id)).length;
  const settle = Date.now() + 60_000;
  while (subscribers.some((subscriber) => missingFor(subscriber) > 0) && Date.now() < settle) {
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  // A backlog goes out at the phone number's pace: waited for as long as it keeps shrinking.
  let outbox = await countOutbox(database, platform.organizationId);
  let outboxSettle = Math.max(settle, Date.now() + 10_000);
  const outboxDeadline = Date.now() + 300_000;
  while (outbox.pending > 0 && Date.now() < Math.min(outboxSettle, outboxDeadline)) {
    const before = outbox.pending;
    await new Promise((resolve) => setTimeout(resolve, 200));
    outbox = await countOutbox(database, platform.organizationId);
    if (outbox.pending < before) outboxSettle = Math.max(outboxSettle, Date.now() + 10_000);
  }
  const sent = outbox.sent - outboxStart.sent;
  rss.push(await residentMb(serverUrl));
  await Promise.all(clients.map((client) => client.dispose()));
  await database.end();
  return {
    operations: {
      'sendMessage (6 clients)': messages,
      'addReaction (2 clients)': reactions,
      'markMessagesRead (2 clients)': reads,
      'webhook deliveries (2 senders)': webhooks,
    },
    subscribers: subscribers.length,
    delivered: subscribers.reduce(
      (sum, subscriber) =>
        sum + [...subscriber.seen].filter((id) => expected.get(subscriber.channelId)?.has(id)).length,
      0,
    ),
    missing: subscribers.reduce((sum, subscriber) => sum + missingFor(subscriber), 0),
    duplicated: subscribers.reduce((sum, subscriber) => sum + subscriber.duplicates, 0),
    rowsChecked: rows.length,
    outbox: {
      sent,
      sentTwice: Math.max(0, graph.requests.length - graphRequestsStart - sent),
      failed: outbox.failed - outboxStart.failed,
      queued: outbox.pending,
    },
    rssStartMb: rss[0]!,
    rssEndMb: rss.at(-1)!,
    rssPeakMb: Math.max(...rss),
  };
}
