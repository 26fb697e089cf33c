import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchUser } from '../lib/setup.js';
import { closedLoop, type CpuReaders, type LoadResult } from '../lib/stats.js';
import { besideTransport, type BesideTransport, CEILING_CONCURRENCY } from './ceilings.js';

const SEND = JSON.stringify({
  query: `mutation Send($input: SendMessageInput!) {
    sendMessage(input: $input) { id content createdAt cursor author { id displayName } }
  }`,
  variables: { input: { channelId: '', content: '' } },
});

/** sendMessage over HTTP from 16 authenticated clients into one busy channel. */
async function benchSendMessage(
  graphqlUrl: string,
  seeded: { users: BenchUser[]; channelId: string },
  seconds: number,
  cpu?: CpuReaders,
): Promise<LoadResult> {
  const counters = new Array<number>(CEILING_CONCURRENCY).fill(0);
  const body = (worker: number) =>
    SEND.replace('"channelId":""', `"channelId":"${seeded.channelId}"`).replace(
      '"content":""',
      `"content":"bench message ${worker}-${counters[worker]!++} with a realistic length of text in it"`,
    );
  return closedLoop(
    CEILING_CONCURRENCY,
    seconds,
    (worker) =>
      postGraphQL(graphqlUrl, body(worker), seeded.users[worker % seeded.users.length]!.token).then(() => undefined),
    { cpu },
  );
}

/**
 * sendMessage beside its transport ceiling, in alternating windows (see besideTransport), with the server's CPU
 * time per request (and the database's and the load generator's) in both where `cpu` reads them.
 */
export function benchSendMessageAgainstTransport(
  graphqlUrl: string,
  seeded: { users: BenchUser[]; channelId: string },
  seconds: number,
  roundCount = 3,
  cpu?: CpuReaders,
): Promise<BesideTransport> {
  return besideTransport(
    graphqlUrl,
    seeded.users,
    seconds,
    () => benchSendMessage(graphqlUrl, seeded, seconds, cpu),
    roundCount,
    cpu,
  );
}
