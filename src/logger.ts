import { type DestinationStream, pino, type Logger } from 'pino';

export type { Logger };

// Everything that could carry a credential is redacted wherever it appears in a log line: request headers,
// GraphQL variables and inputs, integration settings, and configuration dumps.
const SECRET_KEYS = [
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'access_token',
  'appSecret',
  'app_secret',
  'verifyToken',
  'verify_token',
  'secret',
  'jwtSecret',
  'encryptionKey',
  'JWT_SECRET',
  'ENCRYPTION_KEY',
  'encryptionPreviousKeys',
  'ENCRYPTION_PREVIOUS_KEYS',
  'DATABASE_URL',
  'REDIS_URL',
  'metricsToken',
  'METRICS_TOKEN',
];

export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'headers.authorization',
  'headers["x-hub-signature-256"]',
  'connectionParams.authorization',
  ...SECRET_KEYS.flatMap((key) => [key, `*.${key}`, `*.*.${key}`]),
];

/** A pino logger writing JSON lines to stdout, or to `destination` (tests read their logs from one). */
export function createLogger(options: { level: string; pretty?: boolean; destination?: DestinationStream }): Logger {
  const settings = {
    level: options.level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    base: { service: 'chat-server' },
    ...(options.pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, ignore: 'pid,hostname,service' } } }
      : {}),
  };
  return options.destination ? pino(settings, options.destination) : pino(settings);
}
