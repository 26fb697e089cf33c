import pg from 'pg';

export async function finishRun(): Promise<void> {
  const serverUrl = process.env.TEST_SERVER_DATABASE_URL;
  const database = process.env.TEST_DATABASE_NAME;
  if (serverUrl && database && process.env.KEEP_TEST_DATABASE !== '1') {
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    await admin.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin.end();
  }
  await (globalThis as { embeddedPostgres?: { stop(): Promise<void> } }).embeddedPostgres?.stop();
}
