import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseEnv } from 'node:util';
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

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3_600, d: 86_400 };

/** A duration in whole seconds, written `900`, `15m`, `12h` or `30d` (a bare number is seconds). */
const duration = (minSeconds: number, maxSeconds: number) =>
  z
    .string()
    .regex(/^\d+\s*[smhd]?$/, { error: 'must be like 900, 15m, 12h or 30d' })
    .transform((value) => {
      const unit = value.trim().slice(-1);
      const factor = DURATION_UNITS[unit] ?? 1;
      return Number.parseInt(value, 10) * factor;
    })
    .refine((seconds) => seconds >= minSeconds && seconds <= maxSeconds, {
      error: `must be between ${minSeconds} s and ${maxSeconds} s`,
    });

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

/** Where Meta serves media from: its Graph APIs and CDNs (the Instagram and WhatsApp ones included). */
const DEFAULT_MEDIA_DOWNLOAD_HOSTS =
  'graph.facebook.com,graph.instagram.com,lookaside.fbsbx.com,*.fbsbx.com,*.fbcdn.net,*.cdninstagram.com,*.whatsapp.net';

/** Host names, comma-separated; `*.example.com` stands for every subdomain of example.com. */
const hostPatterns = z.string().transform((value, context) => {
  const listed = value
    .split(',')
    .map((entry) => entry.trim().toLowerCase())
    .filter((entry) => entry !== '');
  for (const entry of listed) {
    if (!/^(\*\.)?[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(entry)) {
      context.addIssue({ code: 'custom', message: `"${entry}" is not a host name (or *.domain)` });
      return z.NEVER;
    }
  }
  return listed;
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
  // Meta's Send API for Instagram: 300 calls per second per professional account, 10 for audio and video.
  INSTAGRAM_SENDS_PER_SECOND: between(1, 1_000).default(300),
  INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND: between(1, 1_000).default(10),
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
  ACCESS_TOKEN_TTL: duration(30, 86_400).default(900),
  REFRESH_TOKEN_TTL: duration(300, 365 * 86_400).default(30 * 86_400),
  PASSWORD_MIN_LENGTH: between(8, 64).default(15),
  SIGN_IN_FAILURES_PER_ACCOUNT: limit(10),
  SIGN_IN_FAILURES_PER_IP: limit(100),
  SIGN_IN_WINDOW_SECONDS: between(1, 86_400).default(900),
  SMTP_URL: optionalUrl(['smtp', 'smtps']),
  SMTP_FROM: z.string().min(3).max(320).optional(),
  ACCOUNT_LINKS_URL: optionalUrl(['http', 'https']),
  INVITATION_TTL: duration(300, 90 * 86_400).default(7 * 86_400),
  PASSWORD_RESET_TTL: duration(60, 86_400).default(3_600),
  OIDC_ISSUER: optionalUrl(['http', 'https']),
  OIDC_CLIENT_ID: z.string().min(1).max(500).optional(),
  OIDC_CLIENT_SECRET: z.string().min(1).max(500).optional(),
  OIDC_ORGANIZATION_ID: z.uuid({ error: 'must be an organization id (UUID)' }).optional(),
  METRICS_TOKEN: z.string().min(16, { error: 'must be at least 16 characters' }).optional(),
  CORS_ORIGINS: origins.optional(),
  STORAGE_DRIVER: z.enum(['local', 's3'], { error: 'must be local or s3' }).default('local'),
  STORAGE_DIR: z.string().min(1).default('.data/media'),
  S3_ENDPOINT: optionalUrl(['http', 'https']),
  S3_BUCKET: z.string().min(1).optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: flag.default(false),
  S3_PRESIGNED_DOWNLOADS: flag.default(false),
  MEDIA_MAX_BYTES: between(1, 2 * 1024 ** 3).default(100 * 1024 * 1024),
  MEDIA_URL_TTL: between(10, 7 * 86_400).default(3_600),
  MEDIA_UPLOAD_TIMEOUT_MS: between(1_000, 3_600_000).default(600_000),
  MEDIA_DOWNLOAD_HOSTS: hostPatterns.prefault(DEFAULT_MEDIA_DOWNLOAD_HOSTS),
  MEDIA_DOWNLOAD_WORKER_ENABLED: flag.default(true),
  MEDIA_DOWNLOAD_MAX_ATTEMPTS: between(1, 50).default(6),
  MEDIA_DOWNLOAD_RETRY_BASE_MS: between(1, 3_600_000).default(10_000),
  MEDIA_DOWNLOAD_POLL_INTERVAL_MS: between(10, 3_600_000).default(5_000),
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
    /** Meta's throughputs, in sends per second, across all instances. */
    sendRates: {
      /** To one WhatsApp business phone number. */
      whatsapp: number;
      /** From one Instagram professional account: text, links, reactions, stickers and images. */
      instagram: number;
      /** From one Instagram professional account: audio (and video) messages, a budget of their own at Meta. */
      instagramAudioVideo: number;
    };
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
  accounts: {
    /** Lifetime of the access tokens that signIn and refreshSession issue (ACCESS_TOKEN_TTL). */
    accessTokenTtlSeconds: number;
    /** Lifetime of a refresh token; every refresh issues a new one (REFRESH_TOKEN_TTL). */
    refreshTokenTtlSeconds: number;
    passwordMinLength: number;
    /** Failed sign-ins per account and per client address per window, across instances; 0: no limit. */
    signInFailuresPerAccount: number;
    signInFailuresPerIp: number;
    signInWindowMs: number;
    /** Where invitation and password-reset links point: `<url>/accept-invitation?token=…`, `<url>/reset-password?token=…`. */
    linksUrl: string;
    invitationTtlSeconds: number;
    passwordResetTtlSeconds: number;
  };
  /** Single sign-on through an OpenID provider into one organization; none unless OIDC_* are set. */
  oidc:
    { issuer: string; clientId: string; clientSecret: string; organizationId: string; redirectUrl: string } | undefined;
  /** Outgoing mail (invitations, password resets); none without SMTP_URL. */
  smtp: { url: string; from: string } | undefined;
  /** Reverse proxies in front of the server whose X-Forwarded-For entries are trusted to name the client. */
  trustedProxyHops: number;
  /** When set, `/metrics` asks for `Authorization: Bearer <token>`. */
  metricsToken: string | undefined;
  /** Browser origins allowed to call /graphql (CORS); none when empty. */
  corsOrigins: string[];
  media: MediaConfig;
  /** Settings the operator left out and that development filled in, to be said in the log. */
  developmentDefaults: string[];
}

/** Where attachments are stored, how large they may be, and how long their links work. */
export interface MediaConfig {
  storage:
    | { driver: 'local'; dir: string }
    | {
        driver: 's3';
        endpoint: string | undefined;
        bucket: string;
        region: string;
        /** Both or neither: without them the SDK's own chain (instance role, AWS_* variables) is used. */
        credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
        forcePathStyle: boolean;
        /** Downloads redirect to presigned GETs of the store (which clients must be able to reach). */
        presignedDownloads: boolean;
      };
  /** The largest upload accepted (checked while the bytes stream in). */
  maxBytes: number;
  /** How long an upload link, an unused upload and a download link stay valid, in seconds. */
  urlTtlSeconds: number;
  /** How long the bytes of one upload may take to arrive. */
  uploadTimeoutMs: number;
  /** Platform media downloads: only from these hosts (`*.domain` for subdomains), retried with backoff. */
  downloads: {
    hosts: string[];
    workerEnabled: boolean;
    maxAttempts: number;
    retryBaseMs: number;
    pollIntervalMs: number;
  };
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
  if (env.OIDC_ISSUER && !isHttpsOrLoopback(env.OIDC_ISSUER))
    problems.push('OIDC_ISSUER: must be an https:// URL in production (http:// only on a loopback address)');
  if (env.JWT_JWKS_URL && !isHttpsOrLoopback(env.JWT_JWKS_URL))
    problems.push('JWT_JWKS_URL: must be an https:// URL in production (http:// only on a loopback address)');
  return problems;
}

const OIDC_SETTINGS = ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_ORGANIZATION_ID'] as const;

/** Single sign-on needs all four OIDC_* settings or none. */
function oidcProblems(env: ParsedEnv): string[] {
  const given = OIDC_SETTINGS.filter((name) => env[name] !== undefined);
  if (given.length === 0 || given.length === OIDC_SETTINGS.length) return [];
  return OIDC_SETTINGS.filter((name) => env[name] === undefined).map(
    (name) => `${name}: required for single sign-on (${given.join(', ')} ${given.length === 1 ? 'is' : 'are'} set)`,
  );
}

/** The S3 settings that only make sense together. */
function storageProblems(env: ParsedEnv): string[] {
  const problems: string[] = [];
  if (env.STORAGE_DRIVER === 's3' && !env.S3_BUCKET) problems.push('S3_BUCKET: required when STORAGE_DRIVER=s3');
  if (Boolean(env.S3_ACCESS_KEY_ID) !== Boolean(env.S3_SECRET_ACCESS_KEY))
    problems.push('S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY: set both or neither');
  return problems;
}

function isHttpsOrLoopback(url: string): boolean {
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(hostname);
}

/**
 * The settings as the server and the CLI read them: a `.env` file in the working directory, if there is one, under
 * the process environment, which wins (so a deployment's own variables are never overridden by a stray file).
 */
export function environmentWithDotEnv(
  environment: Record<string, string | undefined> = process.env,
  dir = process.cwd(),
): Record<string, string | undefined> {
  let text: string;
  try {
    text = readFileSync(path.join(dir, '.env'), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return environment;
    throw error;
  }
  return { ...parseEnv(text), ...environment };
}

export function loadConfig(source: Record<string, string | undefined> = process.env): AppConfig {
  // Empty strings mean "not set": `.env` files and compose files often carry `NAME=`.
  const present = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = EnvSchema.safeParse(present);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || 'environment'}: ${issue.message}`);

  if (parsed.success) problems.push(...oidcProblems(parsed.data));
  if (parsed.success) problems.push(...storageProblems(parsed.data));
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
  const publicUrl = (env.PUBLIC_URL ?? `http://localhost:${env.PORT}`).replace(/\/+$/, '');
  return {
    env: env.NODE_ENV,
    port: env.PORT,
    host: env.HOST,
    publicUrl,
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
      sendRates: {
        whatsapp: env.WHATSAPP_SENDS_PER_SECOND,
        instagram: env.INSTAGRAM_SENDS_PER_SECOND,
        instagramAudioVideo: env.INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND,
      },
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
    accounts: {
      accessTokenTtlSeconds: env.ACCESS_TOKEN_TTL,
      refreshTokenTtlSeconds: env.REFRESH_TOKEN_TTL,
      passwordMinLength: env.PASSWORD_MIN_LENGTH,
      signInFailuresPerAccount: env.SIGN_IN_FAILURES_PER_ACCOUNT,
      signInFailuresPerIp: env.SIGN_IN_FAILURES_PER_IP,
      signInWindowMs: env.SIGN_IN_WINDOW_SECONDS * 1_000,
      linksUrl: (env.ACCOUNT_LINKS_URL ?? publicUrl).replace(/\/+$/, ''),
      invitationTtlSeconds: env.INVITATION_TTL,
      passwordResetTtlSeconds: env.PASSWORD_RESET_TTL,
    },
    oidc:
      env.OIDC_ISSUER && env.OIDC_CLIENT_ID && env.OIDC_CLIENT_SECRET && env.OIDC_ORGANIZATION_ID
        ? {
            issuer: env.OIDC_ISSUER,
            clientId: env.OIDC_CLIENT_ID,
            clientSecret: env.OIDC_CLIENT_SECRET,
            organizationId: env.OIDC_ORGANIZATION_ID,
            redirectUrl: `${publicUrl}/auth/oidc/callback`,
          }
        : undefined,
    smtp: env.SMTP_URL
      ? { url: env.SMTP_URL, from: env.SMTP_FROM ?? `Chat server <no-reply@${new URL(publicUrl).hostname}>` }
      : undefined,
    trustedProxyHops: env.TRUSTED_PROXY_HOPS,
    metricsToken: env.METRICS_TOKEN,
    corsOrigins: env.CORS_ORIGINS ?? [],
    media: {
      storage:
        env.STORAGE_DRIVER === 's3'
          ? {
              driver: 's3',
              endpoint: env.S3_ENDPOINT,
              bucket: env.S3_BUCKET!,
              region: env.S3_REGION,
              credentials:
                env.S3_ACCESS_KEY_ID && env.S3_SECRET_ACCESS_KEY
                  ? { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY }
                  : undefined,
              forcePathStyle: env.S3_FORCE_PATH_STYLE,
              presignedDownloads: env.S3_PRESIGNED_DOWNLOADS,
            }
          : { driver: 'local', dir: env.STORAGE_DIR },
      maxBytes: env.MEDIA_MAX_BYTES,
      urlTtlSeconds: env.MEDIA_URL_TTL,
      uploadTimeoutMs: env.MEDIA_UPLOAD_TIMEOUT_MS,
      downloads: {
        hosts: env.MEDIA_DOWNLOAD_HOSTS,
        workerEnabled: env.MEDIA_DOWNLOAD_WORKER_ENABLED,
        maxAttempts: env.MEDIA_DOWNLOAD_MAX_ATTEMPTS,
        retryBaseMs: env.MEDIA_DOWNLOAD_RETRY_BASE_MS,
        pollIntervalMs: env.MEDIA_DOWNLOAD_POLL_INTERVAL_MS,
      },
    },
    developmentDefaults,
  };
}
