import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { freePort, waitFor } from './process.js';

// A real Redis Cluster of the test's own: three masters (no replicas), each a redis-server process on free ports
// with its state in a temporary directory, joined by redis-cli --cluster create, and a password, as a deployed
// cluster has. A node restarted keeps its port, its node id and its slots (nodes.conf), as a restarted server of a
// real deployment would.

export interface DedicatedRedisCluster {
  /** The value of REDIS_CLUSTER_NODES. */
  nodes: string;
  ports: number[];
  /** Every node's password (REDIS_CLUSTER_PASSWORD). */
  password: string;
  /** The port of the master that owns the key's hash slot. */
  ownerOf(key: string): Promise<number>;
  /** Kills one node at once (a crash, or a network cut). */
  kill(port: number): Promise<void>;
  /** Starts a killed node again, and waits until the cluster counts it back. */
  start(port: number): Promise<void>;
  stop(): Promise<void>;
}

export const hasRedisServer = () =>
  ['redis-server', 'redis-cli'].every((tool) => spawnSync(tool, ['--version'], { stdio: 'ignore' }).status === 0);

const redisCli = (password: string, port: number, ...args: string[]) =>
  new Promise<string>((resolve) => {
    const probe = spawn('redis-cli', ['-p', String(port), ...args], {
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, REDISCLI_AUTH: password },
    });
    let out = '';
    probe.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    probe.on('error', () => resolve(''));
    probe.on('close', () => resolve(out));
  });

export async function dedicatedRedisCluster(size = 3): Promise<DedicatedRedisCluster> {
  if (!hasRedisServer()) throw new Error('a Redis Cluster test needs redis-server and redis-cli on the PATH');
  const root = await mkdtemp(path.join(tmpdir(), 'chat-redis-cluster-'));
  const password = randomBytes(12).toString('hex');
  const ports: number[] = [];
  const busPorts: number[] = [];
  // Each node's cluster bus gets a port of its own (the default, port + 10000, may not exist or be taken).
  while (ports.length < size) {
    const [port, busPort] = [await freePort(), await freePort()];
    if (port === busPort || [...ports, ...busPorts].some((taken) => taken === port || taken === busPort)) continue;
    ports.push(port);
    busPorts.push(busPort);
  }
  const children = new Map<number, ChildProcess>();

  const clusterState = async (port: number) =>
    /cluster_state:(\w+)/.exec(await redisCli(password, port, 'cluster', 'info'))?.[1];
  const everyNodeOk = () =>
    waitFor(
      async () => ((await Promise.all(ports.map(clusterState))).every((state) => state === 'ok') ? true : undefined),
      20_000,
      () => `cluster_state:ok on ports ${ports.join(', ')}`,
    );

  const start = async (port: number) => {
    const index = ports.indexOf(port);
    const dir = path.join(root, String(port));
    await mkdir(dir, { recursive: true });
    const child = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--cluster-port',
        String(busPorts[index]),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--cluster-enabled',
        'yes',
        '--requirepass',
        password,
        '--masterauth',
        password,
        '--cluster-config-file',
        'nodes.conf',
        '--cluster-node-timeout',
        '5000',
        // The other shards keep serving while one is away, as a production cluster should be configured.
        '--cluster-require-full-coverage',
        'no',
        '--cluster-allow-reads-when-down',
        'yes',
        '--save',
        '',
        '--appendonly',
        'no',
      ],
      { stdio: 'ignore' },
    );
    children.set(port, child);
    await waitFor(
      async () => ((await redisCli(password, port, 'ping')).includes('PONG') ? true : undefined),
      10_000,
      () => `redis-server (cluster node) on port ${port}`,
    );
  };

  const kill = async (port: number) => {
    const child = children.get(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  };

  const create = async () => {
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', env: { ...process.env, REDISCLI_AUTH: password } },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await everyNodeOk();
  };

  try {
    await Promise.all(ports.map(start));
    await create();
  } catch (error) {
    // No server outlives a cluster that could not be made.
    await Promise.all(ports.map(kill));
    await rm(root, { recursive: true, force: true });
    throw error;
  }

  return {
    nodes: ports.map((port) => `127.0.0.1:${port}`).join(','),
    ports,
    password,
    async ownerOf(key: string) {
      const slot = calculateSlot(key);
      const probe = new Redis({ port: ports[0], host: '127.0.0.1', password, lazyConnect: true });
      try {
        const ranges = await probe.cluster('SLOTS');
        const master = ranges.find(([from, to]) => slot >= from && slot <= to)?.[2];
        if (!master) throw new Error(`no node owns slot ${slot}`);
        return master[1];
      } finally {
        probe.disconnect();
      }
    },
    kill,
    async start(port: number) {
      await start(port);
      await everyNodeOk();
    },
    async stop() {
      await Promise.all(ports.map(kill));
      await rm(root, { recursive: true, force: true });
    },
  };
}
