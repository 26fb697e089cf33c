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
  /** The server's CPU time per operation in the measured window, in µs, where its CPU time was given. */
  serverCpuMicros?: number;
}

/**
 * A closed loop: `concurrency` workers each run `operation` back to back for `seconds` (after a warm-up), and
 * the throughput and latency of the measured window are reported, and, given `serverCpuSeconds` (the CPU time the
 * server under test has used so far), the server's CPU time per operation in that window.
 */
export async function closedLoop(
  concurrency: number,
  seconds: number,
  operation: (worker: number) => Promise<void>,
  { warmupSeconds = 2, serverCpuSeconds }: { warmupSeconds?: number; serverCpuSeconds?: () => number } = {},
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
  const cpuAtStart = serverCpuSeconds?.();
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  measuring = false;
  const elapsed = (performance.now() - measureStart) / 1000;
  const serverCpu = cpuAtStart === undefined ? undefined : serverCpuSeconds!() - cpuAtStart;
  stop = true;
  await Promise.all(workers);
  return {
    operations: latencies.length,
    seconds: elapsed,
    perSecond: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    serverCpuMicros: serverCpu === undefined ? undefined : (serverCpu * 1e6) / Math.max(latencies.length, 1),
  };
}
