import pg from 'pg';

/**
 * Counts the SQL statements this process sends to PostgreSQL while `work` runs. Prisma (through
 * @prisma/adapter-pg) and the hand-written statements both go through pg's Client, and the test server runs
 * in the test's process, so this sees every statement a request causes.
 */
export async function countStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: string[] }> {
  const statements: string[] = [];
  const original = pg.Client.prototype.query;
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const [first] = args;
    statements.push(typeof first === 'string' ? first : String((first as { text?: string })?.text ?? ''));
    return (original as (...a: unknown[]) => unknown).apply(this, args);
  } as typeof original;
  try {
    return { result: await work(), statements };
  } finally {
    pg.Client.prototype.query = original;
  }
}
