import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { LEAKS } from '../support/hostile.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// Thousands of hostile requests against the real server. FUZZ_RUNS sets the runs per property (default 1000,
// about 2000 requests in all, well under a minute); FUZZ_SEED replays a failing run with the seed it printed.
const RUNS = Number(process.env.FUZZ_RUNS ?? 1_000);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const REQUEST_TIMEOUT_MS = 10_000;
const BODY_LIMIT = 100 * 1024;

// ------------------------------------------------------------------------------------------------------------
// What is generated

const KNOWN_OPERATIONS = [
  '{ viewer { id email displayName role isActive } }',
  'query Users($role: UserRole, $first: Int, $after: String) { users(role: $role, first: $first, after: $after) { edges { cursor node { id displayName } } pageInfo { hasNextPage endCursor } } }',
  '{ organization { id name description createdAt } }',
  'mutation Create($input: CreateUserInput!) { createUser(input: $input) { id email } }',
  'mutation Update($input: UpdateUserInput!) { updateUser(input: $input) { id displayName isActive } }',
  'mutation Organization($input: UpdateOrganizationInput!) { updateOrganization(input: $input) { id name } }',
  '{ __schema { types { name fields { name } } } }',
  'subscription { viewer { id } }',
];

const GRAPHQL_WORDS = [
  ...['viewer', 'users', 'organization', 'id', 'email', 'edges', 'node', 'cursor', 'pageInfo', 'first', 'last'],
  ...['after', 'input', 'createUser', 'updateUser', '__typename', '__schema', '__type', 'query', 'mutation'],
  ...['subscription', 'fragment', 'on', 'true', 'null', '$first', 'Int', 'String!', '@include', '@skip'],
];
const PUNCTUATION = [
  '{',
  '}',
  '(',
  ')',
  ':',
  '$',
  '!',
  '@',
  '...',
  '=',
  '[',
  ']',
  ',',
  '"',
  '"""',
  '#',
  '\n',
  '|',
  '&',
];

const tokenSoup = fc
  .array(
    fc.oneof(
      fc.constantFrom(...GRAPHQL_WORDS),
      fc.constantFrom(...PUNCTUATION),
      fc.string({ maxLength: 6 }),
      fc.integer().map(String),
    ),
    { maxLength: 300 },
  )
  .map((parts) => parts.join(' '));

const mutatedOperation = fc
  .tuple(fc.constantFrom(...KNOWN_OPERATIONS), fc.nat(), fc.nat({ max: 30 }), fc.string({ maxLength: 12 }))
  .map(([operation, at, removed, inserted]) => {
    const index = at % (operation.length + 1);
    return operation.slice(0, index) + inserted + operation.slice(index + removed);
  });

const deepNesting = fc
  .integer({ min: 10, max: 5_000 })
  .map((depth) => `{ ${'viewer { '.repeat(depth)}id${' }'.repeat(depth)} }`);
const manyAliases = fc
  .integer({ min: 10, max: 3_000 })
  .map((count) => `{ ${Array.from({ length: count }, (_, i) => `a${i}: viewer { id }`).join(' ')} }`);
const manyDirectives = fc
  .integer({ min: 5, max: 2_000 })
  .map((count) => `{ viewer ${'@include(if: true) '.repeat(count)}{ id } }`);
const fragmentBomb = fc.integer({ min: 2, max: 60 }).map((levels) => {
  const fragments = Array.from(
    { length: levels },
    (_, level) => `fragment F${level} on User { id ${level + 1 < levels ? `...F${level + 1} ...F${level + 1}` : ''} }`,
  );
  return `{ viewer { ...F0 } } ${fragments.join(' ')}`;
});
const fragmentCycle = fc.constant('{ viewer { ...A } } fragment A on User { id ...B } fragment B on User { ...A }');
const widePage = fc
  .oneof(fc.integer(), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 1e308))
  .map((size) => `{ users(first: ${size}) { edges { node { id users: id } } } }`);

const query = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...KNOWN_OPERATIONS) },
  { weight: 4, arbitrary: mutatedOperation },
  { weight: 3, arbitrary: tokenSoup },
  { weight: 1, arbitrary: deepNesting },
  { weight: 1, arbitrary: manyAliases },
  { weight: 1, arbitrary: manyDirectives },
  { weight: 1, arbitrary: fragmentBomb },
  { weight: 1, arbitrary: fragmentCycle },
  { weight: 1, arbitrary: widePage },
  { weight: 2, arbitrary: fc.string({ maxLength: 400 }) },
);

const hostileScalar = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.string({ maxLength: 300 }),
  fc.constantFrom(null, true, 1e308, -1, 2 ** 53, '', '00000000-0000-4000-8000-000000000000'),
  fc.uuid(),
  fc.base64String({ maxLength: 80 }),
);

const variables = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 4 }),
  fc.record(
    {
      first: hostileScalar,
      last: hostileScalar,
      after: hostileScalar,
      role: hostileScalar,
      input: fc.jsonValue({ maxDepth: 3 }),
    },
    { requiredKeys: [] },
  ),
  fc.record({
    input: fc.record(
      {
        id: hostileScalar,
        email: fc.oneof(fc.emailAddress(), hostileScalar),
        displayName: hostileScalar,
        role: fc.oneof(fc.constantFrom('ADMIN', 'USER', 'CLIENT'), hostileScalar),
        avatarUrl: fc.oneof(fc.webUrl(), hostileScalar),
        isActive: fc.oneof(fc.boolean(), hostileScalar),
        name: hostileScalar,
        description: hostileScalar,
      },
      { requiredKeys: [] },
    ),
  }),
);

const graphqlParams = fc.record(
  {
    query: fc.oneof({ weight: 9, arbitrary: query }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) }),
    variables,
    operationName: fc.oneof(fc.constantFrom('Users', 'Create', 'Update'), fc.string({ maxLength: 20 }), fc.integer()),
    extensions: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: [] },
);

const utf8 = (text: string) => Buffer.from(text, 'utf8');
const INVALID_UTF8 = [
  [0xc3, 0x28],
  [0xff, 0xfe],
  [0xe2, 0x82],
  [0xed, 0xa0, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80],
];

const body = fc.oneof(
  { weight: 8, arbitrary: graphqlParams.map((params) => utf8(JSON.stringify(params))) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 6 }).map((value) => utf8(JSON.stringify(value))) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 4_096 }).map((bytes) => Buffer.from(bytes)) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.constantFrom(...INVALID_UTF8), fc.constantFrom('operationName', 'query'))
      .map(([bytes, field]) =>
        Buffer.concat([utf8(`{"query":"{ viewer { id } }","${field}":"`), Buffer.from(bytes), utf8('"}')]),
      ),
  },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.integer({ min: 100, max: 40_000 }), fc.constantFrom('[', '{"a":'))
      .map(([depth, open]) => utf8(`${open.repeat(depth)}1${(open === '[' ? ']' : '}').repeat(depth)}`)),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 1, max: 64 * 1024 })
      .map((extra) =>
        utf8(JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(BODY_LIMIT + extra) } })),
      ),
  },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(0)) },
);

const headerText = fc.string({ maxLength: 60 }).filter((text) => /^[\x21-\x7e]([\x20-\x7e]*[\x21-\x7e])?$/.test(text));

interface HostileRequest {
  method: string;
  contentType: string | null;
  accept: string | null;
  authorization: 'admin' | 'user' | string | null;
  body: Buffer;
  queryString: string;
}

const hostileRequest: fc.Arbitrary<HostileRequest> = fc.record({
  method: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'GET', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  contentType: fc.option(
    fc.oneof(
      { weight: 6, arbitrary: fc.constant('application/json') },
      {
        weight: 3,
        arbitrary: fc.constantFrom(
          'application/graphql-response+json',
          'application/graphql',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=xyz',
          'text/plain',
          'application/xml',
          'application/json; charset=utf-16',
          'application/json; charset=latin1',
        ),
      },
      { weight: 1, arbitrary: headerText },
    ),
  ),
  accept: fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/graphql-response+json, application/json',
        'application/json',
        '*/*',
        'text/html',
        'image/png',
        'text/event-stream',
        'multipart/mixed',
        'application/json;q=0',
      ),
      headerText,
    ),
  ),
  authorization: fc.option(
    fc.oneof(
      fc.constantFrom('admin', 'user', 'Bearer ', 'Bearer a.b.c', 'Basic Zm9vOmJhcg=='),
      headerText.map((text) => `Bearer ${text}`),
    ),
  ),
  body,
  queryString: graphqlParams.map((params) => {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) {
      if (value !== undefined) search.set(key, typeof value === 'string' ? value : JSON.stringify(value));
    }
    // Short enough for Node's header limit (a longer URL is answered 431 by Node's own parser).
    return search.toString().slice(0, 6_000);
  }),
});

// ------------------------------------------------------------------------------------------------------------
// What every answer must be

interface Answer {
  status: number;
  contentType: string;
  text: string;
}

const ALLOWED_STATUSES = [200, 204, 400, 405, 406, 413, 415, 429];

/**
 * GraphiQL's page as a browser gets it: one fixed document, whose inlined bundle (GraphiQL's own code) mentions
 * node_modules. A hostile request may get this page, and only exactly this page.
 */
let graphiqlPage: string;

function expectWellFormed(request: HostileRequest, answer: Answer): void {
  const context = `${request.method} ${answer.status} ${answer.contentType} ${answer.text.slice(0, 500)}`;
  if (!ALLOWED_STATUSES.includes(answer.status)) throw new Error(`unexpected status: ${context}`);
  if (/^text\/html/.test(answer.contentType) && request.method === 'GET' && answer.status === 200) {
    if (answer.text !== graphiqlPage) throw new Error(`a page other than GraphiQL's: ${context}`);
    return;
  }
  for (const leak of LEAKS) if (leak.test(answer.text)) throw new Error(`internal detail leaked (${leak}): ${context}`);
  if (request.method === 'HEAD' || answer.status === 204) {
    if (answer.text !== '') throw new Error(`body on a bodiless answer: ${context}`);
    return;
  }
  if (/^text\/html/.test(answer.contentType)) throw new Error(`unexpected page: ${context}`);
  if (/^(text\/event-stream|multipart\/mixed)/.test(answer.contentType)) {
    // A streamed answer the client asked for: each event or part is a result of its own.
    const payloads = streamedPayloads(answer);
    if (payloads.length === 0) throw new Error(`empty stream: ${context}`);
    for (const payload of payloads) expectResult(JSON.parse(payload), answer.status, context);
    return;
  }
  if (!/^application\/(graphql-response\+)?json/.test(answer.contentType)) throw new Error(`not JSON: ${context}`);
  expectResult(JSON.parse(answer.text), answer.status, context);
}

function expectResult(result: { data?: unknown; errors?: unknown }, status: number, context: string): void {
  const errors = result.errors;
  if (errors === undefined) {
    if (status !== 200 || result.data === undefined) throw new Error(`neither data nor errors: ${context}`);
    return;
  }
  if (!Array.isArray(errors) || errors.length === 0) throw new Error(`errors is not a non-empty list: ${context}`);
  for (const error of errors as { message?: unknown; extensions?: Record<string, unknown> }[]) {
    const code = error.extensions?.code;
    if (typeof error.message !== 'string' || typeof code !== 'string')
      throw new Error(`error without message and code: ${context}`);
    // A masked unexpected error is a 500 in disguise: hostile input must be refused, never break something.
    if (code === 'INTERNAL_SERVER_ERROR') throw new Error(`unexpected server error: ${context}`);
    for (const internal of ['stacktrace', 'exception', 'originalError', 'http']) {
      if (internal in (error.extensions ?? {})) throw new Error(`internal extension "${internal}": ${context}`);
    }
  }
}

/** The JSON payloads of a server-sent event stream (`data:` lines) or a multipart/mixed body (its JSON parts). */
function streamedPayloads(answer: Answer): string[] {
  const lines = answer.text.split(/\r?\n/);
  if (answer.contentType.startsWith('text/event-stream'))
    return lines
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .filter(Boolean);
  return lines.filter((line) => line.startsWith('{'));
}

// ------------------------------------------------------------------------------------------------------------

let server: TestServer;
let org: TestOrganization;

async function send(request: HostileRequest): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (request.contentType !== null) headers['content-type'] = request.contentType;
  if (request.accept !== null) headers.accept = request.accept;
  if (request.authorization === 'admin') headers.authorization = `Bearer ${org.admin.token}`;
  else if (request.authorization === 'user') headers.authorization = `Bearer ${org.users.Fuzz!.token}`;
  else if (request.authorization !== null) headers.authorization = request.authorization;
  const hasBody = request.method !== 'GET' && request.method !== 'HEAD';
  const url = hasBody ? server.graphqlUrl : `${server.graphqlUrl}?${request.queryString}`;
  const response = await fetch(url, {
    method: request.method,
    headers,
    body: hasBody ? new Uint8Array(request.body) : undefined,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return {
    status: response.status,
    contentType: response.headers.get('content-type') ?? '',
    text: await response.text(),
  };
}

beforeAll(async () => {
  server = await startServer();
  org = await seedOrganization(server, { users: ['Fuzz'] });
  graphiqlPage = await (await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } })).text();
});
afterAll(() => server?.stop());

describe('the GraphQL endpoint under hostile input', () => {
  it('answers any request in time with a GraphQL-over-HTTP result or error, never a 500 or an internal detail', async () => {
    await fc.assert(
      fc.asyncProperty(hostileRequest, async (request) => expectWellFormed(request, await send(request))),
      { numRuns: RUNS, seed: SEED },
    );
  }, 120_000);

  it('answers any GraphQL request body (JSON, right headers) without breaking', async () => {
    const jsonRequest = fc.record({ params: graphqlParams, authorization: fc.constantFrom('admin', 'user', null) });
    await fc.assert(
      fc.asyncProperty(jsonRequest, async ({ params, authorization }) => {
        const request: HostileRequest = {
          method: 'POST',
          contentType: 'application/json',
          accept: 'application/graphql-response+json, application/json',
          authorization,
          body: utf8(JSON.stringify(params)),
          queryString: '',
        };
        expectWellFormed(request, await send(request));
      }),
      { numRuns: RUNS, seed: SEED },
    );
  }, 120_000);

  it('still serves normally afterwards', async () => {
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${org.users.Fuzz!.token}` },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
  });
});
