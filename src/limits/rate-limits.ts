import type { IncomingMessage } from 'node:http';
import { type RouteHandler, sendJson } from '../http/router.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { limiterOutageLog } from './limiter-outage-log.js';
import type { RateLimitCheck, RateLimiter, RateLimitPolicy, RateLimitVerdict } from './rate-limiter.js';

export type { RateLimitCheck };

export interface RateLimitRefusal extends RateLimitVerdict {
  policy: RateLimitPolicy;
  /** A sentence for the client: which limit, and when to come back. */
  reason: string;
}

/**
 * What the rest of the server uses to rate-limit: the GraphQL mutation limits, graphql-ws, and plain HTTP routes
 * (webhooks) through `guardRoute`. Counts live in the app's RateLimiter (Redis when configured, so they hold
 * across instances). When the limiter itself fails (Redis down), requests pass: a limit is protection, and
 * refusing everyone because the counter is unreachable would be the outage it protects against.
 */
export class RateLimits {
  private readonly refusals;
  private readonly failures;
  private readonly logOutage;

  constructor(
    private readonly deps: {
      limiter: RateLimiter;
      metrics: Metrics;
      logger: Logger;
      clientAddressOf: (request: IncomingMessage) => string;
    },
  ) {
    this.logOutage = limiterOutageLog(deps.logger, 'rate limiter unavailable: not limiting');
    this.refusals = deps.metrics.counter({
      name: 'chat_rate_limit_refusals_total',
      help: 'Requests and operations refused by a rate limit, by policy',
      labelNames: ['policy'],
    });
    this.failures = deps.metrics.counter({
      name: 'chat_rate_limiter_failures_total',
      help: 'Rate limit checks that could not reach the limiter and let the request through',
    });
  }

  /** The subject for per-IP limits on this request. */
  clientAddressOf(request: IncomingMessage): string {
    return this.deps.clientAddressOf(request);
  }

  /**
   * Counts `cost` units against every check (all of them, at once) and returns the refusal that lasts longest,
   * or undefined when every limit allows it. Policies with limit 0 are off and not counted.
   */
  async consume(checks: RateLimitCheck[], cost = 1): Promise<RateLimitRefusal | undefined> {
    const active = checks.filter((check) => check.policy.limit > 0);
    if (active.length === 0) return undefined;
    const verdicts = await this.consumeAll(active, cost);
    let refusal: RateLimitRefusal | undefined;
    verdicts.forEach((verdict, index) => {
      if (verdict.allowed || (refusal && refusal.retryAfterSeconds >= verdict.retryAfterSeconds)) return;
      const { policy } = active[index]!;
      refusal = { ...verdict, policy, reason: describe(policy, verdict) };
    });
    if (refusal) this.refusals.inc({ policy: refusal.policy.name });
    return refusal;
  }

  /**
   * A plain HTTP route handler behind a rate limit: each request costs one unit for the subject (by default the
   * client's address); over the limit the answer is 429 with Retry-After and a JSON reason, and `handler` does
   * not run.
   *
   *     router.add({ method: 'POST', path, handler: rateLimits.guardRoute(policy, handler) });
   */
  guardRoute(
    policy: RateLimitPolicy,
    handler: RouteHandler,
    subjectOf: (request: IncomingMessage, params: string[]) => string = (request) =>
      `ip:${this.clientAddressOf(request)}`,
  ): RouteHandler {
    return async (request, response, params) => {
      const refusal = await this.consume([{ policy, subject: subjectOf(request, params) }]);
      if (!refusal) return handler(request, response, params);
      sendRateLimited(response, refusal);
    };
  }

  /**
   * A plain HTTP route handler with a budget of refusals per client address: each answer that `refused` calls a
   * refusal spends one unit, and once the window's units are spent the address gets 429 with Retry-After (and
   * the connection closed) before `handler` runs, i.e. before any body is read or signature checked. Answers
   * that are not refusals cost nothing: a sender whose requests succeed is never limited.
   */
  guardRefusals(policy: RateLimitPolicy, handler: RouteHandler, refused: (status: number) => boolean): RouteHandler {
    return async (request, response, params) => {
      const check = { policy, subject: `ip:${this.clientAddressOf(request)}` };
      const spent = await this.spent(check);
      if (spent) return sendRateLimited(response, spent, { connection: 'close' });
      try {
        return await handler(request, response, params);
      } finally {
        if (refused(response.statusCode)) await this.consumeAll([check], 1);
      }
    };
  }

  /**
   * The refusal due when any of the checks has spent its window already; nothing is counted. For budgets of
   * failures: check before the attempt, `consume` after a failure only.
   */
  async exhausted(checks: RateLimitCheck[]): Promise<RateLimitRefusal | undefined> {
    const refusals = await Promise.all(checks.map((check) => this.spent(check)));
    return refusals.find((refusal) => refusal !== undefined);
  }

  /** The refusal due when every unit of the check's window is spent already; nothing is spent to find out. */
  private async spent(check: RateLimitCheck): Promise<RateLimitRefusal | undefined> {
    if (check.policy.limit <= 0) return undefined;
    const [verdict] = await this.consumeAll([check], 0);
    if (!verdict || verdict.remaining > 0) return undefined;
    const refused = {
      ...verdict,
      allowed: false,
      retryAfterSeconds: Math.max(Math.ceil(verdict.resetInMs / 1_000), 1),
    };
    this.refusals.inc({ policy: check.policy.name });
    return { ...refused, policy: check.policy, reason: describe(check.policy, refused) };
  }

  private async consumeAll(checks: RateLimitCheck[], cost: number): Promise<RateLimitVerdict[]> {
    try {
      return await this.deps.limiter.consume(checks, cost);
    } catch (error) {
      this.failures.inc();
      this.logOutage({ err: error, policies: checks.map((check) => check.policy.name) });
      return checks.map((check) => ({
        allowed: true,
        remaining: check.policy.limit,
        resetInMs: 0,
        retryAfterSeconds: 0,
      }));
    }
  }
}

/** 429 with Retry-After, and a JSON body in the shape of the server's other plain-route errors. */
function sendRateLimited(
  response: Parameters<RouteHandler>[1],
  refusal: Pick<RateLimitRefusal, 'reason' | 'retryAfterSeconds'>,
  headers: Record<string, string> = {},
): void {
  sendJson(
    response,
    429,
    { error: refusal.reason, code: 'RATE_LIMITED', retryAfter: refusal.retryAfterSeconds },
    { 'retry-after': String(refusal.retryAfterSeconds), ...headers },
  );
}

function describe(policy: RateLimitPolicy, verdict: RateLimitVerdict): string {
  const window = policy.windowMs % 1_000 === 0 ? `${policy.windowMs / 1_000} s` : `${policy.windowMs} ms`;
  return `Rate limit exceeded (${policy.name}: ${policy.limit} per ${window}); retry in ${verdict.retryAfterSeconds} s`;
}
