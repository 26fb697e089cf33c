import { createHash } from 'node:crypto';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request the fake Graph API received. */
export interface GraphRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  body: Record<string, unknown>;
}

export interface GraphReply {
  status: number;
  body: unknown;
  /** Answer only after this long (a slow Meta). */
  delayMs?: number;
}

/** Decides each answer; the default answers like Meta's Send API with a fresh message id. */
export type GraphResponder = (request: GraphRequest, index: number) => GraphReply;

/** Media the fake serves as Meta does: `GET /v22.0/{id}` describes it, `GET {url}` gives the bytes, both Bearer. */
export interface FakeMedia {
  bytes: Buffer;
  mimeType: string;
  /** The access token both requests must carry; null for a CDN URL that must be fetched without one. */
  token: string | null;
  /** What `GET /{media-id}` claims (default: the bytes' own sha256 and size). */
  sha256?: string;
  /** Answer the first N requests for the bytes with a 500. */
  failFirst?: number;
  /** Answer every request for the bytes with this status (an expired media URL, say). */
  status?: number;
}

export interface FakeGraph {
  url: string;
  requests: GraphRequest[];
  /** When a request of `requests` arrived (Date.now()), before its body was read. */
  arrivalOf(request: GraphRequest): number;
  respond(responder: GraphResponder): void;
  /** Serves media under this id (the path of its bytes: `/media-bytes/{id}`). */
  serveMedia(id: string, media: FakeMedia): void;
  stop(): Promise<void>;
}

const MEDIA_INFO = /^\/v22\.0\/([^/?]+)(\?.*)?$/;
const MEDIA_BYTES = /^\/media-bytes\/([^/?]+)(\?.*)?$/;

let counter = 0;

export const graphSuccess: GraphResponder = (request) => {
  counter += 1;
  return request.path.includes('/ig/')
    ? {
        status: 200,
        body: { recipient_id: (request.body.recipient as { id: string }).id, message_id: `ig-mid-${counter}` },
      }
    : {
        status: 200,
        body: {
          messaging_product: 'whatsapp',
          contacts: [{ input: request.body.to, wa_id: request.body.to }],
          messages: [{ id: `wamid.fake-${counter}` }],
        },
      };
};

export const graphError = (status: number, code: number, message: string): GraphReply => ({
  status,
  body: { error: { message, type: 'OAuthException', code, fbtrace_id: 'fake-trace' } },
});

/**
 * Meta's Graph API as a local HTTP server, started by the test that needs it: the only fake in the tests.
 * WhatsApp sends go to `${url}/v22.0/...`, Instagram sends to `${url}/ig/v22.0/...`.
 */
export async function startFakeGraph(): Promise<FakeGraph> {
  const requests: GraphRequest[] = [];
  const arrivals = new WeakMap<GraphRequest, number>();
  let responder: GraphResponder = graphSuccess;
  const media = new Map<string, FakeMedia & { served: number }>();
  let baseUrl = '';
  /** Meta's media endpoints: true when this request was one of them (and was answered). */
  const servedMedia = (received: GraphRequest, response: ServerResponse): boolean => {
    const info = received.method === 'GET' ? MEDIA_INFO.exec(received.path) : null;
    const bytes = received.method === 'GET' ? MEDIA_BYTES.exec(received.path) : null;
    const item = media.get(decodeURIComponent((info ?? bytes)?.[1] ?? ''));
    if (!item) return false;
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    if (received.authorization !== (item.token === null ? undefined : `Bearer ${item.token}`))
      return (json(401, graphError(401, 190, 'Invalid OAuth access token').body), true);
    if (info) {
      const id = decodeURIComponent(info[1]!);
      json(200, {
        messaging_product: 'whatsapp',
        url: `${baseUrl}/media-bytes/${encodeURIComponent(id)}?ext=1`,
        mime_type: item.mimeType,
        sha256: item.sha256 ?? createHash('sha256').update(item.bytes).digest('hex'),
        file_size: item.bytes.length,
        id,
      });
      return true;
    }
    item.served += 1;
    if (item.status) return (json(item.status, graphError(item.status, 100, 'Media not available').body), true);
    if (item.served <= (item.failFirst ?? 0)) return (json(500, graphError(500, 1, 'Temporary failure').body), true);
    response.writeHead(200, { 'content-type': item.mimeType, 'content-length': item.bytes.length });
    response.end(item.bytes);
    return true;
  };
  const server: Server = createServer((request, response) => {
    const arrivedAt = Date.now();
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const received: GraphRequest = {
        method: request.method ?? '',
        path: request.url ?? '',
        authorization: request.headers.authorization,
        body: JSON.parse(Buffer.concat(chunks).toString() || '{}') as Record<string, unknown>,
      };
      requests.push(received);
      arrivals.set(received, arrivedAt);
      if (servedMedia(received, response)) return;
      let reply: GraphReply;
      try {
        reply = responder(received, requests.length - 1);
      } catch (error) {
        reply = {
          status: 500,
          body: { error: { message: `fake Graph API responder failed: ${String(error)}`, code: 1 } },
        };
      }
      const send = () => {
        response.writeHead(reply.status, { 'content-type': 'application/json' });
        response.end(JSON.stringify(reply.body));
      };
      if (reply.delayMs) setTimeout(send, reply.delayMs);
      else send();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;
  return {
    url: baseUrl,
    requests,
    arrivalOf: (request) => arrivals.get(request)!,
    respond: (next) => (responder = next),
    serveMedia: (id, item) => media.set(id, { ...item, served: 0 }),
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** What the fake answers GET /{business account id}/message_templates with: templates, or an error. */
export type TemplateListing = { templates: object[]; pageSize: number } | GraphReply;

/**
 * Meta's template list for the accounts `listings` names, paged as Meta pages it: `data`, then
 * `paging.cursors.after` and a `paging.next` link while more follow. Null for any other request.
 */
export function templateReply(request: GraphRequest, listings: Map<string, TemplateListing>): GraphReply | null {
  const url = new URL(request.path, 'http://fake');
  const match = /\/([^/]+)\/message_templates$/.exec(url.pathname);
  if (request.method !== 'GET' || !match) return null;
  const listing = listings.get(decodeURIComponent(match[1]!));
  if (!listing) return graphError(400, 100, 'Unsupported get request: unknown business account');
  if (!('templates' in listing)) return listing;
  const start = Number(url.searchParams.get('after') ?? '0');
  const data = listing.templates.slice(start, start + listing.pageSize);
  const next = start + listing.pageSize;
  const more = next < listing.templates.length;
  return {
    status: 200,
    body: {
      data,
      paging: {
        cursors: { before: String(start), after: String(next) },
        ...(more ? { next: `https://graph.facebook.com/v22.0/${match[1]}/message_templates?after=${next}` } : {}),
      },
    },
  };
}
