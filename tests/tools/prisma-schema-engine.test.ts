/**
 * The project's schema engine (scripts/prisma-schema-engine.mjs), exercised the way it is used: through the real
 * Prisma CLI, against the test run's PostgreSQL server. Every suite works in databases of its own
 * (engine_test_<random>) and drops them afterwards, so the file can run next to others on parallel workers.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
const bridgePath = path.join(projectRoot, 'scripts', 'prisma-schema-engine.mjs');
const prismaCli = path.join(projectRoot, 'node_modules', 'prisma', 'build', 'index.js');
const migrationsDir = path.join(projectRoot, 'prisma', 'migrations');
const schemaPath = path.join(projectRoot, 'prisma', 'schema.prisma');
// The server the global setup chose for this run (the local PostgreSQL, or the embedded one).
const serverUrl = new URL(process.env.TEST_SERVER_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');

// Prisma commands take one to two seconds each; some tests run several.
const SLOW = 60_000;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string | undefined>; input?: string } = {},
) {
  // The child must find the engine on its own (prisma.config.ts), not inherit one chosen by whoever runs jest.
  const env: Record<string, string | undefined> = { ...process.env, ...options.env };
  if (!options.env || !('PRISMA_SCHEMA_ENGINE_BINARY' in options.env)) delete env.PRISMA_SCHEMA_ENGINE_BINARY;
  for (const key of Object.keys(env)) if (env[key] === undefined) delete env[key];
  return new Promise<RunResult>((resolve, reject) => {
    const child = spawn(command, args, { cwd: projectRoot, env: env as NodeJS.ProcessEnv, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

const prisma = (args: string[], env: Record<string, string | undefined> = {}, input?: string) =>
  run(process.execPath, [prismaCli, ...args], { env: { CI: '1', ...env }, input });
const bridge = (args: string[]) => run(process.execPath, [bridgePath, ...args]);

const urlOf = (database: string) => {
  const url = new URL(serverUrl);
  url.pathname = `/${database}`;
  return url.toString();
};
const uniqueDatabaseName = () => `engine_test_${randomBytes(6).toString('hex')}`;

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>, database = 'postgres'): Promise<T> {
  const client = new pg.Client({ connectionString: urlOf(database) });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const createDatabase = (name: string) => withAdmin((c) => c.query(`CREATE DATABASE "${name}"`));
const dropDatabase = (name: string) => withAdmin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
const databaseExists = (name: string) =>
  withAdmin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);
const queryIn = <R extends pg.QueryResultRow>(database: string, sql: string) =>
  withAdmin(async (c) => (await c.query<R>(sql)).rows, database);

async function migrationFolders(dir = migrationsDir) {
  return (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();
}

/** Shadow databases the engine reports (through its trace file) having created during one command. */
async function shadowDatabasesIn(traceFile: string) {
  const text = await readFile(traceFile, 'utf8').catch(() => '');
  return [...text.matchAll(/created shadow database (prisma_migrate_shadow_db_[0-9a-f-]+)/g)].map((m) => m[1]!);
}

describe('migrate deploy and status on an empty database', () => {
  const database = uniqueDatabaseName();
  let firstDeploy: RunResult;

  beforeAll(async () => {
    await createDatabase(database);
    firstDeploy = await prisma(['migrate', 'deploy'], { DATABASE_URL: urlOf(database) });
  }, SLOW);
  afterAll(() => dropDatabase(database));

  it('applies every migration in prisma/migrations and records each in _prisma_migrations', async () => {
    expect(firstDeploy.stderr + firstDeploy.stdout).toContain('All migrations have been successfully applied');
    expect(firstDeploy.code).toBe(0);

    const folders = await migrationFolders();
    expect(folders.length).toBeGreaterThan(0);
    const recorded = await queryIn<{ migration_name: string; finished: boolean; rolled_back: boolean }>(
      database,
      `SELECT migration_name, finished_at IS NOT NULL AS finished, rolled_back_at IS NOT NULL AS rolled_back
         FROM _prisma_migrations ORDER BY migration_name`,
    );
    expect(recorded.map((r) => r.migration_name)).toEqual(folders);
    expect(recorded.every((r) => r.finished && !r.rolled_back)).toBe(true);

    const [messages] = await queryIn<{ table: string | null }>(
      database,
      `SELECT to_regclass('public.messages')::text AS table`,
    );
    expect(messages?.table).toBe('messages');
  });

  it(
    'does nothing on a second deploy',
    async () => {
      const before = await queryIn<{ id: string; finished_at: Date }>(
        database,
        'SELECT id, finished_at FROM _prisma_migrations ORDER BY id',
      );
      const again = await prisma(['migrate', 'deploy'], { DATABASE_URL: urlOf(database) });
      expect(again.stdout).toContain('No pending migrations to apply');
      expect(again.code).toBe(0);
      const after = await queryIn<{ id: string; finished_at: Date }>(
        database,
        'SELECT id, finished_at FROM _prisma_migrations ORDER BY id',
      );
      expect(after).toEqual(before);
    },
    SLOW,
  );

  it(
    'reports the migrated schema as up to date in migrate status',
    async () => {
      const status = await prisma(['migrate', 'status'], { DATABASE_URL: urlOf(database) });
      expect(status.stdout).toContain('Database schema is up to date!');
      expect(status.code).toBe(0);
    },
    SLOW,
  );
});

describe('drift check: migrate diff --from-migrations --to-schema --exit-code', () => {
  // The shadow database that replays the migrations is created next to this (empty) one.
  const database = uniqueDatabaseName();
  let scratch: string;

  beforeAll(async () => {
    await createDatabase(database);
    scratch = await mkdtemp(path.join(tmpdir(), 'engine-test-'));
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    await dropDatabase(database);
  });

  async function diffAgainst(schema: string, label: string) {
    const traceFile = path.join(scratch, `${label}.trace`);
    const result = await prisma(
      ['migrate', 'diff', '--from-migrations', 'prisma/migrations', '--to-schema', schema, '--exit-code'],
      { DATABASE_URL: urlOf(database), PRISMA_ENGINE_BRIDGE_LOG: traceFile },
    );
    return { ...result, shadowDatabases: await shadowDatabasesIn(traceFile) };
  }

  async function expectDropped(names: string[]) {
    expect(names.length).toBeGreaterThan(0); // the diff really went through a temporary shadow database
    for (const name of names) expect(await databaseExists(name)).toBe(false);
  }

  it(
    'exits 0 when the committed migrations produce the committed schema',
    async () => {
      const result = await diffAgainst('prisma/schema.prisma', 'committed');
      expect(result.stdout).toContain('No difference detected');
      expect(result.code).toBe(0);
      await expectDropped(result.shadowDatabases);
    },
    SLOW,
  );

  it(
    'exits 2 and names the difference when the schema has drifted from the migrations',
    async () => {
      const drifted = path.join(scratch, 'schema.prisma');
      await writeFile(
        drifted,
        `${await readFile(schemaPath, 'utf8')}\nmodel EngineTestDrift {\n  id   Int     @id\n  note String?\n\n  @@map("engine_test_drift")\n}\n`,
      );
      const result = await diffAgainst(drifted, 'drifted');
      expect(result.stdout).toContain('engine_test_drift');
      expect(result.code).toBe(2);
      await expectDropped(result.shadowDatabases);
    },
    SLOW,
  );

  it('is what `npm run db:check-drift` runs', async () => {
    const pkg = JSON.parse(await readFile(path.join(projectRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts['db:check-drift']).toBe(
      'prisma migrate diff --from-migrations prisma/migrations --to-schema prisma/schema.prisma --exit-code',
    );
  });
});

describe('engine command line', () => {
  it(
    'prints its version, and the CLI picks it up through prisma.config.ts',
    async () => {
      const direct = await bridge(['--version']);
      expect(direct.code).toBe(0);
      expect(direct.stdout).toMatch(/^schema-engine-cli [0-9a-f]{40}\b/);

      const version = await prisma(['version']);
      expect(version.code).toBe(0);
      expect(version.stdout).toMatch(
        /Schema Engine\s*: schema-engine-cli [0-9a-f]{40}.*scripts\/prisma-schema-engine\.mjs/,
      );
    },
    SLOW,
  );

  it(
    'fails `cli can-connect-to-database` with P1001 for an unreachable port',
    async () => {
      const port = await new Promise<number>((resolve, reject) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const { port: free } = probe.address() as { port: number };
          probe.close(() => resolve(free));
        });
        probe.on('error', reject);
      });
      const result = await bridge([
        '--datasource',
        JSON.stringify({ url: `postgresql://postgres@127.0.0.1:${port}/postgres` }),
        'cli',
        'can-connect-to-database',
      ]);
      expect(result.code).toBe(1);
      // The CLI's reading of it: drop the first stderr line, JSON-parse the others, use the ERROR entry.
      const entries = result.stderr
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => JSON.parse(line) as { level: string; fields: Record<string, string> });
      const failure = entries.find((e) => e.level === 'ERROR');
      expect(failure?.fields.error_code).toBe('P1001');
      expect(failure?.fields.message).toContain(`Can't reach database server at \`127.0.0.1:${port}\``);
    },
    SLOW,
  );

  it(
    'reports a missing database as P1003 and creates it with `cli create-database`',
    async () => {
      const database = uniqueDatabaseName();
      const datasource = JSON.stringify({ url: urlOf(database) });
      try {
        const check = await bridge(['--datasource', datasource, 'cli', 'can-connect-to-database']);
        expect(check.code).toBe(1);
        expect(check.stderr).toContain('"error_code":"P1003"');

        const created = await bridge(['--datasource', datasource, 'cli', 'create-database']);
        expect(created.code).toBe(0);
        expect(await databaseExists(database)).toBe(true);
        expect((await bridge(['--datasource', datasource, 'cli', 'can-connect-to-database'])).code).toBe(0);
      } finally {
        await dropDatabase(database);
      }
    },
    SLOW,
  );
});

describe('db execute', () => {
  const database = uniqueDatabaseName();
  beforeAll(() => createDatabase(database));
  afterAll(() => dropDatabase(database));

  it(
    'runs a script whose function body and literals contain semicolons',
    async () => {
      const script = `
      CREATE TABLE engine_probe (note text NOT NULL DEFAULT 'a;b');
      CREATE FUNCTION engine_probe_count() RETURNS bigint LANGUAGE plpgsql AS $$
        DECLARE n bigint;
        BEGIN SELECT count(*) INTO n FROM engine_probe; RETURN n; END;
      $$;
      INSERT INTO engine_probe DEFAULT VALUES;
    `;
      const result = await prisma(['db', 'execute', '--stdin'], { DATABASE_URL: urlOf(database) }, script);
      expect(result.stdout).toContain('Script executed successfully');
      expect(result.code).toBe(0);
      const rows = await queryIn<{ note: string; n: string }>(
        database,
        'SELECT note, engine_probe_count()::text AS n FROM engine_probe',
      );
      expect(rows).toEqual([{ note: 'a;b', n: '1' }]);
    },
    SLOW,
  );
});

describe('migrate dev and reset, in a scratch copy of the migrations', () => {
  // `migrate dev` writes migration folders: it runs on a copy, with a config of its own, never on prisma/.
  const database = uniqueDatabaseName();
  let scratch: string;
  let handWritten: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'engine-dev-'));
    await cp(migrationsDir, path.join(scratch, 'migrations'), { recursive: true });
    // A hand-written migration, right after the committed ones, with semicolons inside a function body and a
    // literal: the engine must send it to PostgreSQL as one script, not cut it at every `;`.
    const committed = await migrationFolders();
    handWritten = `${committed.at(-1)}_engine_test_function`;
    await mkdir(path.join(scratch, 'migrations', handWritten));
    await writeFile(
      path.join(scratch, 'migrations', handWritten, 'migration.sql'),
      `CREATE FUNCTION engine_test_fn() RETURNS text LANGUAGE plpgsql AS $$\nBEGIN\n  PERFORM 1;\n  RETURN 'a;b';\nEND;\n$$;\n`,
    );
    // Only the client generator matters to migrate; the Pothos one would need resolving from the scratch dir.
    const schema = (await readFile(schemaPath, 'utf8')).replace(/^generator pothos \{[^}]*\}\n/m, '');
    await writeFile(
      path.join(scratch, 'schema.prisma'),
      `${schema}\nmodel EngineTestDev {\n  id Int @id\n\n  @@map("engine_test_dev")\n}\n`,
    );
    await writeFile(
      path.join(scratch, 'prisma.config.mjs'),
      `export default ${JSON.stringify({
        schema: path.join(scratch, 'schema.prisma'),
        migrations: { path: path.join(scratch, 'migrations') },
        datasource: { url: urlOf(database) },
      })};\n`,
    );
    // This config does not go through prisma.config.ts, so it names the engine itself.
    env = { DATABASE_URL: urlOf(database), PRISMA_SCHEMA_ENGINE_BINARY: bridgePath };
  });
  afterAll(async () => {
    await rm(scratch, { recursive: true, force: true });
    await dropDatabase(database);
  });

  const migrateDev = (...args: string[]) =>
    prisma(['migrate', 'dev', '--config', path.join(scratch, 'prisma.config.mjs'), ...args], env);

  it(
    'creates the database, applies pending migrations (scripts whole), then creates and applies one for the change',
    async () => {
      const committed = await migrationFolders();
      const result = await migrateDev('--name', 'engine_test_dev');
      expect(result.stderr).not.toMatch(/Error/);
      expect(result.code).toBe(0);

      const folders = await migrationFolders(path.join(scratch, 'migrations'));
      const created = folders.filter((f) => !committed.includes(f) && f !== handWritten);
      expect(created).toEqual([expect.stringMatching(/^\d{14}_engine_test_dev$/)]);
      const sql = await readFile(path.join(scratch, 'migrations', created[0]!, 'migration.sql'), 'utf8');
      expect(sql).toContain('CREATE TABLE "engine_test_dev"');

      const recorded = await queryIn<{ migration_name: string }>(
        database,
        'SELECT migration_name FROM _prisma_migrations ORDER BY 1',
      );
      expect(recorded.map((r) => r.migration_name)).toEqual(folders);
      expect(await queryIn(database, 'SELECT engine_test_fn() AS value')).toEqual([{ value: 'a;b' }]);
      expect(await migrationFolders()).toEqual(committed); // the project's own folder is untouched
    },
    SLOW,
  );

  it(
    'is already in sync on the next run',
    async () => {
      const result = await migrateDev();
      expect(result.stdout).toContain('Already in sync');
      expect(result.code).toBe(0);
    },
    SLOW,
  );

  it(
    'resets the database and re-applies every migration',
    async () => {
      await queryIn(database, 'INSERT INTO engine_test_dev (id) VALUES (1)');
      const result = await prisma(
        ['migrate', 'reset', '--force', '--config', path.join(scratch, 'prisma.config.mjs')],
        env,
      );
      expect(result.stdout).toContain('Database reset successful');
      expect(result.code).toBe(0);
      const rows = await queryIn<{ n: string }>(database, 'SELECT count(*)::text AS n FROM engine_test_dev');
      expect(rows).toEqual([{ n: '0' }]);
      const recorded = await queryIn<{ n: string }>(database, 'SELECT count(*)::text AS n FROM _prisma_migrations');
      expect(Number(recorded[0]?.n)).toBe((await migrationFolders(path.join(scratch, 'migrations'))).length);
    },
    SLOW,
  );
});
