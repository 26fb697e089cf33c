import type { ServerProcess } from '../lib/server-process.js';
import type { BenchUser } from '../lib/setup.js';
import { benchFanOut, lowestRss, SUBSCRIBERS, type FanOutResult } from './fan-out.js';
import { benchSendMessageAgainstTransport, type SendMessageRound } from './send-message.js';

/** The comparison servers, each written as its projects' documentation shows (bench/peers/). */
export const PEERS = [
  { name: 'yoga + Pothos + Prisma, the usual way', entry: 'bench/peers/yoga-usual.ts' },
  { name: 'Apollo Server + graphql-redis-subscriptions', entry: 'bench/peers/apollo.ts' },
];

// Fewer messages than the fan-out scenario: three servers are measured in turn, and the slowest sets the pace.
const PEER_MESSAGES = 50;

export interface PeerFigures {
  fanOut: FanOutResult;
  idleBytesPerSubscription: number;
  send: SendMessageRound;
}

/**
 * One server measured as the side-by-side table does: fan-out of one message to 1,000 graphql-ws
 * subscribers (each its own client, socket and user pool), RSS per idle subscription while those 1,000 wait,
 * and sendMessage from 16 clients beside that server's own `{ __typename }`.
 */
export async function benchPeer(
  server: ServerProcess,
  organizations: { fanOut: { users: BenchUser[]; channelId: string }; send: { users: BenchUser[]; channelId: string } },
  seconds: number,
): Promise<PeerFigures> {
  // sendMessage first: it also warms the server (compiled code, pools, caches), so that the RSS read before the
  // subscribers connect is not mostly the garbage of its start.
  const send = await benchSendMessageAgainstTransport(`${server.url}/graphql`, organizations.send, seconds, 1);
  let idleBytesPerSubscription = 0;
  const before = await lowestRss(server);
  const fanOut = await benchFanOut(server.url, organizations.fanOut, {
    messages: PEER_MESSAGES,
    whenIdle: async () => {
      idleBytesPerSubscription = ((await lowestRss(server)) - before) / SUBSCRIBERS;
    },
  });
  return { fanOut, idleBytesPerSubscription, send };
}
