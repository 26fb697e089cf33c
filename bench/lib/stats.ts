/** Percentile of a list of numbers (nearest rank). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export interface LoadResult {
  operations: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** CPU time per operation in the measured window, in µs, of each process `cpu` reads, and of the load generator. */
  cpuMicros?: CpuByProcess;
}

/** CPU time of the processes sharing the machine: the server, the database (where it runs here), this process. */
export interface CpuByProcess {
  server: number;
  database?: number;
  loadGenerator: number;
}

/** The CPU time (s) used so far by the server under test, and by the database where it runs on this machine. */
export interface CpuReaders {
  server: () => number;
  database?: () => number;
}

/**
 * A closed loop: `concurrency` workers each run `operation` back to back for `seconds` (after a warm-up), and
 * the throughput and latency of the measured window are reported, and, given `cpu`, the CPU time per operation
 * in that window of the server, the database, and this process (the load generator, which shares the machine).
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  operation: (worker: number) => Promise<void>,
  { warmupSeconds = 2, cpu }: { warmupSeconds?: number; cpu?: CpuReaders } = {},
): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stop = false;
  const warmupEnds = Date.now() + warmupSeconds * 1000;
  let measureStart = 0;
  const workers = Array.from({ length: concurrency }, async (_, worker) => {
    while (!stop) {
      const started = performance.now();
      try {
        await operation(worker);
        if (measuring) latencies.push(performance.now() - started);
      } catch (error) {
        if (measuring) errors += 1;
        if (errors === 1) console.warn('first error of the run:', (error as Error).message);
      }
    }
  });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, warmupEnds - Date.now())));
  measuring = true;
  measureStart = performance.now();
  const cpuAtStart = cpu && cpuSnapshot(cpu);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - measureStart) / 1000;
  const cpuAtEnd = cpu && cpuSnapshot(cpu);
  stop = true;
  await Promise.all(workers);
  return {
    operations: latencies.length,
    seconds: elapsed,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    cpuMicros: cpuAtStart && cpuAtEnd && perOperation(cpuAtStart, cpuAtEnd, latencies.length),
  };
}

/** Seconds used so far. */
const cpuSnapshot = (cpu: CpuReaders): CpuByProcess => {
  const own = process.cpuUsage();
  return { server: cpu.server(), database: cpu.database?.(), loadGenerator: (own.user + own.system) / 1e6 };
};

/** µs per operation between two snapshots. */
const perOperation = (start: CpuByProcess, end: CpuByProcess, operations: number): CpuByProcess => {
  // Never below zero: a PostgreSQL backend that exits between two readings takes its CPU time with it.
  const micros = (key: keyof CpuByProcess) => (Math.max(0, end[key]! - start[key]!) * 1e6) / Math.max(operations, 1);
  return {
    server: micros('server'),
    database: start.database === undefined ? undefined : micros('database'),
    loadGenerator: micros('loadGenerator'),
  };
};
