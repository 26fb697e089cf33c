import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraphQLFormattedError } from 'graphql';
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { wsClient } from '../support/graphql.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// Plain strings rather than typed documents: several of these are refused on purpose.
interface RawResponse {
  status: number;
  headers: Headers;
  body: { data?: unknown; errors?: GraphQLFormattedError[] };
}

async function post(
  url: string,
  payload: unknown,
  options: { token?: string; accept?: string } = {},
): Promise<RawResponse> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: options.accept ?? 'application/graphql-response+json, application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
    },
    body: JSON.stringify(payload),
  });
  return { status: response.status, headers: response.headers, body: (await response.json()) as RawResponse['body'] };
}

const codes = (response: RawResponse) => (response.body.errors ?? []).map((error) => error.extensions?.code);

/** One operation over graphql-ws, resolved with its errors (or data). */
function overWebSocket(client: Client, query: string, variables?: Record<string, unknown>) {
  return new Promise<{ data?: unknown; errors?: readonly GraphQLFormattedError[] }>((resolve) => {
    let outcome: { data?: unknown; errors?: readonly GraphQLFormattedError[] } = {};
    client.subscribe(
      { query, variables },
      {
        next: (result) => (outcome = result),
        error: (errors) => resolve({ errors: errors as GraphQLFormattedError[] }),
        complete: () => resolve(outcome),
      },
    );
  });
}

const USERS_PAGE = `query Page($first: Int) { users(first: $first) { edges { cursor } } }`;

let tight: TestServer;
let locked: TestServer;
let open: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  [tight, locked, open] = await Promise.all([
    startServer({
      env: {
        GRAPHQL_MAX_DEPTH: '3',
        GRAPHQL_MAX_ALIASES: '2',
        GRAPHQL_MAX_TOKENS: '60',
        GRAPHQL_MAX_DIRECTIVES: '2',
        GRAPHQL_MAX_COST: '100',
      },
    }),
    startServer({ env: { INTROSPECTION_ENABLED: 'false', GRAPHIQL_ENABLED: 'false' } }),
    startServer(),
  ]);
  org = await seedOrganization(open);
});
afterAll(() => Promise.all([tight, locked, open].map((server) => server?.stop())));

describe('query limits', () => {
  it('refuses a query deeper than GRAPHQL_MAX_DEPTH', async () => {
    const deep = await post(
      tight.graphqlUrl,
      { query: '{ users { edges { node { id } } } }' },
      { token: org.admin.token },
    );
    expect(deep.status).toBe(400);
    expect(deep.body.errors).toEqual([
      expect.objectContaining({
        message: 'Query depth limit of 3 exceeded, found 4.',
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      }),
    ]);
    const shallow = await post(
      tight.graphqlUrl,
      { query: '{ users { pageInfo { hasNextPage } } }' },
      { token: org.admin.token },
    );
    expect(shallow.body.errors).toBeUndefined();
  });

  it('refuses more aliases than GRAPHQL_MAX_ALIASES', async () => {
    const response = await post(tight.graphqlUrl, { query: '{ a: viewer { id } b: viewer { id } c: viewer { id } }' });
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(response.body.errors?.[0]?.message).toBe('Aliases limit of 2 exceeded, found 3.');
  });

  it('refuses more directives than GRAPHQL_MAX_DIRECTIVES', async () => {
    const response = await post(tight.graphqlUrl, {
      query: '{ viewer @include(if: true) @skip(if: false) { id @include(if: true) } }',
    });
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(response.body.errors?.[0]?.message).toBe('Directives limit of 2 exceeded, found 3.');
  });

  it('refuses a document longer than GRAPHQL_MAX_TOKENS while parsing it', async () => {
    const fields = Array.from({ length: 70 }, () => 'id').join(' ');
    const response = await post(tight.graphqlUrl, { query: `{ viewer { ${fields} } }` });
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
    expect(response.body.errors?.[0]?.message).toBe('Token limit of 60 exceeded.');
  });

  it('prices lists by the page size asked for, literal or from variables, 20 when absent', async () => {
    const token = org.admin.token;
    // users 1 + edges 1 + n × cursor 1 = 2 + n: 12 for 10, 22 for the default 20, 102 for 100.
    expect(
      (await post(tight.graphqlUrl, { query: USERS_PAGE, variables: { first: 10 } }, { token })).body.errors,
    ).toBeUndefined();
    expect((await post(tight.graphqlUrl, { query: USERS_PAGE }, { token })).body.errors).toBeUndefined();
    const fromVariable = await post(tight.graphqlUrl, { query: USERS_PAGE, variables: { first: 100 } }, { token });
    expect(fromVariable.body.errors).toEqual([
      expect.objectContaining({
        message: 'Query cost limit of 100 exceeded, found 102.',
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      }),
    ]);
    expect(fromVariable.status).toBe(400);
    const literal = await post(tight.graphqlUrl, { query: '{ users(first: 100) { edges { cursor } } }' }, { token });
    expect(codes(literal)).toEqual(['QUERY_TOO_COMPLEX']);
    const declaredDefault = USERS_PAGE.replace('$first: Int', '$first: Int = 99');
    expect(codes(await post(tight.graphqlUrl, { query: declaredDefault }, { token }))).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('answers a refused query with 200 to clients that only accept application/json, as for validation errors', async () => {
    const response = await post(
      tight.graphqlUrl,
      { query: USERS_PAGE, variables: { first: 100 } },
      { token: org.admin.token, accept: 'application/json' },
    );
    expect(response.status).toBe(200);
    expect(codes(response)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('applies the same limits to graphql-ws operations, without HTTP details in the error', async () => {
    const client = wsClient(tight.wsUrl, org.admin.token);
    try {
      const deep = await overWebSocket(client, '{ users { edges { node { id } } } }');
      expect(deep.errors).toEqual([
        expect.objectContaining({
          message: 'Query depth limit of 3 exceeded, found 4.',
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        }),
      ]);
      const costly = await overWebSocket(client, USERS_PAGE, { first: 100 });
      expect(costly.errors).toEqual([
        expect.objectContaining({
          message: 'Query cost limit of 100 exceeded, found 102.',
          extensions: { code: 'QUERY_TOO_COMPLEX' },
        }),
      ]);
      const tokens = await overWebSocket(client, `{ viewer { ${Array.from({ length: 70 }, () => 'id').join(' ')} } }`);
      expect(tokens.errors?.map((error) => error.extensions)).toEqual([{ code: 'QUERY_TOO_COMPLEX' }]);
      expect(await overWebSocket(client, USERS_PAGE, { first: 10 })).toMatchObject({
        data: { users: expect.anything() },
      });
    } finally {
      await client.dispose();
    }
  });
});

describe('introspection and GraphiQL', () => {
  it('are on by default outside production', async () => {
    const response = await post(open.graphqlUrl, { query: '{ __schema { queryType { name } } }' });
    expect(response.body).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
    const graphiql = await fetch(open.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(graphiql.headers.get('content-type')).toContain('text/html');
  });

  it('can be switched off: introspection is refused with a code, field suggestions are hidden', async () => {
    for (const query of ['{ __schema { queryType { name } } }', '{ __type(name: "User") { name } }']) {
      const response = await post(locked.graphqlUrl, { query });
      expect(response.status).toBe(400);
      expect(codes(response)).toEqual(['INTROSPECTION_DISABLED']);
      expect(response.body.errors?.[0]?.message).toMatch(/^Introspection is disabled on this server/);
    }
    expect((await post(locked.graphqlUrl, { query: '{ __typename }' })).body).toEqual({
      data: { __typename: 'Query' },
    });
    const typo = await post(locked.graphqlUrl, { query: '{ viewr { id } }' });
    expect(codes(typo)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
    expect(typo.body.errors?.[0]?.message).not.toMatch(/Did you mean/);
    const hinted = await post(open.graphqlUrl, { query: '{ viewr { id } }' });
    expect(hinted.body.errors?.[0]?.message).toMatch(/Did you mean "viewer"/);
  });

  it('serves no GraphiQL page when switched off', async () => {
    const response = await fetch(locked.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(response.headers.get('content-type')).not.toContain('text/html');
    expect(await response.text()).not.toMatch(/graphiql/i);
  });
});

describe('request size and format', () => {
  it('refuses a body over GRAPHQL_MAX_BODY_BYTES with 413 and a GraphQL error, by its Content-Length', async () => {
    const response = await fetch(open.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { padding: 'x'.repeat(150 * 1024) } }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('connection')).toBe('close');
    expect(await response.json()).toEqual({
      errors: [{ message: 'Request body too large', extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }],
    });
  });

  it('stops reading a streamed body once it is over the limit, and answers 413 before it ends', async () => {
    const total = 64 * 1024 * 1024;
    let produced = 0;
    const body = new Readable({
      read() {
        if (produced >= total) return void this.push(null);
        produced += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 0x20));
      },
    });
    const answer = await new Promise<{ status: number; text: string; producedAtResponse: number }>(
      (resolve, reject) => {
        const request = httpRequest(
          open.graphqlUrl,
          { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
          (response) => {
            const producedAtResponse = produced;
            let text = '';
            response.on('data', (chunk: Buffer) => (text += chunk.toString()));
            response.on('end', () => resolve({ status: response.statusCode ?? 0, text, producedAtResponse }));
          },
        );
        request.on('error', reject);
        body.pipe(request);
      },
    );
    body.destroy();
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)).toMatchObject({ errors: [{ extensions: { code: 'REQUEST_ENTITY_TOO_LARGE' } }] });
    // The server answered while most of the body was still unsent: it did not wait for (or buffer) all of it.
    expect(answer.producedAtResponse).toBeLessThan(total / 4);
  });

  it('serves a chunked body under the limit like any other', async () => {
    const answer = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const request = httpRequest(
        open.graphqlUrl,
        { method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } },
        (response) => {
          let text = '';
          response.on('data', (chunk: Buffer) => (text += chunk.toString()));
          response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        },
      );
      request.on('error', reject);
      request.write('{"query":"{ __ty');
      request.end('pename }"}');
    });
    expect(answer).toEqual({ status: 200, text: JSON.stringify({ data: { __typename: 'Query' } }) });
  });

  it('closes a WebSocket whose message is over GRAPHQL_MAX_BODY_BYTES with 1009', async () => {
    const socket = new WebSocket(open.wsUrl, 'graphql-transport-ws');
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(150 * 1024) } }));
    expect(await closed).toBe(1009);
  });

  it('answers an unsupported content type or Accept with a GraphQL error body', async () => {
    const textPlain = await fetch(open.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: '{}',
    });
    expect(textPlain.status).toBe(415);
    expect(await textPlain.json()).toEqual({
      errors: [{ message: 'Unsupported content type: send application/json', extensions: { code: 'BAD_REQUEST' } }],
    });
    const html = await fetch(open.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'image/png' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(html.status).toBe(406);
    expect(await html.json()).toMatchObject({ errors: [{ extensions: { code: 'BAD_REQUEST' } }] });
  });

  it('answers malformed JSON in GET parameters with 400, not an unexpected error', async () => {
    for (const parameter of ['variables={', 'extensions=+']) {
      const response = await fetch(`${open.graphqlUrl}?query=%7B__typename%7D&${parameter}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toEqual({
        errors: [
          { message: 'The "variables" and "extensions" parameters must be JSON', extensions: { code: 'BAD_REQUEST' } },
        ],
      });
    }
  });

  it('answers an unknown path with a JSON 404', async () => {
    const response = await fetch(`${open.url}/nowhere`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'Not found' });
  });
});
