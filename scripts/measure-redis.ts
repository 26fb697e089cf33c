// Redis's share of the work, for docs/scaling.md: what one Redis core spends per event (classic pub/sub on one
// Redis, classic pub/sub on a cluster, sharded pub/sub on a cluster), per presence heartbeat and per rate-limit
// check. Run: `npx tsx scripts/measure-redis.ts` (needs redis-server and redis-cli; starts its own servers on free
// ports and removes them afterwards).
//
// Figures are Redis CPU time (INFO CPU, user + system, summed over every node) per operation, which does not
// depend on how busy the rest of the machine is; divide a core's second by it for operations per core.
import { Cluster, Redis } from 'ioredis';
import { RedisRateLimiter } from '../src/limits/redis-rate-limiter.js';
import { RedisPresenceStore } from '../src/modules/presence/presence-store.js';
import { dedicatedRedis } from '../tests/support/dedicated-services.js';
import { dedicatedRedisCluster } from '../tests/support/redis-cluster.js';

const PAYLOAD = JSON.stringify({ publishedAt: Date.now(), message: { text: 'x'.repeat(640) } });
const EVENTS = 20_000;
const IN_FLIGHT = 64;

async function cpuSeconds(ports: number[], password?: string): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const probe = new Redis({ port, host: '127.0.0.1', password });
    const info = await probe.info('cpu');
    probe.disconnect();
    const read = (name: string) => Number(new RegExp(`${name}:([0-9.]+)`).exec(info)?.[1] ?? 0);
    total += read('used_cpu_user') + read('used_cpu_sys');
  }
  return total;
}

interface Run {
  name: string;
  /** Redis nodes whose CPU counts, and their password. */
  ports: number[];
  password?: string;
  /** Subscriber connections, each on the channels it is given, already subscribed. */
  subscribe(channels: string[], connections: number): Promise<{ received: () => number; close: () => void }>;
  publish(channel: string, payload: string): Promise<unknown>;
}

async function measure(run: Run, channels: string[], subscribers: number) {
  const listening = await run.subscribe(channels, subscribers);
  const before = await cpuSeconds(run.ports, run.password);
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < EVENTS) {
        const index = next++;
        await run.publish(channels[index % channels.length]!, PAYLOAD);
      }
    }),
  );
  const expected = (EVENTS * subscribers) / 1; // every subscriber connection is on every channel it was given
  const deadline = Date.now() + 30_000;
  while (listening.received() < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const seconds = (performance.now() - started) / 1000;
  const cpu = (await cpuSeconds(run.ports, run.password)) - before;
  listening.close();
  const microsPerEvent = (cpu / EVENTS) * 1e6;
  console.log(
    `${run.name}; ${channels.length} channel(s), ${subscribers} subscriber connection(s) on each: ` +
      `${Math.round(EVENTS / seconds)} events/s on this machine, ${listening.received()} of ${expected} deliveries, ` +
      `Redis CPU ${microsPerEvent.toFixed(1)} µs per event (${Math.round(1e6 / microsPerEvent)} events per Redis core-second)`,
  );
}

const single = await dedicatedRedis();
const cluster = await dedicatedRedisCluster();
const singlePort = Number(new URL(single.url).port);
const clusterNodes = cluster.ports.map((port) => ({ host: '127.0.0.1', port }));
try {
  const singlePublisher = new Redis(single.url, { enableAutoPipelining: true });
  const { password } = cluster;
  const clusterPublisher = new Cluster(clusterNodes, { enableAutoPipelining: true, redisOptions: { password } });
  await clusterPublisher.ping();

  const classicOnOne: Run = {
    name: 'one Redis, PUBLISH',
    ports: [singlePort],
    async subscribe(channels, connections) {
      let received = 0;
      const clients = await Promise.all(
        Array.from({ length: connections }, async () => {
          const client = new Redis(single.url);
          client.on('message', () => (received += 1));
          await client.subscribe(...channels);
          return client;
        }),
      );
      return { received: () => received, close: () => clients.forEach((client) => client.disconnect()) };
    },
    publish: (channel, payload) => singlePublisher.publish(channel, payload),
  };

  const classicOnCluster: Run = {
    name: 'cluster of 3, PUBLISH (broadcast to every node)',
    ports: cluster.ports,
    password,
    async subscribe(channels, connections) {
      let received = 0;
      // Subscribers spread over the nodes, as instances connected to different nodes would be.
      const clients = await Promise.all(
        Array.from({ length: connections }, async (_, index) => {
          const client = new Redis({ host: '127.0.0.1', port: cluster.ports[index % cluster.ports.length], password });
          client.on('message', () => (received += 1));
          await client.subscribe(...channels);
          return client;
        }),
      );
      return { received: () => received, close: () => clients.forEach((client) => client.disconnect()) };
    },
    publish: (channel, payload) => clusterPublisher.publish(channel, payload),
  };

  const shardedOnCluster: Run = {
    name: 'cluster of 3, SPUBLISH (the owning shard only)',
    ports: cluster.ports,
    password,
    async subscribe(channels, connections) {
      let received = 0;
      const clients: Redis[] = [];
      // As the server's bus does: per subscriber, one connection per shard owning some of its channels.
      for (let index = 0; index < connections; index++) {
        const byOwner = new Map<number, string[]>();
        for (const channel of channels) {
          const owner = await cluster.ownerOf(channel);
          byOwner.set(owner, [...(byOwner.get(owner) ?? []), channel]);
        }
        for (const [port, owned] of byOwner) {
          const client = new Redis({ host: '127.0.0.1', port, password });
          client.on('smessage', () => (received += 1));
          for (const channel of owned) await client.ssubscribe(channel);
          clients.push(client);
        }
      }
      return { received: () => received, close: () => clients.forEach((client) => client.disconnect()) };
    },
    publish: (channel, payload) => clusterPublisher.spublish(channel, payload),
  };

  const organizations = (count: number) => Array.from({ length: count }, (_, index) => `chat:{org:${index}}`);
  for (const subscribers of [1, 8, 32]) {
    await measure(classicOnOne, organizations(1), subscribers);
    await measure(classicOnCluster, organizations(1), subscribers);
    await measure(shardedOnCluster, organizations(1), subscribers);
  }
  // Many organizations, spread over the shards.
  await measure(classicOnCluster, organizations(30), 8);
  await measure(shardedOnCluster, organizations(30), 8);
  singlePublisher.disconnect();
  clusterPublisher.disconnect();

  // Presence: each instance's heartbeat for an organization walks every connected user of it (one hash).
  const timing = { ttlMs: 10_000, awayAfterMs: 300_000 };
  for (const [users, instances] of [
    [100, 10],
    [1_000, 10],
    [10_000, 10],
  ] as const) {
    const stores = Array.from(
      { length: instances },
      () => new RedisPresenceStore({ target: { url: single.url }, prefix: `measure-${users}:` }, timing),
    );
    await Promise.all(stores.map((store) => store.connect()));
    const now = Date.now();
    const share = (index: number) =>
      Array.from({ length: users / instances }, (_, user) => ({ userId: `u${index}-${user}`, activeAt: now }));
    // Every instance claims its share, then a round of heartbeats from every instance is measured.
    await Promise.all(stores.map((store, index) => store.heartbeat('org', `i${index}`, share(index), now)));
    const rounds = Math.max(1, Math.floor(200_000 / (users * instances)));
    const before = await cpuSeconds([singlePort]);
    for (let round = 0; round < rounds; round++)
      await Promise.all(stores.map((store, index) => store.heartbeat('org', `i${index}`, share(index), now + round)));
    const cpu = (await cpuSeconds([singlePort])) - before;
    const calls = rounds * instances;
    console.log(
      `presence heartbeat, ${users} users of one organization over ${instances} instances: ` +
        `${((cpu / calls) * 1e3).toFixed(2)} ms of Redis CPU per call, ` +
        `${((cpu / (calls * users)) * 1e9).toFixed(0)} ns per user walked`,
    );
    await Promise.all(stores.map((store) => store.close()));
  }

  // Rate limits: a mutation checks two keys (user, address) in one script call, batched per event-loop turn.
  const limiter = new RedisRateLimiter({ target: { url: single.url }, prefix: 'measure-limits:' });
  await limiter.connect();
  const policy = { name: 'mutations', limit: 1_000_000, windowMs: 60_000 };
  const checks = 50_000;
  const before = await cpuSeconds([singlePort]);
  // 100 mutations per turn of the event loop, as a busy instance would gather them.
  for (let turn = 0; turn < checks / 100; turn++)
    await Promise.all(
      Array.from({ length: 100 }, (_, index) =>
        limiter.consume([
          { policy, subject: `user:${(turn * 100 + index) % 5_000}` },
          { policy, subject: `ip:${index % 500}` },
        ]),
      ),
    );
  const cpu = (await cpuSeconds([singlePort])) - before;
  console.log(`rate limits: ${((cpu / checks) * 1e6).toFixed(1)} µs of Redis CPU per mutation (two keys)`);
  await limiter.close();
} finally {
  await single.kill();
  await cluster.stop();
}
