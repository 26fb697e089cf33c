import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Router, sendJson } from '../../http/router.js';
import type { RateLimits } from '../../limits/rate-limits.js';
import type { Logger } from '../../logger.js';
import { FLOW_TTL_MS, type SingleSignOn, SingleSignOnRefusal } from './single-sign-on.js';

const FLOW_COOKIE = 'chat_oidc_flow';
const COOKIE_PATH = '/auth/oidc';

/** Sign-ins started or finished per client address per minute: the provider's pages are not ours to flood. */
const PER_IP = { name: 'oidc-per-ip', limit: 60, windowMs: 60_000 };

export interface OidcRouteDeps {
  singleSignOn: SingleSignOn | undefined;
  rateLimits: RateLimits;
  logger: Logger;
  /** The chat client's address: the callback ends there, tokens in the fragment (never sent to a server). */
  linksUrl: string;
  /** Cookies marked Secure when the server is reached over https. */
  secureCookies: boolean;
}

/**
 * `GET /auth/oidc/start` redirects to the provider; `GET /auth/oidc/callback` checks its answer and ends at
 * `ACCOUNT_LINKS_URL/signed-in#accessToken=…&refreshToken=…&expiresAt=…&refreshTokenExpiresAt=…`, the AuthPayload
 * for the client to keep. Refusals are JSON with the reason. Both 404 without OIDC_* settings.
 */
export function addOidcRoutes(router: Router, deps: OidcRouteDeps): void {
  const cookie = (value: string, maxAgeSeconds: number) =>
    [
      `${FLOW_COOKIE}=${value}`,
      `Path=${COOKIE_PATH}`,
      `Max-Age=${maxAgeSeconds}`,
      'HttpOnly',
      // Lax: the provider brings the browser back with a top-level GET, which must carry the cookie.
      'SameSite=Lax',
      ...(deps.secureCookies ? ['Secure'] : []),
    ].join('; ');

  const guarded = (handler: (sso: SingleSignOn, request: IncomingMessage, response: ServerResponse) => unknown) =>
    deps.rateLimits.guardRoute(PER_IP, async (request, response) => {
      if (!deps.singleSignOn) return sendJson(response, 404, { error: 'Single sign-on is not configured' });
      try {
        await handler(deps.singleSignOn, request, response);
      } catch (error) {
        if (!(error instanceof SingleSignOnRefusal)) throw error;
        deps.logger.info({ reason: error.message }, 'single sign-on refused');
        sendJson(response, error.status, { error: error.message }, { 'set-cookie': cookie('', 0) });
      }
    });

  router.add({
    name: 'oidc-start',
    method: 'GET',
    path: /^\/auth\/oidc\/start\/?$/,
    handler: guarded(async (sso, _request, response) => {
      const { redirectTo, flow } = await sso.start();
      response.writeHead(302, {
        location: redirectTo.href,
        'set-cookie': cookie(flow, FLOW_TTL_MS / 1_000),
        'cache-control': 'no-store',
      });
      response.end();
    }),
  });

  router.add({
    name: 'oidc-callback',
    method: 'GET',
    path: /^\/auth\/oidc\/callback\/?$/,
    handler: guarded(async (sso, request, response) => {
      const query = new URL(request.url ?? '/', 'http://callback').search;
      const from = deps.rateLimits.clientAddressOf(request);
      const payload = await sso.finish(query, cookieValue(request, FLOW_COOKIE), from);
      const fragment = new URLSearchParams({
        accessToken: payload.accessToken,
        expiresAt: payload.expiresAt.toISOString(),
        refreshToken: payload.refreshToken,
        refreshTokenExpiresAt: payload.refreshTokenExpiresAt.toISOString(),
        userId: payload.user.id,
      });
      response.writeHead(303, {
        location: `${deps.linksUrl}/signed-in#${fragment.toString()}`,
        'set-cookie': cookie('', 0),
        'cache-control': 'no-store',
        'referrer-policy': 'no-referrer',
      });
      response.end();
    }),
  });
}

function cookieValue(request: IncomingMessage, name: string): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=');
    if (key === name) return value.join('=');
  }
  return undefined;
}
