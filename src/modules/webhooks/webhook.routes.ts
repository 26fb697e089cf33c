import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AppConfig } from '../../config.js';
import type { Platform } from '../../generated/prisma/enums.js';
import { type Router, sendJson } from '../../http/router.js';
import { requestIdOf } from '../../lib/request-context.js';
import { uuid } from '../../lib/validation.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { RateLimits } from '../../limits/rate-limits.js';
import type { IntegrationService, WebhookIntegration } from '../integrations/integrations.service.js';
import type { WebhookDeliveryService } from './deliveries.service.js';
import { BodyTooLarge, BodyTooSlow, readRawBody } from './raw-body.js';
import { secretsEqual, type SignatureVerdict, signatureIn, verifySignature } from './signature.js';

/** Meta's deliveries are a few KB; anything over this is refused unread. */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

const WEBHOOK_PATH = /^\/webhooks\/(whatsapp|instagram)\/([^/]+)\/?$/;

/** The answers that spend a sender's budget: no signature, a wrong one or a wrong verify token, an unknown
 * integration, a body too slow or too large. Meta's own deliveries get none of them. */
const REFUSALS = new Set([401, 403, 404, 408, 413]);

export interface WebhookRouteDeps {
  integrations: IntegrationService;
  deliveries: WebhookDeliveryService;
  logger: Logger;
  metrics: Metrics;
  rateLimits: RateLimits;
  limits: AppConfig['webhooks'];
}

/**
 * `GET /webhooks/{whatsapp|instagram}/:integrationId`: Meta's verification handshake.
 * `POST` on the same path: a signed delivery, answered 200 once it is stored (processing follows).
 *
 * Both are open to anyone, so both are bounded before anything is checked: an address whose requests were refused
 * WEBHOOK_MAX_REFUSALS_PER_IP times in a minute gets 429 until the minute is over, without its body being read;
 * a body has WEBHOOK_BODY_TIMEOUT_MS to arrive (then 408).
 */
export function addWebhookRoutes(router: Router, deps: WebhookRouteDeps): void {
  // Signature rejections since start, per integration: each is logged with its running count, so that a
  // misconfigured app secret (or someone probing) shows up as a rising number rather than as lost messages.
  const rejections = new Map<string, number>();
  const deliveries = deps.metrics.counter({
    name: 'chat_webhook_deliveries_total',
    help: 'Webhook POSTs by platform and answer: received, duplicate, bad_signature, not_json, too_large, too_slow, unknown_integration',
    labelNames: ['platform', 'outcome'],
  });

  const lookUp = async (platformName: string, id: string): Promise<WebhookIntegration | null> =>
    uuid.safeParse(id).success ? deps.integrations.forWebhook(id, platformName.toUpperCase() as Platform) : null;

  const handshake = async (request: IncomingMessage, response: ServerResponse, [platformName, id]: string[]) => {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const integration = await lookUp(platformName!, id!);
    const token = query.get('hub.verify_token');
    const challenge = query.get('hub.challenge');
    const matches =
      integration !== null &&
      query.get('hub.mode') === 'subscribe' &&
      token !== null &&
      secretsEqual(token, integration.verifyToken);
    if (!matches) return sendJson(response, 403, { error: 'Verification failed' });
    if (!challenge) return sendJson(response, 400, { error: 'hub.challenge is missing' });
    // The challenge goes back as it came, plain text (not JSON-quoted).
    response.writeHead(200, {
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(challenge),
      'x-content-type-options': 'nosniff',
    });
    response.end(challenge);
  };

  const receive = async (request: IncomingMessage, response: ServerResponse, [platformName, id]: string[]) => {
    const count = (outcome: string) => deliveries.inc({ platform: platformName!, outcome });
    // Answers given before the body is read close the connection, so its unread rest cannot linger on it.
    const refuse = (status: number, error: string, outcome: string) => {
      count(outcome);
      sendJson(response, status, { error }, { connection: 'close' });
    };
    if (Number(request.headers['content-length'] ?? 0) > MAX_WEBHOOK_BODY_BYTES)
      return refuse(413, `Body over ${MAX_WEBHOOK_BODY_BYTES} bytes`, 'too_large');
    const integration = await lookUp(platformName!, id!);
    if (!integration) return refuse(404, 'Unknown or inactive integration', 'unknown_integration');
    const signature = signatureIn(request.headers['x-hub-signature-256']);
    if (typeof signature === 'string') {
      logRejection(integration, signature, requestIdOf(request));
      return refuse(401, 'Invalid signature', 'bad_signature');
    }

    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(request, { maxBytes: MAX_WEBHOOK_BODY_BYTES, timeoutMs: deps.limits.bodyTimeoutMs });
    } catch (error) {
      if (error instanceof BodyTooLarge) return refuse(413, `Body over ${MAX_WEBHOOK_BODY_BYTES} bytes`, 'too_large');
      if (error instanceof BodyTooSlow)
        return refuse(408, `Body not received within ${deps.limits.bodyTimeoutMs} ms`, 'too_slow');
      throw error;
    }

    const verdict = verifySignature(integration.appSecret, rawBody, signature);
    if (verdict !== 'valid') {
      logRejection(integration, verdict, requestIdOf(request));
      count('bad_signature');
      return sendJson(response, 401, { error: 'Invalid signature' });
    }

    let text: string;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(rawBody);
      JSON.parse(text);
    } catch {
      count('not_json');
      return sendJson(response, 400, { error: 'Body is not JSON' });
    }

    const stored = await deps.deliveries.store(integration, rawBody, text, requestIdOf(request));
    count(stored.duplicate ? 'duplicate' : 'received');
    sendJson(response, 200, { status: stored.duplicate ? 'duplicate' : 'received' });
  };

  const logRejection = (
    integration: WebhookIntegration,
    verdict: Exclude<SignatureVerdict, 'valid'>,
    requestId: string,
  ) => {
    const count = (rejections.get(integration.id) ?? 0) + 1;
    rejections.set(integration.id, count);
    deps.logger.warn(
      { integrationId: integration.id, reason: `signature ${verdict}`, rejectedSinceStart: count, requestId },
      'webhook delivery rejected',
    );
  };

  const refusalsPerIp = { name: 'webhook-refusals-per-ip', limit: deps.limits.maxRefusalsPerIp, windowMs: 60_000 };
  router.add({
    method: ['GET', 'POST'],
    path: WEBHOOK_PATH,
    handler: deps.rateLimits.guardRefusals(
      refusalsPerIp,
      (request, response, params) =>
        request.method === 'GET' ? handshake(request, response, params) : receive(request, response, params),
      (status) => REFUSALS.has(status),
    ),
  });
}
