import type { ServerProcess } from '../lib/server-process.js';
import type { BenchUser } from '../lib/setup.js';
import { benchFanOut, idleRssPerSubscription, SUBSCRIBERS, type FanOutResult } from './fan-out.js';
import type { BesideTransport } from './ceilings.js';
import { benchSendMessageAgainstTransport } from './send-message.js';

/** The comparison servers, each written as its projects' documentation shows (bench/peers/). */
export const PEERS = [
  { name: 'yoga + Pothos + Prisma, the usual way', entry: 'bench/peers/yoga-usual.ts' },
  { name: 'Apollo Server + graphql-redis-subscriptions', entry: 'bench/peers/apollo.ts' },
];

// Fewer messages than the fan-out scenario: three servers are measured in turn, and the slowest sets the pace.
const PEER_MESSAGES = 50;
/** Subscribers when the fan-out is measured, as in the second row; RSS is read at 1,000 and here. */
export const PEER_SUBSCRIBERS = 3_000;

export interface PeerFigures {
  fanOut: FanOutResult;
  idleBytesPerSubscription: number;
  send: BesideTransport;
}

/**
 * One server measured as the side-by-side table does: sendMessage from 16 clients beside that server's
 * own `{ __typename }`, then fan-out of one message to 3,000 graphql-ws subscribers (each its own client and
 * socket), and the RSS each idle subscription adds: read at 1,000 and at 3,000 connected, so that what the
 * server holds anyway (its heap after the sends, its start) cancels out.
 */
export async function benchPeer(
  server: ServerProcess,
  organizations: { fanOut: { users: BenchUser[]; channelId: string }; send: { users: BenchUser[]; channelId: string } },
  seconds: number,
): Promise<PeerFigures> {
  const send = await benchSendMessageAgainstTransport(`${server.url}/graphql`, organizations.send, seconds, 1, {
    server: server.cpuSeconds,
  });
  const idle = idleRssPerSubscription(server, SUBSCRIBERS, PEER_SUBSCRIBERS);
  const fanOut = await benchFanOut(server.url, organizations.fanOut, {
    subscribers: PEER_SUBSCRIBERS,
    messages: PEER_MESSAGES,
    partway: idle.partway,
    whenIdle: idle.whenIdle,
  });
  return { fanOut, idleBytesPerSubscription: idle.perSubscription(), send };
}
