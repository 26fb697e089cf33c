import type { Plugin } from 'graphql-yoga';

/** What a browser page may send to /graphql, and read back from it. */
const ALLOWED_METHODS = 'GET, POST';
const ALLOWED_HEADERS = 'authorization, content-type, x-request-id';
const EXPOSED_HEADERS = 'retry-after, x-request-id';
const PREFLIGHT_MAX_AGE_SECONDS = '600';

/**
 * CORS for the origins of CORS_ORIGINS, exactly as listed; to any other origin (`null` included) /graphql gives no
 * CORS header at all, so no other page can read its answers. No credentials: tokens travel in the Authorization
 * header, never in cookies. (yoga's own CORS reflects every origin with credentials by default, and answers an
 * unlisted one with `Access-Control-Allow-Origin: null`, which a sandboxed page's `null` origin matches.)
 */
export function useAllowedOrigins(origins: readonly string[]): Plugin {
  const allowed = new Set(origins);
  return {
    onRequest({ request, fetchAPI, endResponse }) {
      // A preflight is answered here, its headers added below like any answer's.
      if (request.method === 'OPTIONS')
        endResponse(new fetchAPI.Response(null, { status: 204, headers: { 'content-length': '0' } }));
    },
    onResponse({ request, response }) {
      if (allowed.size === 0) return;
      // Shared caches must keep answers to different origins apart.
      response.headers.append('vary', 'Origin');
      const origin = request.headers.get('origin');
      if (origin === null || !allowed.has(origin)) return;
      response.headers.set('access-control-allow-origin', origin);
      response.headers.set('access-control-expose-headers', EXPOSED_HEADERS);
      if (request.method === 'OPTIONS') {
        response.headers.set('access-control-allow-methods', ALLOWED_METHODS);
        response.headers.set('access-control-allow-headers', ALLOWED_HEADERS);
        response.headers.set('access-control-max-age', PREFLIGHT_MAX_AGE_SECONDS);
      }
    },
  };
}
