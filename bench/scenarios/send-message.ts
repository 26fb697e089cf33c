import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchUser } from '../lib/setup.js';
import { closedLoop, type LoadResult } from '../lib/stats.js';
import { CEILING_CONCURRENCY, measureTransport } from './ceilings.js';

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
): Promise<LoadResult> {
  const counters = new Array<number>(CEILING_CONCURRENCY).fill(0);
  const body = (worker: number) =>
    SEND.replace('"channelId":""', `"channelId":"${seeded.channelId}"`).replace(
      '"content":""',
      `"content":"bench message ${worker}-${counters[worker]!++} with a realistic length of text in it"`,
    );
  return closedLoop(CEILING_CONCURRENCY, seconds, (worker) =>
    postGraphQL(graphqlUrl, body(worker), seeded.users[worker % seeded.users.length]!.token).then(() => undefined),
  );
}

export interface SendMessageRound {
  send: LoadResult;
  transport: LoadResult;
  ratio: number;
}

/**
 * sendMessage beside its transport ceiling, measured in alternating windows (ceiling, send; three times):
 * the speed of a shared machine drifts within a run by more than the difference being measured, and
 * alternating puts each send window beside a ceiling taken moments before it. The round with the median
 * ratio is reported.
 */
export async function benchSendMessageAgainstTransport(
  graphqlUrl: string,
  seeded: { users: BenchUser[]; channelId: string },
  seconds: number,
  roundCount = 3,
): Promise<SendMessageRound> {
  const rounds: SendMessageRound[] = [];
  for (let round = 0; round < roundCount; round++) {
    const transport = await measureTransport(graphqlUrl, seeded.users, seconds);
    const send = await benchSendMessage(graphqlUrl, seeded, seconds);
    rounds.push({ send, transport, ratio: send.perSecond / transport.perSecond });
  }
  return rounds.sort((a, b) => a.ratio - b.ratio)[Math.floor(roundCount / 2)]!;
}
