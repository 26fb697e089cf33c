// What one server process spends per organization event that reaches it over the bus, for docs/scaling.md: the
// cost each process pays for every event of every organization it holds a subscriber of. Run after `npm run build`:
// `npx tsx scripts/measure-bus-events.ts` (uses BENCH_DATABASE_URL and BENCH_REDIS_URL like the bench).
//
// The server is the built output in its own process with one graphql-ws subscriber (the README's viewerEvents
// document); events are published straight onto its organization's topic, so the figure is the server's CPU time
// (from /proc) per event, less its idle CPU over the same time: typing (a notification, delivered or filtered out
// by the viewer's access) and new messages (sequenced, delivered with their details read from the database).
import { createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import type { OrganizationEvent } from '../src/modules/events/organization-events.js';
import { organizationEventCodec } from '../src/modules/events/organization-events.js';
import { seal } from '../src/realtime/bus-messages.js';
import { organizationTopic } from '../src/realtime/topics.js';
import { freePort } from '../tests/support/process.js';
import { startServerProcess } from '../bench/lib/server-process.js';
import {
  BENCH_ENCRYPTION_KEY,
  BENCH_JWT_SECRET,
  createBenchDatabase,
  seedBenchOrganization,
} from '../bench/lib/setup.js';

const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const TYPING_EVENTS = 20_000;
const MESSAGE_EVENTS = 2_000;

const VIEWER_EVENTS = `subscription {
  viewerEvents {
    __typename
    ... on MessageEvent { cursor messageKind: kind message { id channelId content deleted } }
    ... on TypingEvent { channelId typing user { id } }
  }
}`;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const bench = await createBenchDatabase(postgresUrl);
const seeded = await seedBenchOrganization(bench, 2);
const [author, reader] = [seeded.users[0]!, seeded.users[1]!];
const hidden = await bench.services.channels.create(author.session, { name: 'hidden', channelType: 'PRIVATE' });
const prefix = `${bench.name}:`;
const server = await startServerProcess(
  {
    DATABASE_URL: bench.url,
    REDIS_URL: redisUrl,
    REDIS_PREFIX: prefix,
    JWT_SECRET: BENCH_JWT_SECRET,
    ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
    MIGRATE_ON_START: 'false',
    OUTBOX_WORKER_ENABLED: 'false',
  },
  await freePort(),
);
const publisher = new Redis(redisUrl);
const client = createClient({
  url: `${server.url.replace(/^http/, 'ws')}/graphql`,
  webSocketImpl: WebSocket,
  connectionParams: { authorization: `Bearer ${reader.token}` },
  retryAttempts: 0,
  lazy: false,
});
let received = 0;
client.subscribe(
  { query: VIEWER_EVENTS },
  { next: () => (received += 1), error: () => undefined, complete: () => undefined },
);
const topic = prefix + organizationTopic(seeded.organizationId);
const publish = (event: OrganizationEvent) =>
  publisher.publish(topic, seal([JSON.stringify(organizationEventCodec.encode(event))]));
const typing = (channelId: string, index: number): OrganizationEvent => ({
  type: 'typing',
  channelId,
  userId: author.id,
  typing: index % 2 === 0,
});

try {
  while (received === 0) {
    await publish(typing(seeded.channelId, 0));
    await sleep(100);
  }
  await sleep(500);

  // The process's own CPU while nothing happens (timers, metrics), per second.
  const idleFrom = server.cpuSeconds();
  await sleep(5_000);
  const idlePerSecond = (server.cpuSeconds() - idleFrom) / 5;

  const measure = async (name: string, events: number, send: () => Promise<void>, expected: number) => {
    const from = server.cpuSeconds();
    const startedAt = performance.now();
    const before = received;
    await send();
    const deadline = Date.now() + 60_000;
    while (received - before < expected && Date.now() < deadline) await sleep(20);
    await sleep(300);
    const seconds = (performance.now() - startedAt) / 1000;
    const cpu = server.cpuSeconds() - from - idlePerSecond * seconds;
    console.log(
      `${name}: ${events} events, ${received - before} received, ${Math.round(events / seconds)} events/s; ` +
        `server CPU ${((cpu / events) * 1e6).toFixed(0)} µs per event`,
    );
  };

  // Paced in batches, as traffic arrives, rather than all in one burst.
  const paced = async (events: number, each: (index: number) => Promise<unknown>) => {
    for (let index = 0; index < events; index += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, offset) => each(index + offset)));
      await sleep(10);
    }
  };
  await measure(
    'typing in a channel the subscriber sees (delivered)',
    TYPING_EVENTS,
    () => paced(TYPING_EVENTS, (index) => publish(typing(seeded.channelId, index))),
    TYPING_EVENTS,
  );
  await measure(
    'typing in a channel the subscriber cannot see (filtered out)',
    TYPING_EVENTS,
    () => paced(TYPING_EVENTS, (index) => publish(typing(hidden.id, index))),
    0,
  );
  // Real rows, numbered by the writer, then announced as the sending instance would.
  await measure(
    'new messages in a channel the subscriber sees (delivered, details from the database)',
    MESSAGE_EVENTS,
    async () => {
      for (let index = 0; index < MESSAGE_EVENTS; index++) {
        const { message } = await bench.services.writer.insert(seeded.organizationId, {
          channelId: seeded.channelId,
          userId: author.id,
          content: `message ${index}`,
          messageType: 'TEXT',
          metadata: null,
          threadId: null,
          messageSource: 'INTERNAL',
        });
        await publish({ type: 'message', kind: 'CREATED', seq: BigInt(message.eventSeq), message });
      }
    },
    MESSAGE_EVENTS,
  );
} finally {
  await client.dispose();
  publisher.disconnect();
  await server.stop();
  await bench.drop();
}
