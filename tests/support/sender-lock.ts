import pg from 'pg';

// An outbox sender claims the due rows of every organization in its database, and the test files of a run
// share one database. Two files running senders at once would send each other's rows to the wrong fake Graph
// API, and a file that expects a row to wait for a sender would see it sent. So a file that runs a sender
// (the app's, or one it builds) holds this lock from before it starts one until after it stopped them all:
// a PostgreSQL advisory lock, which holds across jest's worker processes. Files that only queue rows need
// not take it; their rows are sent by whichever file runs a sender, to that file's fake Graph API.
const SENDER_LOCK_KEY = 0x6f7574626f78; // "outbox"

/** How long a file may wait for another file's senders to finish (jest's default hook timeout is shorter). */
export const SENDER_LOCK_WAIT_MS = 180_000;

export async function holdSenderLock(): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  await client.query('SELECT pg_advisory_lock($1)', [SENDER_LOCK_KEY]);
  return {
    release: async () => {
      await client.query('SELECT pg_advisory_unlock($1)', [SENDER_LOCK_KEY]);
      await client.end();
    },
  };
}
