#!/usr/bin/env node
/**
 * The project's schema engine: a stand-in for the native `schema-engine` executable that the Prisma CLI would
 * otherwise download (this project's machines cannot reach Prisma's binary host). prisma.config.ts points
 * PRISMA_SCHEMA_ENGINE_BINARY here unless the operator already chose an engine.
 *
 * The CLI talks to its engine in two ways, and this file answers both:
 *   - `<engine> [--datamodels <file>]... [--datasource <json>]`: a long-lived JSON-RPC 2.0 server, one JSON
 *     message per line on stdin/stdout. The actual work (diffing, migration history, SQL generation) is done by
 *     the WebAssembly build of the same engine, @prisma/schema-engine-wasm, which reaches PostgreSQL through
 *     a driver adapter (@prisma/adapter-pg) instead of its own network stack.
 *   - `<engine> --datasource <json> cli <command>`: one-shot database checks (`can-connect-to-database`,
 *     `create-database`) that the CLI runs before migrate commands.
 * Only PostgreSQL is supported, because that is all this project uses.
 *
 * Set PRISMA_ENGINE_BRIDGE_LOG=<file> to append a trace of arguments, requests and engine logs to that file
 * (stderr is not an option: the CLI parses it).
 */
import { appendFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindMigrationAwareSqlAdapterFactory, ColumnTypeEnum, DriverAdapterError } from '@prisma/driver-adapter-utils';
import * as engineBindings from '@prisma/schema-engine-wasm/schema_engine_bg';

const traceFile = process.env.PRISMA_ENGINE_BRIDGE_LOG;
function trace(...parts) {
  if (!traceFile) return;
  const text = parts.map((p) => (typeof p === 'string' ? p : JSON.stringify(p))).join(' ');
  appendFileSync(traceFile, `${new Date().toISOString()} [${process.pid}] ${text}\n`);
}

// ---------------------------------------------------------------------------------------------------------------
// Command line

function parseArguments(argv) {
  const parsed = { datamodelPaths: [], datasource: {}, showVersion: false, rest: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    switch (arg) {
      case '--version':
      case '-V':
        parsed.showVersion = true;
        break;
      case '--datamodels':
        parsed.datamodelPaths.push(argv[++i]);
        break;
      case '--datasource':
        parsed.datasource = JSON.parse(argv[++i] ?? '{}');
        break;
      // Accepted for compatibility with the native engine's command line; PostgreSQL needs neither here.
      case '--enabled-preview-features':
      case '--extension-types':
        i += 1;
        break;
      default:
        parsed.rest.push(arg);
    }
  }
  return parsed;
}

// ---------------------------------------------------------------------------------------------------------------
// Connection settings

/**
 * Turns a Prisma-style PostgreSQL URL into discrete `pg` settings. Deliberately never hands `pg` the URL itself:
 * `pg` lets a connectionString win over an explicit `database`, and the shadow database is reached by copying
 * these settings with another database name. With a URL in the mix, the "shadow" connection would quietly be the
 * main database, and resetting the shadow database would wipe real data.
 */
function connectionSettings(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('The datasource URL is not a valid URL.');
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new Error(`This schema engine only supports PostgreSQL; the datasource URL uses "${parsed.protocol}".`);
  }
  const query = parsed.searchParams;
  const sslmode = query.get('sslmode');
  const timeoutSeconds = Number(query.get('connect_timeout') ?? 5);
  const schema = query.get('schema') || undefined;
  const config = {
    // `?host=/var/run/postgresql` is how Prisma URLs name a Unix socket directory.
    host: query.get('host') ?? (decodeURIComponent(parsed.hostname).replace(/^\[(.*)\]$/, '$1') || 'localhost'),
    port: Number(parsed.port || query.get('port') || 5432),
    user: decodeURIComponent(parsed.username) || query.get('user') || undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : (query.get('password') ?? undefined),
    database: decodeURIComponent(parsed.pathname.replace(/^\//, '')) || 'postgres',
    application_name: query.get('application_name') ?? 'prisma-schema-engine',
    connectionTimeoutMillis: timeoutSeconds > 0 ? timeoutSeconds * 1000 : undefined,
    ssl:
      sslmode === 'require' || sslmode === 'verify-ca' || sslmode === 'verify-full'
        ? { rejectUnauthorized: sslmode !== 'require' }
        : undefined,
    // Migration scripts are written without schema qualifiers, so `?schema=` only works if the session's
    // search_path points there, as the native engine arranges.
    options: schema ? `-c search_path=${startupOptionValue(quoteIdentifier(schema))}` : undefined,
  };
  return { config, schema };
}

const quoteIdentifier = (name) => `"${name.replaceAll('"', '""')}"`;
// Startup options are split on unescaped spaces by the server.
const startupOptionValue = (value) => value.replaceAll('\\', '\\\\').replaceAll(' ', '\\ ');

function describeServer(config) {
  return config.host.startsWith('/') ? config.host : `${config.host}:${config.port}`;
}

/** Translates connection failures into the P10xx codes the CLI knows how to explain (and acts on: P1003). */
function knownConnectionError(error, config) {
  const where = describeServer(config);
  switch (error?.code) {
    case '3D000':
      return {
        error_code: 'P1003',
        message: `Database \`${config.database}\` does not exist on the database server at \`${where}\`.`,
      };
    case '28P01':
    case '28000':
      return {
        error_code: 'P1000',
        message: `Authentication failed against database server at \`${where}\`, the provided database credentials for \`${config.user ?? ''}\` are not valid.`,
      };
    case 'ECONNREFUSED':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ETIMEDOUT':
    case 'ENOENT':
      return {
        error_code: 'P1001',
        message: `Can't reach database server at \`${where}\`\n\nPlease make sure your database server is running at \`${where}\`.`,
      };
    default:
      if (/timeout/i.test(String(error?.message))) {
        return {
          error_code: 'P1001',
          message: `Can't reach database server at \`${where}\`\n\nPlease make sure your database server is running at \`${where}\`.`,
        };
      }
      return undefined;
  }
}

/** Runs `work` on a single plain connection, for housekeeping statements that must not go through the engine. */
async function withClient(config, work) {
  const client = new pg.Client(config);
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

/** CREATE DATABASE cannot run inside the database it creates: use the server's `postgres` database for it. */
async function createDatabase(config) {
  await withClient({ ...config, database: 'postgres', options: undefined }, (client) =>
    client.query(`CREATE DATABASE ${quoteIdentifier(config.database)}`),
  );
  return config.database;
}

// ---------------------------------------------------------------------------------------------------------------
// adapter-pg, adjusted for the engine's catalog queries

/**
 * The engine's schema describer selects pg_catalog columns of PostgreSQL's internal `"char"` type (OID 18:
 * pg_class.relkind, pg_constraint.contype, ...). adapter-pg has no mapping for it and fails the whole query
 * ("Column type 'char' could not be deserialized"), although pg already hands over the values as strings.
 * Such columns are reported to adapter-pg as text, then relabelled as character columns, the type the native
 * engine's own driver gives them, so the engine sees what it was written against.
 */
const PG_CHAR_OID = 18;
const PG_TEXT_OID = 25;

/** Remembers, per result set (keyed by its rows array), which columns were `"char"` before they became text. */
const charColumnsOf = new WeakMap();

function adjustQueryable(queryable) {
  const performIO = queryable.performIO.bind(queryable);
  queryable.performIO = async (query) => {
    const result = await performIO(query);
    const charColumns = [];
    result?.fields?.forEach((field, index) => {
      if (field.dataTypeID !== PG_CHAR_OID) return;
      charColumns.push(index);
      field.dataTypeID = PG_TEXT_OID;
    });
    if (charColumns.length > 0 && result.rows) charColumnsOf.set(result.rows, charColumns);
    return result;
  };

  const queryRaw = queryable.queryRaw.bind(queryable);
  queryable.queryRaw = async (query) => {
    const resultSet = await queryRaw(query);
    for (const index of charColumnsOf.get(resultSet.rows) ?? []) {
      resultSet.columnTypes[index] = ColumnTypeEnum.Character;
    }
    return resultSet;
  };
  return queryable;
}

/**
 * Opens an adapter-pg connection for the engine. Besides the catalog-type fix it replaces `executeScript`:
 * adapter-pg splits scripts on every `;` (breaking function bodies and string literals) and sends the pieces
 * through the pool, possibly on different connections. The native engine sends a migration script as one
 * simple-protocol query on one connection, so that is what this does.
 */
async function openAdapter({ config, schema }) {
  const pool = new pg.Pool({ ...config, max: 4 });
  // An idle client dying (e.g. the server going away) must not crash the process with an unhandled 'error'.
  pool.on('error', (error) => trace('idle pool client error', String(error?.message ?? error)));
  const adapter = await new PrismaPg(pool, { schema, disposeExternalPool: true }).connect();
  adjustQueryable(adapter);

  const startTransaction = adapter.startTransaction.bind(adapter);
  adapter.startTransaction = async (...args) => adjustQueryable(await startTransaction(...args));

  adapter.executeScript = async (script) => {
    try {
      await pool.query(script);
    } catch (error) {
      adapter.onError(error); // converts to the DriverAdapterError the engine understands, and throws it
    }
  };

  if (schema) await adapter.executeScript(`CREATE SCHEMA IF NOT EXISTS ${quoteIdentifier(schema)}`);
  return adapter;
}

const NEEDS_DATABASE =
  'This command needs a PostgreSQL database (for a temporary shadow database, among others): set DATABASE_URL.';

/** A plain Error would reach the user as "External error id#0"; a driver error keeps its message. */
function needsDatabaseError() {
  return new DriverAdapterError({
    kind: 'postgres',
    code: '08001', // sqlclient_unable_to_establish_sqlconnection
    severity: 'ERROR',
    message: NEEDS_DATABASE,
    detail: undefined,
    column: undefined,
    hint: undefined,
  });
}

/**
 * Without a datasource URL (`migrate diff --from-empty --to-schema ... --script` in CI, say) the native engine
 * works purely offline. The wasm engine still opens its connector and asks the server for its version before
 * doing anything; this stand-in answers that one question, as a plain PostgreSQL, and refuses everything else.
 */
function serverlessAdapter() {
  const refuse = async () => {
    throw needsDatabaseError();
  };
  return {
    provider: 'postgres',
    adapterName: '@prisma/adapter-pg',
    async queryRaw({ sql }) {
      if (!/\bversion\(\)/.test(sql) || !sql.includes('server_version_num')) return refuse();
      return {
        columnNames: ['exists', 'version', 'numeric_version'],
        columnTypes: [ColumnTypeEnum.Boolean, ColumnTypeEnum.Text, ColumnTypeEnum.Int32],
        rows: [[true, 'PostgreSQL 16.0 (no database connection)', 160000]],
      };
    },
    executeRaw: refuse,
    executeScript: refuse,
    startTransaction: refuse,
    getConnectionInfo: () => ({ schemaName: undefined, supportsRelationJoins: true }),
    dispose: async () => {},
  };
}

/** What the engine calls to reach the main database and, when it needs one, a shadow database. */
class PostgresConnector {
  provider = 'postgres';
  adapterName = '@prisma/adapter-pg';

  constructor(datasource) {
    this.main = datasource.url ? connectionSettings(datasource.url) : undefined;
    this.externalShadow = datasource.shadowDatabaseUrl ? connectionSettings(datasource.shadowDatabaseUrl) : undefined;
  }

  connect() {
    return this.main ? openAdapter(this.main) : Promise.resolve(serverlessAdapter());
  }

  async connectToShadowDb() {
    if (!this.main && !this.externalShadow) throw needsDatabaseError();
    if (this.externalShadow) {
      // A configured shadow database is the user's to keep; like the native engine, empty its schema first.
      const adapter = await openAdapter(this.externalShadow);
      const schema = quoteIdentifier(this.externalShadow.schema ?? 'public');
      await adapter.executeScript(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema};`);
      return adapter;
    }
    return this.temporaryShadowDatabase();
  }

  /**
   * A throwaway database next to the main one, created and dropped through the main database like the native
   * engine does. adapter-pg's own connectToShadowDb drops the database while its pool is still connected, which
   * fails ("being accessed by other users") and leaves the database behind; here the pool is closed first.
   */
  async temporaryShadowDatabase() {
    const name = `prisma_migrate_shadow_db_${randomUUID()}`;
    await this.onMainServer(`CREATE DATABASE ${quoteIdentifier(name)}`);
    temporaryDatabases.add(name);
    trace('created shadow database', name);

    const drop = async () => {
      await this.onMainServer(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)}`);
      temporaryDatabases.delete(name);
      trace('dropped shadow database', name);
    };

    let adapter;
    try {
      adapter = await openAdapter({ config: { ...this.main.config, database: name }, schema: this.main.schema });
    } catch (error) {
      await drop().catch(() => {});
      throw error;
    }
    const dispose = adapter.dispose.bind(adapter);
    adapter.dispose = async () => {
      try {
        await dispose();
      } finally {
        await drop();
      }
    };
    return adapter;
  }

  /** One statement on a short-lived connection to the main database; failures arrive as adapter errors. */
  async onMainServer(sql) {
    const adapter = await openAdapter({ config: { ...this.main.config, options: undefined }, schema: undefined });
    try {
      await adapter.executeScript(sql);
    } finally {
      await adapter.dispose();
    }
  }
}

/** Shadow databases not yet dropped, so that an interrupted run can still clean up after itself. */
const temporaryDatabases = new Set();

// ---------------------------------------------------------------------------------------------------------------
// The WebAssembly engine

/**
 * The package's own entry point imports the .wasm file as an ES module, which plain Node cannot do without
 * --experimental-wasm-modules; instantiating it by hand against the JS bindings does the same thing.
 */
let wasmReady;
function loadWasm() {
  wasmReady ??= (async () => {
    const wasmUrl = new URL('./schema_engine_bg.wasm', import.meta.resolve('@prisma/schema-engine-wasm'));
    const module = await WebAssembly.compile(await readFile(fileURLToPath(wasmUrl)));
    const instance = await WebAssembly.instantiate(module, { './schema_engine_bg.js': engineBindings });
    // The bindings report a Rust panic's message through this global just before the wasm trap.
    globalThis.PRISMA_WASM_PANIC_REGISTRY ??= {
      message: '',
      set_message(message) {
        this.message = message;
      },
    };
    engineBindings.__wbg_set_wasm(instance.exports);
    instance.exports.__wbindgen_start();
    return engineBindings;
  })();
  return wasmReady;
}

function panicMessage() {
  return globalThis.PRISMA_WASM_PANIC_REGISTRY?.message || undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Native-engine-style logging on stderr

function logLine(level, fields) {
  return JSON.stringify({ timestamp: new Date().toISOString(), level, fields, target: 'schema_engine::logger' });
}

// ---------------------------------------------------------------------------------------------------------------
// One-shot mode: `cli can-connect-to-database` / `cli create-database`

async function runCliCommand(command, datasource) {
  let settings;
  try {
    if (!datasource.url) throw new Error('No datasource URL was given (--datasource {"url": ...}).');
    settings = connectionSettings(datasource.url);
    switch (command) {
      case 'can-connect-to-database':
        await withClient(settings.config, async () => {});
        break;
      case 'create-database':
        process.stdout.write(`${JSON.stringify({ database_name: await createDatabase(settings.config) })}\n`);
        break;
      default:
        throw new Error(`Unknown cli command: ${command ?? '(none)'}`);
    }
    return 0;
  } catch (error) {
    trace('cli command failed', command, String(error?.stack ?? error));
    const known = settings ? knownConnectionError(error, settings.config) : undefined;
    // The CLI skips the first stderr line and JSON-parses each following one, looking for an ERROR entry with
    // error_code and message; the native engine's first line is a startup notice, so one is written here too.
    process.stderr.write(`${logLine('INFO', { message: `Starting schema engine CLI command ${command}` })}\n`);
    process.stderr.write(`${logLine('ERROR', known ?? { message: String(error?.message ?? error) })}\n`);
    return 1;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// JSON-RPC server mode

class RpcServer {
  /** Ids for requests this process sends to the CLI; far above the CLI's own counter to avoid confusion. */
  nextOutgoingId = 2 ** 30;
  awaitingReply = new Map();
  /** The engine is single-threaded in spirit: requests are answered strictly one after another. */
  queue = Promise.resolve();
  engine;

  constructor(options) {
    this.options = options;
  }

  send(message) {
    process.stdout.write(`${JSON.stringify({ jsonrpc: '2.0', ...message })}\n`);
  }

  /** Asks the CLI to do something (only `print` exists) and waits for its acknowledgement. */
  request(method, params) {
    const id = this.nextOutgoingId++;
    return new Promise((resolve) => {
      this.awaitingReply.set(id, resolve);
      this.send({ id, method, params });
    });
  }

  async getEngine() {
    this.engine ??= (async () => {
      const bindings = await loadWasm();
      const datamodels = await Promise.all(
        this.options.datamodelPaths.map(async (path) => [path, await readFile(path, 'utf8')]),
      );
      const connector = bindMigrationAwareSqlAdapterFactory(new PostgresConnector(this.options.datasource));
      return bindings.SchemaEngine.new(
        { datamodels: datamodels.length > 0 ? datamodels : undefined },
        (log) => {
          // Forwarded like the native engine's logs: the CLI keeps them to explain a crash.
          trace('engine log', log);
          process.stderr.write(`${String(log).trimEnd()}\n`);
        },
        connector,
      );
    })();
    return this.engine;
  }

  handleLine(line) {
    if (!line.trim()) return;
    let message;
    try {
      message = JSON.parse(line);
    } catch {
      process.stderr.write(`${logLine('ERROR', { message: `Unparseable JSON-RPC message: ${line.slice(0, 200)}` })}\n`);
      return;
    }
    if (message.method === undefined) {
      // A reply to one of this process's own requests.
      this.awaitingReply.get(message.id)?.(message);
      this.awaitingReply.delete(message.id);
      return;
    }
    this.queue = this.queue.then(() => this.answer(message));
  }

  async answer({ id, method, params }) {
    trace('request', method, params);
    try {
      const result = await this.call(method, params);
      this.send({ id, result: result ?? {} });
    } catch (error) {
      trace('request failed', method, String(error?.stack ?? error), error?.code ?? '');
      process.stderr.write(`${logLine('ERROR', { message: String(error?.message ?? error) })}\n`);
      this.send({ id, error: rpcError(error) });
    }
  }

  async call(method, params) {
    if (method === 'createDatabase') {
      return { databaseName: await createDatabase(connectionSettings(this.options.datasource.url).config) };
    }
    const engine = await this.getEngine();
    switch (method) {
      case 'getDatabaseVersion':
        return engine.version(params ?? null);
      case 'debugPanic':
        return engine.debugPanic();
      case 'diff': {
        // The wasm engine returns the diff text; the native one prints it by asking the CLI to, and the CLI
        // only writes to its stdout what arrives that way.
        const { exitCode, stdout } = await engine.diff(params);
        if (stdout) await this.request('print', { content: stdout.replace(/\n$/, '') });
        return { exitCode };
      }
      case 'createMigration':
      case 'evaluateDataLoss':
        return this.withMigrationHistoryRetry(engine, method, params);
      default:
        if (typeof engine[method] !== 'function')
          throw new Error(`This schema engine does not implement \`${method}\`.`);
        return engine[method](params);
    }
  }

  /**
   * `migrate dev` applies pending migrations and then asks for `evaluateDataLoss`/`createMigration` in the same
   * engine. The wasm engine computes "the schema the migrations produce" for those two calls from state that
   * only a migration-history diagnosis sets up (it has no shadow database of its own there), and fails with a
   * "shadow DB must be provided" error otherwise. Diagnosing the history first and asking again fixes that.
   */
  async withMigrationHistoryRetry(engine, method, params) {
    try {
      return await engine[method](params);
    } catch (error) {
      if (!/shadow DB/i.test(String(error?.message))) throw error;
      trace('retrying after a migration history diagnosis', method);
      await engine.diagnoseMigrationHistory({
        migrationsList: params.migrationsList,
        optInToShadowDatabase: true,
        filters: params.filters ?? { externalTables: [], externalEnums: [] },
      });
      return engine[method](params);
    }
  }
}

/** The error shape the CLI reads: `data.is_panic`, `data.message`, and `data.error_code` for P-codes. */
function rpcError(error) {
  const isPanic = error instanceof WebAssembly.RuntimeError;
  return {
    code: 4466,
    message: 'An error happened. Check the data field for details.',
    data: {
      is_panic: isPanic,
      message: isPanic ? (panicMessage() ?? String(error.message)) : String(error?.message ?? error),
      backtrace: null,
      error_code: typeof error?.code === 'string' && /^P\d{4}$/.test(error.code) ? error.code : undefined,
      meta: error?.meta,
    },
  };
}

async function serve(options) {
  const server = new RpcServer(options);
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => server.handleLine(line));
  await new Promise((resolve) => lines.once('close', resolve));
  // The CLI closes stdin when it is done; let the last request finish (and dispose its shadow database).
  await server.queue;
}

/** Best effort on SIGINT/SIGTERM: a shadow database still in use is dropped rather than left behind. */
async function dropLeftoverShadowDatabases(datasource) {
  if (temporaryDatabases.size === 0 || !datasource.url) return;
  const { config } = connectionSettings(datasource.url);
  await withClient({ ...config, options: undefined }, async (client) => {
    for (const name of temporaryDatabases) {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`).catch(() => {});
    }
  }).catch(() => {});
}

// ---------------------------------------------------------------------------------------------------------------

async function main() {
  const options = parseArguments(process.argv.slice(2));
  trace('argv', process.argv.slice(2));

  if (options.showVersion) {
    const bindings = await loadWasm();
    process.stdout.write(`schema-engine-cli ${bindings.version()} (wasm)\n`);
    return 0;
  }
  if (options.rest[0] === 'cli') return runCliCommand(options.rest[1], options.datasource);
  if (options.rest.length > 0) {
    process.stderr.write(`Unexpected arguments: ${options.rest.join(' ')}\n`);
    return 2;
  }

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      void dropLeftoverShadowDatabases(options.datasource).finally(() => process.exit(130));
    });
  }
  await serve(options);
  return 0;
}

process.on('uncaughtException', (error) => {
  // Mirrors the native engine: a panic is logged and the process exits with 101, which the CLI reports as a crash.
  const message = `${panicMessage() ?? ''} ${error?.stack ?? error}`.trim();
  process.stderr.write(`${logLine('ERROR', { message: `schema engine crashed: ${message}` })}\n`);
  process.exit(101);
});

process.exitCode = await main();
// Pools that the engine did not dispose (e.g. after an error) would keep the event loop alive; exit once
// everything written to stdout has been handed over.
process.stdout.write('', () => process.exit());
