import type pg from 'pg';

/**
 * Runs `work` in a transaction on a pooled connection: committed when it resolves, rolled back when it
 * throws. After a failure the connection is discarded rather than returned to the pool, since the failure may
 * be that the connection itself broke (a database restart mid-transaction).
 */
export async function withTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { firstStatement?: string } = {},
): Promise<T> {
  const client = await pool.connect();
  let failure: Error | undefined;
  try {
    // A first statement without parameters travels with BEGIN: one round trip fewer on hot paths.
    await client.query(options.firstStatement ? `BEGIN; ${options.firstStatement}` : 'BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release(failure);
  }
}

/**
 * A transaction sent as one pipeline: BEGIN (with `firstStatement`), the statements `work` issues, and COMMIT all
 * go out before the first answer is awaited, so the whole transaction costs one round trip, and locks taken in it
 * are held for the time the server needs, not for the client's round trips. `work` must therefore issue all its
 * statements at once, before its first await, and decide nothing on their answers before the COMMIT: what it
 * returns is read once everything is committed. When a statement fails, the server ignores the rest of the
 * transaction and turns the COMMIT into a rollback; the failure is thrown, and the connection discarded as above.
 */
export async function withPipelinedTransaction<T>(
  pool: pg.Pool,
  work: (client: pg.PoolClient) => Promise<T>,
  options: { firstStatement?: string } = {},
): Promise<T> {
  const client = await pool.connect();
  // Pipelining is a mode of the connection that pg reads as it sends each query: it is switched on for this
  // transaction only, and off again once every answer is in, so the pooled connection goes back as it came.
  const pipelined = client as unknown as { pipeline: boolean };
  pipelined.pipeline = true;
  const sent: Promise<unknown>[] = [];
  let failure: Error | undefined;
  // And one write: the socket keeps what each statement writes until COMMIT is written too.
  const socket = (client as unknown as pg.Client).connection.stream;
  try {
    socket.cork();
    let commit: Promise<pg.QueryResult>;
    let result: Promise<T>;
    try {
      sent.push(client.query(options.firstStatement ? `BEGIN; ${options.firstStatement}` : 'BEGIN'));
      sent.push((result = work(client)));
      sent.push((commit = client.query('COMMIT')));
    } finally {
      socket.uncork();
    }
    await Promise.all(sent);
    // COMMIT answers ROLLBACK for a transaction a failed statement aborted; that statement's own error is thrown
    // above, so this only guards against a failure that `work` did not wait for.
    if ((await commit).command !== 'COMMIT') throw new Error('the transaction was rolled back');
    return await result;
  } catch (error) {
    failure = error instanceof Error ? error : new Error(String(error));
    // Every answer is in before the connection is let go (each rejection is handled here).
    await Promise.allSettled(sent);
    throw error;
  } finally {
    pipelined.pipeline = false;
    client.release(failure);
  }
}
