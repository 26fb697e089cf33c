import { createHash } from 'node:crypto';
import { z } from 'zod';

// The operator-facing settings, parsed once at start-up. Names are the contract's "Environment" section plus
// the project's own extensions; `.env.example` documents each one with its default.

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const optionalUrl = (protocols: string[]) =>
  z
    .url({ error: `must be a URL (${protocols.join(', ')})` })
    .refine((value) => protocols.some((protocol) => value.startsWith(`${protocol}:`)), {
      error: `must start with ${protocols.map((p) => `${p}://`).join(' or ')}`,
    })
    .optional();

const DEFAULT_GRAPH_API_URL = 'https://graph.facebook.com/v22.0';
const DEFAULT_INSTAGRAM_API_URL = 'https://graph.instagram.com/v22.0';

const flag = z
  .enum(['true', 'false', '1', '0'], { error: 'must be true or false' })
  .transform((value) => value === 'true' || value === '1');

const between = (min: number, max: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(min, { error: `must be between ${min} and ${max}` })
    .max(max, { error: `must be between ${min} and ${max}` });

/** A count limit; 0 turns the limit off. */
const limit = (fallback: number) =>
  z.coerce
    .number({ error: 'must be a number' })
    .int({ error: 'must be a whole number' })
    .min(0, { error: 'must be 0 (off) or more' })
    .default(fallback);

/** Browser origins as they send them: scheme, host and port (`https://chat.example.com`), comma-separated. */
const origins = z.string().transform((value, context) => {
  const listed = value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const parsed: string[] = [];
  for (const entry of listed) {
    const url = URL.canParse(entry) ? new URL(entry) : undefined;
    const originOnly = url && url.pathname === '/' && !url.search && !url.hash && !url.username && !url.password;
    if (!originOnly || !['http:', 'https:'].includes(url.protocol) || entry.includes('*')) {
      context.addIssue({
        code: 'custom',
        message: `"${entry}" is not an origin: list each as scheme://host[:port], without path, * or null`,
      });
      return z.NEVER;
    }
    parsed.push(url.origin);
  }
  return parsed;
});

/** Redis Cluster seed nodes as `host:port`, comma-separated; ioredis discovers the rest of the cluster from them. */
const clusterNodes = z.string().transform((value, context) => {
  const nodes: { host: string; port: number }[] = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    if (entry === '') continue;
    const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      context.addIssue({ code: 'custom', message: `"${entry}" is not host:port` });
      return z.NEVER;
    }
    nodes.push({ host: match[1]!.replace(/^\[|\]$/g, ''), port });
  }
  if (nodes.length === 0) {
    context.addIssue({ code: 'custom', message: 'must list at least one host:port' });
    return z.NEVER;
  }
  return nodes;
});

const EnvSchema = z.object({
  NODE_ENV: z
    .enum(['development', 'production', 'test'], { error: 'must be development, production or test' })
    .default('development'),
  PORT: z.coerce.number({ error: 'must be a number' }).int().min(0).max(65535).default(4000),
  HOST: z.string().min(1).default('0.0.0.0'),
  PUBLIC_URL: optionalUrl(['http', 'https']),
  DATABASE_URL: optionalUrl(['postgres', 'postgresql']),
  DATABASE_POOL_SIZE: z.coerce.number({ error: 'must be a number' }).int().min(1).max(500).default(10),
  REDIS_URL: optionalUrl(['redis', 'rediss']),
  REDIS_CLUSTER_NODES: clusterNodes.optional(),
  REDIS_CLUSTER_USERNAME: z.string().min(1).optional(),
  REDIS_CLUSTER_PASSWORD: z.string().min(1).optional(),
  REDIS_PREFIX: z.string().min(1).default('chat:'),
  JWT_SECRET: z.string().min(32, { error: 'must be at least 32 characters' }).optional(),
  JWT_JWKS_URL: optionalUrl(['http', 'https']),
  JWT_ISSUER: z.string().min(1).optional(),
  JWT_AUDIENCE: z.string().min(1).optional(),
  ENCRYPTION_KEY: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, { error: 'must be 32 bytes as 64 hex characters' })
    .optional(),
  ENCRYPTION_PREVIOUS_KEYS: z
    .string()
    .regex(/^[0-9a-fA-F]{64}(\s*,\s*[0-9a-fA-F]{64})*$/, {
      error: 'must be a comma-separated list of keys, each 32 bytes as 64 hex characters',
    })
    .optional(),
  META_GRAPH_API_URL: optionalUrl(['http', 'https']),
  META_INSTAGRAM_API_URL: optionalUrl(['http', 'https']),
  META_GRAPH_TIMEOUT_MS: z.coerce.number({ error: 'must be a number' }).int().min(100).max(120_000).default(15_000),
  OUTBOX_WORKER_ENABLED: flag.default(true),
  OUTBOX_MAX_ATTEMPTS: z.coerce.number({ error: 'must be a number' }).int().min(1).max(50).default(6),
  OUTBOX_RETRY_BASE_MS: z.coerce.number({ error: 'must be a number' }).int().min(1).max(3_600_000).default(10_000),
  OUTBOX_POLL_INTERVAL_MS: z.coerce.number({ error: 'must be a number' }).int().min(10).max(3_600_000).default(5_000),
  // Meta's default throughput of one business phone number is 80 messages per second; upgraded numbers get 1000.
  WHATSAPP_SENDS_PER_SECOND: between(1, 1_000).default(80),
  WEBHOOK_MAX_REFUSALS_PER_IP: limit(100),
  WEBHOOK_BODY_TIMEOUT_MS: between(100, 600_000).default(10_000),
  EVENT_RETENTION_DAYS: between(1, 3_650).default(14),
  SEARCH_TIMEOUT_MS: between(50, 60_000).default(2_000),
  PRESENCE_TIMEOUT_MS: between(1_000, 600_000).default(10_000),
  PRESENCE_AWAY_AFTER_MS: between(1_000, 86_400_000).default(300_000),
  WEBHOOK_SWEEP_INTERVAL_MS: z.coerce
    .number({ error: 'must be a number' })
    .int()
    .min(100)
    .max(86_400_000)
    .default(60_000),
  LOG_LEVEL: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
  EMBEDDED_POSTGRES_DIR: z.string().min(1).optional(),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number({ error: 'must be a number' }).int().min(0).default(10_000),
  MIGRATE_ON_START: flag.default(true),
  // On outside production by default; suggestions follow introspection (see loadConfig).
  GRAPHIQL_ENABLED: flag.optional(),
  INTROSPECTION_ENABLED: flag.optional(),
  SUGGESTIONS_ENABLED: flag.optional(),
  GRAPHQL_MAX_BODY_BYTES: limit(100 * 1024),
  GRAPHQL_BODY_TIMEOUT_MS: between(100, 600_000).default(10_000),
  GRAPHQL_MAX_DEPTH: limit(12),
  GRAPHQL_MAX_ALIASES: limit(15),
  GRAPHQL_MAX_TOKENS: limit(1_000),
  GRAPHQL_MAX_DIRECTIVES: limit(20),
  GRAPHQL_MAX_COST: limit(20_000),
  RATE_LIMIT_WINDOW_SECONDS: between(1, 86_400).default(60),
  RATE_LIMIT_MUTATIONS_PER_USER: limit(300),
  RATE_LIMIT_MUTATIONS_PER_IP: limit(3_000),
  WS_MAX_CONNECTIONS_PER_USER: limit(10),
  WS_MAX_CONNECTIONS_PER_IP: limit(200),
  WS_MAX_OPERATIONS_PER_CONNECTION: limit(100),
  TRUSTED_PROXY_HOPS: between(0, 10).default(0),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  CORS_ORIGINS: origins.optional(),
});

export type Env = z.input<typeof EnvSchema>;

export interface AppConfig {
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  publicUrl: string;
  databaseUrl: string | undefined;
  databasePoolSize: number;
  redisUrl: string | undefined;
  /** Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES); empty when events and limits use REDIS_URL or no Redis. */
  redisClusterNodes: { host: string; port: number }[];
  /** What every node of the cluster asks for (AUTH, or an ACL user), when it asks. */
  redisClusterAuth: { username?: string; password?: string };
  redisPrefix: string;
  jwt: {
    /** HS256 tokens are accepted only when set: JWT_SECRET, or the development default when no token setting is. */
    secret: string | undefined;
    jwksUrl: string | undefined;
    issuer: string | undefined;
    audience: string | undefined;
  };
  encryptionKey: Buffer;
  /** Keys that sealed older secrets: still opened, and re-sealed with encryptionKey on rotation. */
  encryptionPreviousKeys: Buffer[];
  meta: {
    /** Graph API base for WhatsApp Cloud API sends (version included). */
    graphApiUrl: string;
    /** Base for Instagram messaging sends (Instagram API with Instagram Login). */
    instagramApiUrl: string;
    timeoutMs: number;
  };
  /** Whether this instance sends the outbox (several may; dedicated sender instances are possible too). */
  outbox: {
    workerEnabled: boolean;
    maxAttempts: number;
    retryBaseMs: number;
    pollIntervalMs: number;
    /** Sends per second to one WhatsApp phone number, across all instances (Meta's throughput). */
    whatsappSendsPerSecond: number;
  };
  webhooks: {
    /** Refused webhook requests (401, 403, 404, 408, 413) per client address per minute; then 429. 0: no limit. */
    maxRefusalsPerIp: number;
    /** How long a webhook body may take to arrive (then 408). */
    bodyTimeoutMs: number;
  };
  webhookSweepIntervalMs: number;
  /** How long reactions, statuses and channel changes stay in the event log: a cursor stays resumable this long. */
  eventRetentionDays: number;
  /** The longest a `searchMessages` statement may run: then the query is refused as too broad. */
  searchTimeoutMs: number;
  presence: {
    /** How long a user stays ONLINE after their instance stopped answering (it crashed): its claims' lifetime. */
    timeoutMs: number;
    /** Connected but idle this long: AWAY. */
    awayAfterMs: number;
  };
  logLevel: (typeof LOG_LEVELS)[number];
  embeddedPostgresDir: string | undefined;
  shutdownTimeoutMs: number;
  migrateOnStart: boolean;
  graphql: GraphQLLimits;
  rateLimits: {
    windowMs: number;
    /** Mutations (root mutation fields) per window; 0: no limit. */
    mutationsPerUser: number;
    mutationsPerIp: number;
  };
  webSocket: {
    /** Open graphql-ws connections per authenticated user on one instance; 0: no limit. */
    maxConnectionsPerUser: number;
    /** Open WebSockets per client address on one instance, initialised or not; 0: no limit. */
    maxConnectionsPerIp: number;
    /** Operations running at once on one connection (subscriptions, and queries until they answer); 0: no limit. */
    maxOperationsPerConnection: number;
  };
  /** Reverse proxies in front of the server whose X-Forwarded-For entries are trusted to name the client. */
  trustedProxyHops: number;
  /** When set, `/metrics` asks for `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** Browser origins allowed to call /graphql (CORS); none when empty. */
  corsOrigins: string[];
  /** Settings the operator left out and that development filled in, to be said in the log. */
  developmentDefaults: string[];
}

/** What one GraphQL request may ask for; 0 turns a limit off. */
export interface GraphQLLimits {
  graphiql: boolean;
  introspection: boolean;
  /** GraphQL's "Did you mean ...?" hints in error messages. */
  suggestions: boolean;
  /** Request bodies on /graphql, and messages on its WebSocket. */
  maxBodyBytes: number;
  /** How long a /graphql request body may take to arrive (then 408). */
  bodyTimeoutMs: number;
  maxDepth: number;
  maxAliases: number;
  maxTokens: number;
  maxDirectives: number;
  /** Fields resolved, multiplied by the page sizes of the lists around them (see query-cost.ts). */
  maxCost: number;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

// Development must start with no configuration at all, so the two secrets get stable stand-ins derived from a
// fixed label (tokens survive restarts). They are public (anyone can compute them from this file): production
// never uses them, and refuses to start when a setting holds one.
const developmentSecret = (label: string) => createHash('sha256').update(`chat-server development ${label}`).digest();
const DEVELOPMENT_JWT_SECRET = developmentSecret('jwt').toString('hex');
const DEVELOPMENT_ENCRYPTION_KEY = developmentSecret('encryption');

type ParsedEnv = z.output<typeof EnvSchema>;

/** Settings that would leave a production server open, one line each, naming the setting. */
function productionProblems(env: ParsedEnv): string[] {
  const problems: string[] = [];
  if (!env.JWT_SECRET && !env.JWT_JWKS_URL) problems.push('JWT_SECRET: required in production (or set JWT_JWKS_URL)');
  if (env.JWT_SECRET === DEVELOPMENT_JWT_SECRET)
    problems.push('JWT_SECRET: is the development default, which anyone can compute; set a secret of your own');
  if (!env.ENCRYPTION_KEY) problems.push('ENCRYPTION_KEY: required in production');
  else if (Buffer.from(env.ENCRYPTION_KEY, 'hex').equals(DEVELOPMENT_ENCRYPTION_KEY))
    problems.push('ENCRYPTION_KEY: is the development default, which anyone can compute; set a key of your own');
  // Whoever can answer for the key set can sign any token: it must come over TLS (or from this machine).
  if (env.JWT_JWKS_URL && !isHttpsOrLoopback(env.JWT_JWKS_URL))
    problems.push('JWT_JWKS_URL: must be an https:// URL in production (http:// only on a loopback address)');
  return problems;
}

function isHttpsOrLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  // Empty strings mean "not set": `.env` files and compose files often carry `NAME=`.
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = EnvSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);

  if (parsed.success && parsed.data.NODE_ENV === 'production') problems.push(...productionProblems(parsed.data));
  if (parsed.success && parsed.data.REDIS_URL && parsed.data.REDIS_CLUSTER_NODES)
    problems.push('REDIS_CLUSTER_NODES: set either REDIS_URL (one Redis) or REDIS_CLUSTER_NODES (a cluster), not both');
  if (problems.length > 0 || !parsed.success) throw new ConfigError(problems);

  const env = parsed.data;
  // Only outside production (checked above): a setting left out gets its development default, said in the log.
  const developmentDefaults: string[] = [];
  // Tokens are checked only with what was configured: an identity provider alone means no HS256 at all.
  let jwtSecret = env.JWT_SECRET;
  if (!jwtSecret && !env.JWT_JWKS_URL) {
    jwtSecret = DEVELOPMENT_JWT_SECRET;
    developmentDefaults.push('JWT_SECRET');
  }
  let encryptionKey: Buffer;
  if (env.ENCRYPTION_KEY) {
    encryptionKey = Buffer.from(env.ENCRYPTION_KEY, 'hex');
  } else {
    encryptionKey = Buffer.from(DEVELOPMENT_ENCRYPTION_KEY);
    developmentDefaults.push('ENCRYPTION_KEY');
  }

  const introspection = env.INTROSPECTION_ENABLED ?? env.NODE_ENV !== 'production';
  return {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST,
    publicUrl: (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, ''),
    databaseUrl: env.DATABASE_URL,
    databasePoolSize: env.DATABASE_POOL_SIZE,
    redisUrl: env.REDIS_URL,
    redisClusterNodes: env.REDIS_CLUSTER_NODES ?? [],
    redisClusterAuth: { username: env.REDIS_CLUSTER_USERNAME, password: env.REDIS_CLUSTER_PASSWORD },
    redisPrefix: env.REDIS_PREFIX,
    jwt: { secret: jwtSecret, jwksUrl: env.JWT_JWKS_URL, issuer: env.JWT_ISSUER, audience: env.JWT_AUDIENCE },
    encryptionKey,
    encryptionPreviousKeys: (env.ENCRYPTION_PREVIOUS_KEYS ?? '')
      .split(',')
      .map((key) => key.trim())
      .filter((key) => key !== '')
      .map((key) => Buffer.from(key, 'hex')),
    meta: {
      graphApiUrl: (env.META_GRAPH_API_URL ?? DEFAULT_GRAPH_API_URL).replace(/\/+$/, ''),
      instagramApiUrl: (env.META_INSTAGRAM_API_URL ?? DEFAULT_INSTAGRAM_API_URL).replace(/\/+$/, ''),
      timeoutMs: env.META_GRAPH_TIMEOUT_MS,
    },
    outbox: {
      workerEnabled: env.OUTBOX_WORKER_ENABLED,
      maxAttempts: env.OUTBOX_MAX_ATTEMPTS,
      retryBaseMs: env.OUTBOX_RETRY_BASE_MS,
      pollIntervalMs: env.OUTBOX_POLL_INTERVAL_MS,
      whatsappSendsPerSecond: env.WHATSAPP_SENDS_PER_SECOND,
    },
    webhooks: { maxRefusalsPerIp: env.WEBHOOK_MAX_REFUSALS_PER_IP, bodyTimeoutMs: env.WEBHOOK_BODY_TIMEOUT_MS },
    webhookSweepIntervalMs: env.WEBHOOK_SWEEP_INTERVAL_MS,
    eventRetentionDays: env.EVENT_RETENTION_DAYS,
    searchTimeoutMs: env.SEARCH_TIMEOUT_MS,
    presence: { timeoutMs: env.PRESENCE_TIMEOUT_MS, awayAfterMs: env.PRESENCE_AWAY_AFTER_MS },
    logLevel: env.LOG_LEVEL,
    embeddedPostgresDir: env.EMBEDDED_POSTGRES_DIR,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    migrateOnStart: env.MIGRATE_ON_START,
    graphql: {
      graphiql: env.GRAPHIQL_ENABLED ?? env.NODE_ENV !== 'production',
      introspection,
      // Hints reveal what introspection would: by default they go with it.
      suggestions: env.SUGGESTIONS_ENABLED ?? introspection,
      maxBodyBytes: env.GRAPHQL_MAX_BODY_BYTES,
      bodyTimeoutMs: env.GRAPHQL_BODY_TIMEOUT_MS,
      maxDepth: env.GRAPHQL_MAX_DEPTH,
      maxAliases: env.GRAPHQL_MAX_ALIASES,
      maxTokens: env.GRAPHQL_MAX_TOKENS,
      maxDirectives: env.GRAPHQL_MAX_DIRECTIVES,
      maxCost: env.GRAPHQL_MAX_COST,
    },
    rateLimits: {
      windowMs: env.RATE_LIMIT_WINDOW_SECONDS * 1_000,
      mutationsPerUser: env.RATE_LIMIT_MUTATIONS_PER_USER,
      mutationsPerIp: env.RATE_LIMIT_MUTATIONS_PER_IP,
    },
    webSocket: {
      maxConnectionsPerUser: env.WS_MAX_CONNECTIONS_PER_USER,
      maxConnectionsPerIp: env.WS_MAX_CONNECTIONS_PER_IP,
      maxOperationsPerConnection: env.WS_MAX_OPERATIONS_PER_CONNECTION,
    },
    trustedProxyHops: env.TRUSTED_PROXY_HOPS,
    metricsToken: env.METRICS_TOKEN,
    corsOrigins: env.CORS_ORIGINS ?? [],
    developmentDefaults,
  };
}
