import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { projectRoot } from '../../src/lib/project-root.js';

export interface ServerProcess {
  url: string;
  /** Asks the server for a full garbage collection (bench/lib/collect-on-signal.mjs). */
  collectGarbage(): void;
  /** The server's resident set size now, in bytes (Linux: /proc). */
  rss(): Promise<number>;
  /** The CPU time the server's process has used so far (all its threads), in seconds (Linux: /proc). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

/** The compiled server (`npm run build` output) in its own process, as in production. */
export function startServerProcess(env: Record<string, string>, port: number): Promise<ServerProcess> {
  // BENCH_PROFILE=<dir> writes a CPU profile of the server to that directory (chrome://inspect can read it).
  const profile = process.env.BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
  return spawnServer([...profile, path.join(projectRoot, 'dist', 'main.js')], env, port, (url) =>
    fetch(`${url}/readyz`).then(
      (response) => response.ok,
      () => false,
    ),
  );
}

/**
 * A comparison server (bench/peers/) from its source, in production mode like ours; it is up once
 * its GraphQL endpoint answers at all (unauthenticated requests get an error, which is an answer).
 */
export function startPeerProcess(entry: string, env: Record<string, string>, port: number): Promise<ServerProcess> {
  // Through tsx's loader in the same process (its CLI would run the server in a child, out of `rss()`'s sight).
  return spawnServer(['--import', 'tsx', path.join(projectRoot, entry)], env, port, (url) =>
    fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"query":"{ __typename }"}',
    }).then(
      () => true,
      () => false,
    ),
  );
}

async function spawnServer(
  args: string[],
  env: Record<string, string>,
  port: number,
  isReady: (url: string) => Promise<boolean>,
): Promise<ServerProcess> {
  // The young generation `npm run start:dist` gives the server (see the README's "Running in production").
  const heap = ['--max-semi-space-size=32'];
  const collectable = ['--expose-gc', '--import', path.join(projectRoot, 'bench', 'lib', 'collect-on-signal.mjs')];
  const child: ChildProcess = spawn(process.execPath, [...heap, ...collectable, ...args], {
    cwd: projectRoot,
    env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'warn', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  diesWithBench(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}`);
    if (await isReady(url)) break;
    if (Date.now() > deadline) throw new Error('server did not become ready');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    collectGarbage: () => void child.kill('SIGUSR2'),
    rss: async () => {
      const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
      return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
    },
    cpuSeconds: () => processCpuSeconds(child.pid!),
    stop: () =>
      new Promise((resolve) => {
        // A server that has not exited 10 s after SIGTERM (it waits for connections that stay open) is killed.
        const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}

/**
 * Should the bench itself die (an uncaught error), `child` ends with it rather than hold its port for the next run:
 * SIGTERM, which tsx's CLI passes on to the script it runs in a process of its own.
 */
export function diesWithBench(child: ChildProcess): void {
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill);
  child.once('exit', () => process.off('exit', kill));
}

/** Linux counts a process's CPU time in clock ticks of 1/100 s (USER_HZ). */
const TICKS_PER_SECOND = 100;

/** The CPU time (user and system, all threads) a process has used so far, in seconds (Linux: /proc). */
export function processCpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // The fields after the command name, which is in parentheses and may itself hold spaces: utime and stime are
  // the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU time of every PostgreSQL process on this machine so far (backends, WAL writer, checkpointer), in seconds. */
export function postgresCpuSeconds(): number {
  let seconds = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').startsWith('postgres')) seconds += processCpuSeconds(+entry);
    } catch {
      // The process ended between the listing and the read.
    }
  }
  return seconds;
}
