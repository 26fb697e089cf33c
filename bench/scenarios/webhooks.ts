import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { postDelivery, whatsAppDelivery, type BenchPlatform } from '../lib/platform.js';
import { closedLoop, percentile, type LoadResult } from '../lib/stats.js';

export const WEBHOOK_CONCURRENCY = 16;

export interface WebhookResults {
  /** POST → 200 (stored durably). */
  acknowledged: LoadResult;
  /** Deliveries acknowledged whose message reached the subscriber, per second of the whole run. */
  endToEndPerSecond: number;
  /** POST sent → subscriber received the message, per message. */
  endToEndP50: number;
  endToEndP99: number;
  received: number;
  duplicates: number;
}

/**
 * Signed WhatsApp deliveries, one message each, from 16 concurrent senders, ingested end to end: POST (stored,
 * acknowledged) → processed and routed to the customer's channel → the event at a subscriber of all channels.
 */
export async function benchWebhooks(
  serverUrl: string,
  platform: BenchPlatform,
  seconds: number,
): Promise<WebhookResults> {
  const wsUrl = `${serverUrl.replace(/^http/, 'ws')}/graphql`;
  const sentAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  let duplicates = 0;
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${platform.adminToken}` },
    retryAttempts: 0,
    lazy: false,
    onNonLazyError: () => undefined,
  });
  let live = false;
  client.subscribe<{ viewerEvents: { message?: { externalMessageId: string | null } } }>(
    { query: 'subscription { viewerEvents { ... on MessageEvent { message { externalMessageId } } } }' },
    {
      next: (result) => {
        const wamid = result.data?.viewerEvents.message?.externalMessageId;
        if (!wamid) return;
        live = true;
        if (receivedAt.has(wamid)) duplicates += 1;
        else receivedAt.set(wamid, performance.now());
      },
      error: () => undefined,
      complete: () => undefined,
    },
  );
  const url = `${serverUrl}/webhooks/whatsapp/${platform.integrationId}`;
  let counter = 0;
  const deliver = async (label: string) => {
    const customer = platform.customers[counter % platform.customers.length]!;
    const wamid = `wamid.bench-${label}-${counter++}`;
    sentAt.set(wamid, performance.now());
    const status = await postDelivery(
      url,
      platform.appSecret,
      whatsAppDelivery(platform, customer, wamid, `hello ${wamid}`),
    );
    if (status !== 200) throw new Error(`webhook answered ${status}`);
  };
  while (!live) {
    await deliver('warm-up');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const startedAt = performance.now();
  const measuredFrom = counter;
  const acknowledged = await closedLoop(WEBHOOK_CONCURRENCY, seconds, () => deliver('load'), { warmupSeconds: 1 });
  const sentIds = [...sentAt.keys()].slice(measuredFrom);
  const deadline = Date.now() + 60_000;
  while (sentIds.some((id) => !receivedAt.has(id)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const arrived = sentIds.filter((id) => receivedAt.has(id));
  const lastArrival = Math.max(...arrived.map((id) => receivedAt.get(id)!));
  const latencies = arrived.map((id) => receivedAt.get(id)! - sentAt.get(id)!);
  await client.dispose();
  if (arrived.length < sentIds.length)
    throw new Error(`${sentIds.length - arrived.length} webhook messages never arrived`);
  return {
    acknowledged,
    endToEndPerSecond: arrived.length / ((lastArrival - startedAt) / 1000),
    endToEndP50: percentile(latencies, 50),
    endToEndP99: percentile(latencies, 99),
    received: arrived.length,
    duplicates,
  };
}
