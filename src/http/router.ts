import type { IncomingMessage, ServerResponse } from 'node:http';

export type RouteHandler = (request: IncomingMessage, response: ServerResponse, params: string[]) => unknown;

export interface Route {
  /** The route's label in metrics; its path pattern when absent. */
  name?: string;
  /** Requests are logged at debug level instead of info: probes and scrapes that would drown the log. */
  quiet?: boolean;
  method: string | string[];
  /** Matched against the path; capture groups become the handler's params. */
  path: RegExp;
  handler: RouteHandler;
}

/** The plain HTTP routes served beside GraphQL (health, webhooks, metrics). */
export class Router {
  private readonly routes: Route[] = [];

  add(route: Route): void {
    this.routes.push(route);
  }

  /** The route for this request's path and the call that handles it, or undefined when no route matches. */
  match(request: IncomingMessage, response: ServerResponse): MatchedRoute | undefined {
    const path = pathOf(request);
    for (const route of this.routes) {
      const found = route.path.exec(path);
      if (!found) continue;
      const matched = { name: route.name ?? route.path.source, quiet: route.quiet ?? false };
      const methods = Array.isArray(route.method) ? route.method : [route.method];
      if (!methods.includes(request.method ?? 'GET')) {
        const refuse = () =>
          sendJson(response, 405, { error: `Method ${request.method} not allowed` }, { allow: methods.join(', ') });
        return { ...matched, handle: refuse };
      }
      return { ...matched, handle: () => route.handler(request, response, found.slice(1)) };
    }
    return undefined;
  }
}

export interface MatchedRoute {
  name: string;
  quiet: boolean;
  handle: () => unknown;
}

/** The request's path without its query string (which may carry tokens: never log or label by it). */
export const pathOf = (request: IncomingMessage): string => (request.url ?? '/').split('?', 1)[0] ?? '/';

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) return;
  const payload = JSON.stringify(body);
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    ...headers,
  });
  response.end(payload);
}
