import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GraphQLServer } from './graphql.js';

/**
 * /graphql with its request body capped at `maxBytes`, at the level of Node's request: a body that declares its
 * length (as fetch, browsers and curl do) is refused at once when too large, and otherwise read by yoga as is,
 * since Node never reads past the declared length. A chunked body is counted while it is read and refused the
 * moment it passes the cap. (yoga's own limit wraps every body in a web stream transform, which cost more than
 * the rest of a small request.)
 */
export function withBodyLimit(yoga: GraphQLServer, maxBytes: number) {
  return async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    if (request.method !== 'POST' || maxBytes <= 0) return yoga.requestListener(request, response);
    const declared = request.headers['content-length'];
    if (declared !== undefined) {
      if (Number(declared) > maxBytes) return refuseTooLarge(response);
      return yoga.requestListener(request, response);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) return refuseTooLarge(response);
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

function refuseTooLarge(response: ServerResponse): void {
  const body = JSON.stringify({
    errors: [{ message: 'Request body too large', extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }],
  });
  // The rest of the body is not going to be read: the connection closes after this answer.
  response.writeHead(413, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    connection: 'close',
  });
  response.end(body);
}
