import { GraphQLError } from 'graphql';

// The contract's expected failures, and the server's own limits. Each is a GraphQLError, so yoga's error masking
// lets it through with its message and code, while anything else (a bug, a database fault) is masked and logged.
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  /** A service the request needs (the database, Redis, Meta's Graph API) failed; the request may be retried. */
  | 'SERVICE_UNAVAILABLE'
  | 'RATE_LIMITED'
  /** A query over one of the GraphQL limits: depth, aliases, tokens, directives or cost. */
  | 'QUERY_TOO_COMPLEX'
  /** `__schema` / `__type` asked of a server with INTROSPECTION_ENABLED=false. */
  | 'INTROSPECTION_DISABLED'
  /** A resume cursor older than the events the server keeps: refetch the state, then subscribe afresh. */
  | 'CURSOR_EXPIRED';

export class AppError extends GraphQLError {
  constructor(
    readonly code: ErrorCode,
    message: string,
    extensions: Record<string, unknown> = {},
  ) {
    super(message, { extensions: { code, ...extensions } });
    this.name = 'AppError';
  }
}

export const unauthenticated = (reason = 'Authentication required') => new AppError('UNAUTHENTICATED', reason);
export const forbidden = (reason: string) => new AppError('FORBIDDEN', reason);
export const notFound = (what: string) => new AppError('NOT_FOUND', `${what} not found`);
export const conflict = (reason: string) => new AppError('CONFLICT', reason);

/** A bad argument or input field, named in `extensions.field` so clients can point at it. */
export const badInput = (field: string, reason: string) =>
  new AppError('BAD_USER_INPUT', `${field}: ${reason}`, { field });

/**
 * Several bad arguments or input fields at once: each named in the message, the first in `extensions.field`
 * and all of them in `extensions.fields` (paths such as `input.content` or `input.settings.labels.0`).
 */
export function invalidInput(issues: readonly { field: string; message: string }[]): AppError {
  const fields = issues.map((issue) => issue.field);
  const message = issues.map((issue) => `${issue.field || 'input'}: ${issue.message}`).join('; ');
  return new AppError('BAD_USER_INPUT', message, { field: fields[0] || undefined, fields });
}

/**
 * Too many requests. `retryAfter` (whole seconds) tells clients when to try again; on HTTP the same number is
 * the Retry-After header of the 429 (yoga reads `extensions.http` and leaves it out of the response body).
 */
export const rateLimited = (reason: string, retryAfterSeconds: number) =>
  new AppError('RATE_LIMITED', reason, {
    retryAfter: retryAfterSeconds,
    http: { status: 429, headers: { 'retry-after': String(retryAfterSeconds) } },
  });

/**
 * A request over one of the GraphQL limits. Answered like a validation error: 400 for
 * `application/graphql-response+json`, 200 for `application/json` (the GraphQL-over-HTTP spec's `spec` flag).
 */
export const queryTooComplex = (message: string) =>
  new AppError('QUERY_TOO_COMPLEX', message, { http: { status: 400, spec: true } });

export const introspectionDisabled = (field: string) =>
  new AppError('INTROSPECTION_DISABLED', `Introspection is disabled on this server (asked for ${field})`, {
    http: { status: 400, spec: true },
  });

export const isAppError = (error: unknown): error is AppError => error instanceof AppError;

/** PostgreSQL's unique_violation, as Prisma reports it (P2002) or as `pg` does (23505). */
export function isUniqueViolation(error: unknown): boolean {
  const candidate = error as { code?: string } | null;
  return candidate?.code === 'P2002' || candidate?.code === '23505';
}

// Connection-level failures of PostgreSQL or Redis, as pg, Prisma's adapter and ioredis report them: the request
// can succeed if retried once the service is back, so callers answer 503 / SERVICE_UNAVAILABLE, not a bug's 500.
const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  'P1001',
  'P1017',
  'P2024',
  // The media store (a local directory or S3) did not answer: see modules/media/storage.
  'STORAGE_UNAVAILABLE',
]);
const TRANSIENT_MESSAGES =
  /\b(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE)\b|Connection terminated|timeout exceeded when trying to connect|Connection is closed|the database system is (starting up|shutting down)|terminating connection|is not queryable/i;

export function isServiceUnavailable(error: unknown): boolean {
  for (
    let current = error as { code?: unknown; message?: unknown; cause?: unknown } | undefined, depth = 0;
    current && depth < 5;
    depth++
  ) {
    if (typeof current.code === 'string' && (TRANSIENT_CODES.has(current.code) || current.code.startsWith('08')))
      return true;
    if (typeof current.message === 'string' && TRANSIENT_MESSAGES.test(current.message)) return true;
    current = current.cause as typeof current;
  }
  return false;
}
