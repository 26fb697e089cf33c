import { Redis } from 'ioredis';
import pg from 'pg';
import { postGraphQL } from '../lib/graphql-client.js';
import type { BenchDatabase } from '../lib/setup.js';
import { closedLoop, type CpuReaders, percentile, type LoadResult } from '../lib/stats.js';

export const CEILING_CONCURRENCY = 16;

export interface Ceilings {
  /** The same server answering `{ __typename }` to authenticated clients. */
  transport: LoadResult;
  /** A message row INSERTed through `pg`, at the same concurrency. */
  insert: LoadResult;
  /** Raw Redis PUBLISH: throughput, and publish → receive latency. */
  publish: LoadResult;
  publishRoundTripP99: number;
}

/** The transport ceiling: the same server answering `{ __typename }` to authenticated clients. */
export function measureTransport(
  graphqlUrl: string,
  users: { token: string }[],
  seconds: number,
  cpu?: CpuReaders,
): Promise<LoadResult> {
  return closedLoop(
    CEILING_CONCURRENCY,
    seconds,
    (worker) =>
      postGraphQL(graphqlUrl, '{"query":"{ __typename }"}', users[worker % users.length]!.token).then(() => undefined),
    { cpu },
  );
}

/** A throughput beside the transport ceiling measured just before it, as a share of that ceiling. */
export interface BesideTransport {
  measured: LoadResult;
  transport: LoadResult;
  share: number;
}

/**
 * `measure` beside its transport ceiling, in alternating windows (ceiling, measure; `roundCount` times): the speed
 * of a shared machine drifts within a run by more than the difference being measured, and alternating puts each
 * window beside a ceiling taken moments before it. The round with the median share is reported. Given the
 * CPU readers (`cpu`), the ceiling's windows also tell the CPU time per request.
 */
export async function besideTransport(
  graphqlUrl: string,
  users: { token: string }[],
  seconds: number,
  measure: () => Promise<LoadResult>,
  roundCount = 3,
  cpu?: CpuReaders,
): Promise<BesideTransport> {
  const rounds: BesideTransport[] = [];
  for (let round = 0; round < roundCount; round++) {
    const transport = await measureTransport(graphqlUrl, users, seconds, cpu);
    const measured = await measure();
    rounds.push({ measured, transport, share: measured.perSecond / transport.perSecond });
  }
  return rounds.sort((a, b) => a.share - b.share)[Math.floor(roundCount / 2)]!;
}

/** The raw limits every figure of a run is compared with, measured in that run. */
export async function measureCeilings(
  bench: BenchDatabase,
  graphqlUrl: string,
  redisUrl: string,
  seeded: { organizationId: string; channelId: string; users: { id: string; token: string }[] },
  seconds: number,
): Promise<Ceilings> {
  const transport = await measureTransport(graphqlUrl, seeded.users, seconds);

  // Rows of an organization of their own, numbered from a sequence of their own, so they never collide with
  // the server's.
  const { organization } = await bench.services.organizations.createWithAdmin({
    name: 'raw insert ceiling',
    admin: { email: `raw-${Date.now()}@bench.test`, displayName: 'Raw' },
  });
  const pool = new pg.Pool({ connectionString: bench.url, max: CEILING_CONCURRENCY });
  await pool.query('CREATE SEQUENCE IF NOT EXISTS bench_raw_seq');
  const insert = await closedLoop(CEILING_CONCURRENCY, seconds, (worker) =>
    pool
      .query(
        `INSERT INTO messages (id, organization_id, channel_id, user_id, content, message_type, message_source, event_seq, created_seq, channel_seq)
         VALUES (gen_random_uuid(), $1, $2, $3, $4, 'text', 'internal', nextval('bench_raw_seq'), currval('bench_raw_seq'), currval('bench_raw_seq'))`,
        [organization.id, seeded.channelId, seeded.users[worker % seeded.users.length]!.id, `raw message ${worker}`],
      )
      .then(() => undefined),
  );
  await pool.end();

  const publisher = new Redis(redisUrl);
  const subscriber = new Redis(redisUrl);
  const channel = `bench:${Date.now()}`;
  const pending = new Map<string, (at: number) => void>();
  await subscriber.subscribe(channel);
  subscriber.on('message', (_channel: string, message: string) => pending.get(message)?.(performance.now()));
  const roundTrips: number[] = [];
  for (let index = 0; index < 2_000; index++) {
    const id = String(index);
    const started = performance.now();
    const received = new Promise<number>((resolve) => pending.set(id, resolve));
    await publisher.publish(channel, id);
    roundTrips.push((await received) - started);
    pending.delete(id);
  }
  const publish = await closedLoop(CEILING_CONCURRENCY, Math.min(seconds, 5), () =>
    publisher.publish(`${channel}:load`, 'x').then(() => undefined),
  );
  publisher.disconnect();
  subscriber.disconnect();
  return { transport, insert, publish, publishRoundTripP99: percentile(roundTrips, 99) };
}
