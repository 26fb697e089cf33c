import type { IncomingMessage, ServerResponse } from 'node:http';
import { whenBodyLate } from './body-deadline.js';
import type { GraphQLServer } from './graphql.js';

/**
 * /graphql with its request body bounded, at the level of Node's request, in size and in time.
 *
 * Size (`maxBytes`, 0: no limit): a body that declares its length (as fetch, browsers and curl do) is refused at
 * once when too large, and otherwise read by yoga as is, since Node never reads past the declared length. A
 * chunked body is counted while it is read and refused the moment it passes the cap. (yoga's own limit wraps
 * every body in a web stream transform, which cost more than the rest of a small request.)
 *
 * Time (`timeoutMs`): a body not fully arrived by then is answered 408 and its connection closed, so that a client
 * sending it a byte at a time cannot hold the connection, and yoga waiting for it, for as long as it likes.
 */
export function withBodyLimit(yoga: GraphQLServer, limits: { maxBytes: number; timeoutMs: number }) {
  const { maxBytes, timeoutMs } = limits;
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST') return yoga.requestListener(request, response);
    whenBodyLate(request, timeoutMs, () => {
      // Answered already without the body (a refused content type, say): only the trickle is left to stop.
      if (response.headersSent) return void request.socket.destroy();
      refuse(response, 408, 'REQUEST_TIMEOUT', `Request body not received within ${timeoutMs} ms`);
    });
    if (maxBytes <= 0) return yoga.requestListener(request, response);
    const declared = request.headers['content-length'];
    if (declared !== undefined) {
      if (Number(declared) > maxBytes)
        return refuse(response, 413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large');
      return yoga.requestListener(request, response);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) return refuse(response, 413, 'REQUEST_ENTITY_TOO_LARGE', 'Request body too large');
      chunks.push(chunk);
    }
    const headers = new Headers();
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined && name !== 'transfer-encoding')
        headers.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
    const answer = await yoga.fetch(
      new URL(request.url ?? '/', `http://${request.headers.host ?? 'localhost'}`),
      { method: 'POST', headers, body: Buffer.concat(chunks) },
      { req: request },
    );
    response.writeHead(answer.status, Object.fromEntries(answer.headers));
    // yoga's body is its own web stream implementation: written out chunk by chunk (a subscription's stream too).
    for await (const chunk of (answer.body ?? []) as unknown as AsyncIterable<Uint8Array>) response.write(chunk);
    response.end();
  };
}

/** A GraphQL-over-HTTP error answer given before the body was read: the connection closes after it. */
function refuse(response: ServerResponse, status: number, code: string, message: string): void {
  const body = JSON.stringify({ errors: [{ message, extensions: { code } }] });
  response.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}
