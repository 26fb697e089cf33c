// One organization's write path, for docs/scaling.md: what PostgreSQL spends on the message writer's batches
// (each holds the organization's sequence lock until its commit), by how many sends are waiting, and so how many
// messages per second one organization can write. Run: `npx tsx scripts/measure-writer.ts` (uses
// BENCH_DATABASE_URL, default the local server, which must run on this machine: its CPU time is read from /proc;
// creates a database of its own and drops it).
//
// The writer is driven directly (no HTTP, no GraphQL), by N closed-loop senders in one channel: N = 1 gives
// batches of one message, larger N larger batches. Batches are counted as the transactions that wrote the rows.
import { postgresCpuSeconds } from '../bench/lib/server-process.js';
import { createBenchDatabase, seedBenchOrganization } from '../bench/lib/setup.js';

const SENDERS = [1, 2, 4, 8, 16, 32];
const SECONDS = 4;

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const bench = await createBenchDatabase(serverUrl);
try {
  const seeded = await seedBenchOrganization(bench, 16);
  const transactions = async () =>
    Number((await bench.db.pool.query('SELECT count(DISTINCT xmin::text) AS n FROM messages')).rows[0].n);
  /** N senders for SECONDS: messages per second, messages per batch, and PostgreSQL's CPU per batch. */
  const round = async (senders: number) => {
    const batchesBefore = await transactions();
    const cpuBefore = postgresCpuSeconds();
    const started = performance.now();
    let written = 0;
    await Promise.all(
      Array.from({ length: senders }, async (_, sender) => {
        const author = seeded.users[sender % seeded.users.length]!;
        while (performance.now() - started < SECONDS * 1000) {
          await bench.services.writer.insert(seeded.organizationId, {
            channelId: seeded.channelId,
            userId: author.id,
            content: `writer message ${sender}-${written} with a realistic length of text in it`,
            messageType: 'TEXT',
            metadata: null,
            threadId: null,
            messageSource: 'INTERNAL',
          });
          written++;
        }
      }),
    );
    const elapsed = (performance.now() - started) / 1000;
    const cpu = postgresCpuSeconds() - cpuBefore;
    const batches = (await transactions()) - batchesBefore;
    return {
      perSecond: written / elapsed,
      size: written / batches,
      msPerBatch: (elapsed * 1000) / batches,
      cpuPerBatch: cpu / batches,
    };
  };
  // Warms the connections and their prepared statements.
  await round(16);
  const measured = [];
  for (const senders of SENDERS) {
    const figures = await round(senders);
    measured.push(figures);
    console.log(
      `${String(senders).padStart(2)} senders: ${Math.round(figures.perSecond)} msg/s, ${figures.size.toFixed(1)} per ` +
        `batch, ${figures.msPerBatch.toFixed(2)} ms per batch, PostgreSQL CPU ${Math.round(figures.cpuPerBatch * 1e6)} ` +
        `µs per batch = ${Math.round((figures.cpuPerBatch / figures.size) * 1e6)} µs per message`,
    );
  }
  // PostgreSQL's CPU per batch as a fixed part plus a part per message (least squares over the rounds).
  const meanSize = measured.reduce((sum, point) => sum + point.size, 0) / measured.length;
  const meanCpu = measured.reduce((sum, point) => sum + point.cpuPerBatch, 0) / measured.length;
  const perMessage =
    measured.reduce((sum, point) => sum + (point.size - meanSize) * (point.cpuPerBatch - meanCpu), 0) /
    measured.reduce((sum, point) => sum + (point.size - meanSize) ** 2, 0);
  const fixed = meanCpu - perMessage * meanSize;
  console.log(
    `PostgreSQL CPU per batch ≈ ${Math.round(fixed * 1e6)} µs + ${Math.round(perMessage * 1e6)} µs per message`,
  );
} finally {
  await bench.drop();
}
