// `npm run bench`: measures the hot paths and prints each figure beside the ceiling measured in the same run,
// as a ratio (machines here are noisy; ratios are not). Writes the results to BENCHMARKS.md when every
// scenario ran. BENCH_SECONDS (default 10) sets each measured window; BENCH_ONLY=send,fanout,scale,history,webhooks,replay,typing,readstate,auth,media,soak
// (and peers: the side-by-side with the comparison servers in bench/peers/) picks scenarios; SOAK_SECONDS (default 120, at most 600) sets the soak run.
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { projectRoot } from '../src/lib/project-root.js';
import { startFakeGraph } from '../tests/support/fake-graph.js';
import { seedBenchPlatform } from './lib/platform.js';
import { postgresCpuSeconds, startPeerProcess, startServerProcess } from './lib/server-process.js';
import type { CpuByProcess } from './lib/stats.js';
import {
  BENCH_ENCRYPTION_KEY,
  BENCH_JWT_SECRET,
  type BenchUser,
  createBenchDatabase,
  seedBenchOrganization,
} from './lib/setup.js';
import { measureCeilings } from './scenarios/ceilings.js';
import { benchReplay, benchTyping, MISSED_EVENTS, TYPING_SUBSCRIBERS } from './scenarios/events.js';
import {
  benchFanOut,
  benchRawBroadcast,
  idleRssPerSubscription,
  SCALE_SUBSCRIBERS,
  SUBSCRIBERS,
} from './scenarios/fan-out.js';
import { benchPeer, PEER_SUBSCRIBERS, PEERS, type PeerFigures } from './scenarios/peers.js';
import { benchHistory, fillHistory, HISTORY_SIZE } from './scenarios/history.js';
import {
  benchSearch,
  benchUnreadCount,
  fillChannel,
  SEARCH_CONTENT_SQL,
  SEARCH_QUERIES,
  SEARCH_SIZE,
  UNREAD_FEW,
  UNREAD_MANY,
} from './scenarios/read-state.js';
import { benchSendMessageAgainstTransport } from './scenarios/send-message.js';
import { benchMedia, CONCURRENT_UPLOADS, MEDIA_BYTES } from './scenarios/media.js';
import { benchSoak } from './scenarios/soak.js';
import { benchAuth, SIGN_IN_CONCURRENCY } from './scenarios/auth.js';
import { benchWebhooks, WEBHOOK_CONCURRENCY } from './scenarios/webhooks.js';

const ALL = [
  'send',
  'fanout',
  'scale',
  'history',
  'webhooks',
  'replay',
  'typing',
  'readstate',
  'auth',
  'media',
  'peers',
  'soak',
];
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const soakSeconds = Math.min(600, Number(process.env.SOAK_SECONDS ?? 120));
const only = new Set((process.env.BENCH_ONLY ?? ALL.join(',')).split(','));
const postgresUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const port = Number(process.env.BENCH_PORT ?? 4600);

const fmt = (value: number, digits = 1) => value.toFixed(digits);
const pct = (value: number) => `${fmt(value * 100, 0)}%`;
/** Where a request's CPU time went, across the processes that share the machine, and how busy that kept it. */
const machineCpu = (cpu: CpuByProcess, perSecond: number) => {
  const total = cpu.server + (cpu.database ?? 0) + cpu.loadGenerator;
  const database = cpu.database === undefined ? 'not on this machine' : `${fmt(cpu.database, 0)} µs`;
  return `${fmt(cpu.server, 0)} µs · ${database} · ${fmt(cpu.loadGenerator, 0)} µs; ${fmt((total * perSecond) / 1e6, 2)} of ${os.cpus().length}`;
};

interface Row {
  figure: string;
  value: string;
  ceiling: string;
  ratio: string;
  goal: string;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const notes: string[] = [];
  const sections: string[] = [];
  const bench = await createBenchDatabase(postgresUrl);
  // Meta's Graph API, local: the outbox sends what staff write in clients' channels during the soak.
  const graph = await startFakeGraph();
  const server = await startServerProcess(
    {
      DATABASE_URL: bench.url,
      REDIS_URL: redisUrl,
      REDIS_PREFIX: `${bench.name}:`,
      JWT_SECRET: BENCH_JWT_SECRET,
      ENCRYPTION_KEY: BENCH_ENCRYPTION_KEY,
      DATABASE_POOL_SIZE: '20',
      MIGRATE_ON_START: 'false',
      META_GRAPH_API_URL: `${graph.url}/v22.0`,
      OUTBOX_POLL_INTERVAL_MS: '1000',
      // Every load client is one IP with a few users: the limits stay on (their cost is part of the path
      // measured), set far above what a run sends.
      RATE_LIMIT_MUTATIONS_PER_USER: '100000000',
      RATE_LIMIT_MUTATIONS_PER_IP: '100000000',
      WS_MAX_CONNECTIONS_PER_USER: '100000',
      WS_MAX_CONNECTIONS_PER_IP: '100000',
      // Upload and download links point at this server; attachments go to a scratch directory.
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      STORAGE_DIR: await mkdtemp(path.join(os.tmpdir(), 'bench-media-')),
    },
    port,
  );
  const graphqlUrl = `${server.url}/graphql`;
  try {
    const seeded = await seedBenchOrganization(bench, 16);
    console.log(`ceilings: ${seconds}s windows`);
    const ceilings = await measureCeilings(bench, graphqlUrl, redisUrl, seeded, seconds);
    const transport = `\`{ __typename }\`: ${fmt(ceilings.transport.perSecond, 0)} req/s`;
    const insert = `raw \`INSERT\` through pg: ${fmt(ceilings.insert.perSecond, 0)} rows/s`;

    if (only.has('send')) {
      console.log('sendMessage: 16 clients, in windows alternating with its transport ceiling');
      const {
        measured: send,
        transport: beside,
        share,
      } = await benchSendMessageAgainstTransport(graphqlUrl, seeded, seconds, 3, {
        server: server.cpuSeconds,
        // PostgreSQL's CPU time is read from /proc: only where it runs on this machine.
        database: postgresCpuSeconds() > 0 ? postgresCpuSeconds : undefined,
      });
      const cpuOfSend = send.cpuMicros!;
      const cpuOfBeside = beside.cpuMicros!;
      rows.push(
        {
          figure: 'sendMessage over HTTP, 16 clients (median of 3 alternating rounds)',
          value: `${fmt(send.perSecond, 0)} msg/s (p50 ${fmt(send.p50)} ms, p99 ${fmt(send.p99)} ms)`,
          ceiling: `\`{ __typename }\` just before: ${fmt(beside.perSecond, 0)} req/s`,
          ratio: pct(share),
          goal: '≥ 50% of the transport ceiling',
        },
        {
          figure: 'server CPU time per sendMessage (the same windows)',
          value: `${fmt(cpuOfSend.server, 0)} µs`,
          ceiling: `per \`{ __typename }\`: ${fmt(cpuOfBeside.server, 0)} µs`,
          ratio: `${fmt(cpuOfSend.server / cpuOfBeside.server)}×`,
          goal: '',
        },
        {
          figure: 'the whole machine per request (the same windows): server · PostgreSQL · load generator; cores busy',
          value: `${machineCpu(cpuOfSend, send.perSecond)} (sendMessage)`,
          ceiling: `${machineCpu(cpuOfBeside, beside.perSecond)} (\`{ __typename }\`)`,
          ratio: '',
          goal: '',
        },
        {
          figure: 'sendMessage against the database ceiling',
          value: `${fmt(send.perSecond, 0)} msg/s`,
          ceiling: insert,
          ratio: pct(send.perSecond / ceilings.insert.perSecond),
          goal: '',
        },
      );
    }
    if (only.has('fanout')) {
      console.log(`fan-out: one message to ${SUBSCRIBERS} graphql-ws subscribers`);
      const fanOutOrg = await seedBenchOrganization(bench, 20);
      const fanOut = await benchFanOut(server.url, fanOutOrg);
      const raw = await benchRawBroadcast(port + 1, 420);
      rows.push(
        {
          figure: `fan-out to ${SUBSCRIBERS} subscribers, response → last receipt, p50`,
          value: `${fmt(fanOut.p50)} ms`,
          ceiling: `raw WebSocket send to ${SUBSCRIBERS}: ${fmt(raw.p50)} ms`,
          ratio: `${fmt(fanOut.p50 / Math.max(raw.p50, 0.001))}× the raw time`,
          goal: '',
        },
        {
          figure: `fan-out to ${SUBSCRIBERS} subscribers, response → last receipt, p99`,
          value: `${fmt(fanOut.p99)} ms`,
          ceiling: `raw WebSocket send to ${SUBSCRIBERS}: ${fmt(raw.p99)} ms; Redis PUBLISH→receive p99 ${fmt(ceilings.publishRoundTripP99, 2)} ms`,
          ratio: `${fmt(fanOut.p99 / Math.max(raw.p99, 0.001))}× the raw time`,
          goal: 'p99 < 60 ms and ≤ 2× the raw time',
        },
      );
    }
    if (only.has('scale')) {
      console.log(`scale: ${SCALE_SUBSCRIBERS.toLocaleString('en')} graphql-ws subscribers on one instance`);
      const scaleOrg = await seedBenchOrganization(bench, 200);
      // What the subscriptions past the first thousand added: a reading before any subscriber would include memory
      // the earlier scenarios left the process holding, which the new subscriptions then reuse.
      const idle = idleRssPerSubscription(server, SUBSCRIBERS, SCALE_SUBSCRIBERS);
      const scale = await benchFanOut(server.url, scaleOrg, {
        subscribers: SCALE_SUBSCRIBERS,
        messages: 50,
        partway: idle.partway,
        whenIdle: idle.whenIdle,
      });
      // The same bytes to as many bare sockets: what this machine (server and clients on its two cores) allows.
      const raw = await benchRawBroadcast(port + 1, 420, SCALE_SUBSCRIBERS);
      rows.push(
        {
          figure: `${SCALE_SUBSCRIBERS.toLocaleString('en')} subscribers on one instance: response → last receipt`,
          value: `p50 ${fmt(scale.p50)} ms, p99 ${fmt(scale.p99)} ms; ${scale.messages} messages each reached all; ${scale.cutOff} cut off`,
          ceiling: `raw WebSocket send to ${SCALE_SUBSCRIBERS.toLocaleString('en')}: p50 ${fmt(raw.p50)} ms, p99 ${fmt(raw.p99)} ms`,
          ratio: `${fmt(scale.p99 / Math.max(raw.p99, 0.001))}× the raw p99`,
          goal: 'p99 < 400 ms, all reached, none cut off',
        },
        {
          figure: `server RSS per idle subscription, at ${SCALE_SUBSCRIBERS.toLocaleString('en')} (added between ${SUBSCRIBERS.toLocaleString('en')} and ${SCALE_SUBSCRIBERS.toLocaleString('en')})`,
          value: `${fmt(idle.perSubscription() / 1024)} KB`,
          ceiling: '',
          ratio: '',
          goal: '≤ 15 KB',
        },
      );
    }
    if (only.has('history')) {
      console.log(`history: filling a channel with ${HISTORY_SIZE.toLocaleString('en')} messages`);
      const historyOrg = await seedBenchOrganization(bench, 2);
      await fillHistory(bench, historyOrg.organizationId, historyOrg.channelId, historyOrg.users[0]!.id);
      const history = await benchHistory(bench, graphqlUrl, historyOrg.users[1]!, historyOrg.channelId, seconds);
      rows.push({
        figure: `newest page of 50 in a ${HISTORY_SIZE.toLocaleString('en')}-message channel, p99`,
        value: `${fmt(history.history.p99, 2)} ms (p50 ${fmt(history.history.p50, 2)} ms)`,
        ceiling: `raw SELECT of the page: p99 ${fmt(history.rawPage.p99, 2)} ms; \`{ __typename }\`: p99 ${fmt(history.transport.p99, 2)} ms`,
        ratio: `${fmt(history.history.p99 / (history.rawPage.p99 + history.transport.p99))}× (raw SELECT + transport)`,
        goal: 'p99 < 10 ms',
      });
    }
    if (only.has('webhooks')) {
      console.log(`webhooks: signed WhatsApp deliveries from ${WEBHOOK_CONCURRENCY} senders`);
      const platform = await seedBenchPlatform(bench, 50);
      const webhooks = await benchWebhooks(server.url, platform, seconds);
      rows.push(
        {
          figure: `webhook POST acknowledged (stored), ${WEBHOOK_CONCURRENCY} senders`,
          value: `${fmt(webhooks.acknowledged.perSecond, 0)} deliveries/s (p99 ack ${fmt(webhooks.acknowledged.p99)} ms)`,
          ceiling: transport,
          ratio: pct(webhooks.acknowledged.perSecond / ceilings.transport.perSecond),
          goal: 'p99 ack < 250 ms',
        },
        {
          figure: 'webhook message end to end (POST → routed row → subscriber event)',
          value: `${fmt(webhooks.endToEndPerSecond, 0)} msg/s (p50 ${fmt(webhooks.endToEndP50)} ms, p99 ${fmt(webhooks.endToEndP99)} ms; ${webhooks.duplicates} duplicates)`,
          ceiling: `${insert}; raw Redis PUBLISH: ${fmt(ceilings.publish.perSecond, 0)}/s`,
          ratio: pct(webhooks.endToEndPerSecond / ceilings.insert.perSecond),
          goal: '≥ 1,000 msg/s',
        },
      );
    }
    if (only.has('replay')) {
      console.log(`replay: a client back after ${MISSED_EVENTS.toLocaleString('en')} missed events`);
      const replayOrg = await seedBenchOrganization(bench, 2);
      const replay = await benchReplay(bench, server.url, replayOrg);
      rows.push({
        figure: `replay of ${MISSED_EVENTS.toLocaleString('en')} missed events (messages and reactions), subscribe → last event`,
        value: `${fmt(replay.replayMs, 0)} ms (${fmt((replay.events / replay.replayMs) * 1000, 0)} events/s)`,
        ceiling: `raw SELECT of the same rows: ${fmt(replay.rawMs, 1)} ms`,
        ratio: `${fmt(replay.replayMs / Math.max(replay.rawMs, 0.001))}× the raw SELECT`,
        goal: '',
      });
    }
    if (only.has('typing')) {
      console.log(`typing: signals to ${TYPING_SUBSCRIBERS} subscribers`);
      const typingOrg = await seedBenchOrganization(bench, 21);
      const typing = await benchTyping(server.url, typingOrg);
      rows.push({
        figure: `typing to ${TYPING_SUBSCRIBERS} subscribers, response → last receipt`,
        value: `p50 ${fmt(typing.p50)} ms, p99 ${fmt(typing.p99)} ms`,
        ceiling: '',
        ratio: '',
        goal: 'p99 < 100 ms',
      });
    }
    if (only.has('readstate')) {
      console.log(`read state: unreadCount with ${UNREAD_MANY.toLocaleString('en')} and ${UNREAD_FEW} unread`);
      const readOrg = await seedBenchOrganization(bench, 2);
      const [author, reader] = readOrg.users as [BenchUser, BenchUser];
      const few = await bench.services.channels.create(author.session, {
        name: 'few unread',
        channelType: 'PUBLIC',
        memberIds: [reader.id],
      });
      await fillChannel(bench, { ...readOrg, authorId: author.id }, UNREAD_MANY);
      await fillChannel(bench, { ...readOrg, channelId: few.id, authorId: author.id }, UNREAD_FEW);
      const unread = await benchUnreadCount(graphqlUrl, reader, { many: readOrg.channelId, few: few.id }, seconds);
      rows.push({
        figure: `\`Channel.unreadCount\` with ${UNREAD_MANY.toLocaleString('en')} unread, p50`,
        value: `${fmt(unread.many.p50, 2)} ms (p99 ${fmt(unread.many.p99, 2)} ms, ${unread.many.operations} requests, ${unread.many.errors} errors)`,
        ceiling: `the same with ${UNREAD_FEW} unread: p50 ${fmt(unread.few.p50, 2)} ms; \`channel(id) { id }\` (no count): p50 ${fmt(unread.lookup.p50, 2)} ms; \`{ __typename }\`: p50 ${fmt(unread.transport.p50, 2)} ms`,
        ratio: `${fmt(unread.many.p50 / Math.max(unread.few.p50, 0.001))}× the time with ${UNREAD_FEW}; ${fmt(unread.many.p50 / Math.max(unread.lookup.p50, 0.001))}× the lookup alone`,
        goal: 'p50 < 5 ms, as with 10',
      });
      console.log(`search: filling channels with ${SEARCH_SIZE.toLocaleString('en')} messages`);
      const searchOrg = await seedBenchOrganization(bench, 2);
      const [writer, searcher] = searchOrg.users as [BenchUser, BenchUser];
      const fillStarted = performance.now();
      await fillChannel(bench, { ...searchOrg, authorId: writer.id }, SEARCH_SIZE, SEARCH_CONTENT_SQL);
      notes.push(
        `Search: ${SEARCH_SIZE.toLocaleString('en')} messages written and indexed in ${fmt((performance.now() - fillStarted) / 1000, 0)} s.`,
      );
      const search = await benchSearch(graphqlUrl, searcher, seconds);
      rows.push({
        figure: `\`searchMessages\` over ${SEARCH_SIZE.toLocaleString('en')} messages, first page of 20, ${SEARCH_QUERIES.length} queries in turn, p99`,
        value: `${fmt(search.mixed.p99, 2)} ms (p50 ${fmt(search.mixed.p50, 2)} ms, ${search.mixed.errors} errors)`,
        ceiling: search.byQuery
          .map(({ query, matches, result }) => `${query} (${matches}): p99 ${fmt(result.p99, 1)} ms`)
          .join('; '),
        ratio: `worst query p99 ${fmt(Math.max(...search.byQuery.map(({ result }) => result.p99)), 1)} ms`,
        goal: 'p99 < 50 ms',
      });
    }
    if (only.has('auth')) {
      console.log('auth: signIn beside argon2id, refreshSession beside { __typename }');
      const authOrg = await seedBenchOrganization(bench, 16);
      const auth = await benchAuth(bench, graphqlUrl, authOrg, seconds);
      rows.push(
        {
          figure: `signIn (argon2id 19 MiB, t=2), ${SIGN_IN_CONCURRENCY} clients`,
          value: `${fmt(auth.signIn.perSecond, 1)} sign-ins/s (p50 ${fmt(auth.signIn.p50)} ms, p99 ${fmt(auth.signIn.p99)} ms)`,
          ceiling: `argon2id verify alone, ${SIGN_IN_CONCURRENCY} at once: ${fmt(auth.argon2.perSecond, 1)}/s (p50 ${fmt(auth.argon2.p50)} ms)`,
          ratio: pct(auth.signIn.perSecond / auth.argon2.perSecond),
          goal: 'costs what argon2id costs',
        },
        {
          figure:
            'refreshSession (rotation: one row spent, one written, a JWT signed), 16 clients (median of 3 alternating rounds)',
          value: `${fmt(auth.refresh.perSecond, 0)} req/s (p50 ${fmt(auth.refresh.p50)} ms, p99 ${fmt(auth.refresh.p99)} ms)`,
          ceiling: `\`{ __typename }\` just before: ${fmt(auth.transport.perSecond, 0)} req/s`,
          ratio: `${fmt(auth.transport.perSecond / Math.max(auth.refresh.perSecond, 0.001))}× slower`,
          goal: 'within 3× of `{ __typename }`',
        },
      );
    }
    if (only.has('media')) {
      const megabytes = MEDIA_BYTES / 1024 / 1024;
      console.log(`media: ${megabytes} MB uploads and downloads, then ${CONCURRENT_UPLOADS} uploads at once`);
      const mediaOrg = await seedBenchOrganization(bench, 1);
      const media = await benchMedia(server, mediaOrg.users[0]!, mediaOrg.channelId, port + 2);
      const rate = (ms: number) => `${fmt(megabytes / (ms / 1000), 0)} MB/s`;
      rows.push(
        {
          figure: `upload of ${megabytes} MB (PUT to the signed link, streamed into storage), p50`,
          value: `${fmt(media.upload.p50, 0)} ms (${rate(media.upload.p50)}; p99 ${fmt(media.upload.p99, 0)} ms)`,
          ceiling: `plain Node HTTP copy to a file: ${fmt(media.rawUpload.p50, 0)} ms (${rate(media.rawUpload.p50)})`,
          ratio: `${fmt(media.upload.p50 / Math.max(media.rawUpload.p50, 0.001))}× the raw time`,
          goal: '',
        },
        {
          figure: `download of ${megabytes} MB (the attachment's signed link), p50`,
          value: `${fmt(media.download.p50, 0)} ms (${rate(media.download.p50)}; p99 ${fmt(media.download.p99, 0)} ms)`,
          ceiling: `plain Node HTTP copy from a file: ${fmt(media.rawDownload.p50, 0)} ms (${rate(media.rawDownload.p50)})`,
          ratio: `${fmt(media.download.p50 / Math.max(media.rawDownload.p50, 0.001))}× the raw time`,
          goal: '',
        },
        {
          figure: `server RSS during ${CONCURRENT_UPLOADS} concurrent ${megabytes} MB uploads`,
          value: `${fmt(media.rss.beforeMb, 0)} MB → peak ${fmt(media.rss.peakMb, 0)} MB`,
          ceiling: `the bodies: ${CONCURRENT_UPLOADS * megabytes} MB`,
          ratio: `growth ${pct((media.rss.peakMb - media.rss.beforeMb) / (CONCURRENT_UPLOADS * megabytes))} of the bodies`,
          goal: 'flat (streams, not buffers)',
        },
      );
    }
    if (only.has('peers')) {
      console.log('peers: this server beside the comparison servers, one after the other');
      const seedPair = async () => ({
        fanOut: await seedBenchOrganization(bench, 20),
        send: await seedBenchOrganization(bench, 16),
      });
      const figures: { name: string; result: PeerFigures }[] = [
        { name: 'this server', result: await benchPeer(server, await seedPair(), seconds) },
      ];
      for (const [index, peer] of PEERS.entries()) {
        const peerPort = port + 10 + index;
        const peerServer = await startPeerProcess(
          peer.entry,
          { DATABASE_URL: bench.url, REDIS_URL: redisUrl, JWT_SECRET: BENCH_JWT_SECRET },
          peerPort,
        );
        try {
          figures.push({ name: peer.name, result: await benchPeer(peerServer, await seedPair(), seconds) });
        } finally {
          await peerServer.stop();
        }
      }
      const row = (figure: string, value: (result: PeerFigures) => string) =>
        `| ${figure} | ${figures.map(({ result }) => value(result)).join(' | ')} |`;
      sections.push(
        [
          '## Side by side',
          '',
          `The same client against each server in turn, in this run: this server, and the comparison servers in`,
          "`bench/peers/` written as their projects' documentation shows, on the same database and Redis.",
          '',
          `| Figure | ${figures.map(({ name }) => name).join(' | ')} |`,
          `| --- | ${figures.map(() => '---').join(' | ')} |`,
          row(
            `fan-out to ${PEER_SUBSCRIBERS.toLocaleString('en')} subscribers, p50 / p99`,
            ({ fanOut }) => `${fmt(fanOut.p50)} / ${fmt(fanOut.p99)} ms`,
          ),
          row(
            `RSS per idle subscription (added between ${SUBSCRIBERS.toLocaleString('en')} and ${PEER_SUBSCRIBERS.toLocaleString('en')})`,
            ({ idleBytesPerSubscription }) => `${fmt(idleBytesPerSubscription / 1024)} KB`,
          ),
          row(
            'sendMessage, 16 clients (share of its own `{ __typename }`)',
            ({ send }) => `${fmt(send.measured.perSecond, 0)} msg/s (${pct(send.share)})`,
          ),
          row(
            'server CPU time per sendMessage (× its own `{ __typename }`)',
            ({ send }) =>
              `${fmt(send.measured.cpuMicros!.server, 0)} µs (${fmt(send.measured.cpuMicros!.server / send.transport.cpuMicros!.server)}×)`,
          ),
          '',
        ].join('\n'),
      );
    }
    if (only.has('soak')) {
      console.log(`soak: ${soakSeconds}s of mixed traffic`);
      const platform = await seedBenchPlatform(bench, 20, 20);
      const soak = await benchSoak(server.url, bench.url, platform, graph, soakSeconds);
      for (const [operation, result] of Object.entries(soak.operations)) {
        rows.push({
          figure: `soak: ${operation}`,
          value: `${fmt(result.perSecond, 0)}/s (p99 ${fmt(result.p99)} ms, ${result.errors} errors)`,
          ceiling: transport,
          ratio: pct(result.perSecond / ceilings.transport.perSecond),
          goal: '',
        });
      }
      rows.push({
        figure: `soak: ${soak.subscribers} subscribers, messages received`,
        value: `${soak.delivered} deliveries; ${soak.missing} missing, ${soak.duplicated} duplicated; ${soak.rowsChecked} rows checked`,
        ceiling: '',
        ratio: '',
        goal: 'nothing lost or duplicated',
      });
      rows.push({
        figure: 'soak: staff replies sent to WhatsApp through the outbox',
        value: `${soak.outbox.sent} sent; ${soak.outbox.sentTwice} sent twice, ${soak.outbox.failed} failed, ${soak.outbox.queued} still queued`,
        ceiling: '',
        ratio: '',
        goal: 'each sent once',
      });
      rows.push({
        figure: 'soak: server RSS',
        value: `${fmt(soak.rssStartMb, 0)} MB → ${fmt(soak.rssEndMb, 0)} MB (peak ${fmt(soak.rssPeakMb, 0)} MB)`,
        ceiling: '',
        ratio: '',
        goal: 'bounded',
      });
      notes.push(`Soak: ${soakSeconds}s of mixed traffic.`);
    }
  } finally {
    await server.stop();
    await graph.stop();
    await bench.drop();
  }

  const report = [
    '# Benchmarks',
    '',
    'Written by `npm run bench`: each figure beside its ceiling, measured in the same run on the same machine',
    '(compare ratios, not absolute numbers, between machines). The server runs as its own process (the built',
    'output, `NODE_ENV=production`), on a fresh database, with Redis; the load generator shares the two cores. Between',
    'two measured fan-outs the load generator collects its own garbage (thousands of clients in one process), so that',
    'its collections do not take the cores from the server during a measurement, raw ceilings and peers alike.',
    '',
    `Last run: ${new Date().toISOString()} · ${os.cpus().length} cores · Node ${process.version} · ${seconds}s windows. ${notes.join(' ')}`,
    '',
    '| Figure | Measured | Ceiling (same run) | Ratio | Goal |',
    '| --- | --- | --- | --- | --- |',
    ...rows.map((row) => `| ${row.figure} | ${row.value} | ${row.ceiling} | ${row.ratio} | ${row.goal} |`),
    '',
    ...sections,
  ].join('\n');
  console.log(`\n${report}`);
  if (ALL.every((scenario) => only.has(scenario))) await writeFile(path.join(projectRoot, 'BENCHMARKS.md'), report);
}

await main();
