import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startServer, type TestServer } from '../support/server.js';

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});
afterAll(() => server.stop());

describe('operations endpoints', () => {
  it('answers /healthz, and /readyz with the database and Redis checked', async () => {
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${server.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { database: 'ok', redis: 'ok' } });
  });

  it('echoes a sane X-Request-Id and makes one up otherwise', async () => {
    const given = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    expect(given.headers.get('x-request-id')).toBe('abc-123');
    const hostile = await fetch(`${server.url}/healthz`, { headers: { 'x-request-id': 'x'.repeat(500) } });
    expect(hostile.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('GraphQL over HTTP', () => {
  it('serves GraphiQL to browsers', async () => {
    const response = await fetch(server.graphqlUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('GraphiQL');
  });

  it('answers GET queries', async () => {
    const response = await fetch(`${server.graphqlUrl}?query=${encodeURIComponent('{ __typename }')}`, {
      headers: { accept: 'application/graphql-response+json' },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ data: { __typename: 'Query' } });
  });

  it.each([
    ['a body that is not JSON', 'not json', 'application/json'],
    ['JSON without a query', '{"variables":{}}', 'application/json'],
    ['an unsupported content type', '{ __typename }', 'text/plain'],
  ])('answers %s with 4xx and a GraphQL-over-HTTP error body, no stack', async (_case, body, contentType) => {
    const response = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': contentType, accept: 'application/graphql-response+json' },
      body,
    });
    expect(response.status).toBeGreaterThanOrEqual(400);
    expect(response.status).toBeLessThan(500);
    const json = (await response.json()) as { errors: { message: string; extensions: Record<string, unknown> }[] };
    expect(json.errors[0]!.message).toEqual(expect.any(String));
    expect(json.errors[0]!.extensions.code).toEqual(expect.any(String));
    expect(JSON.stringify(json)).not.toMatch(/stack|at .*\.(js|ts):\d+/);
  });

  it('answers parse and validation errors with 400 and a code under the GraphQL response media type', async () => {
    const post = (query: string) =>
      fetch(server.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
        body: JSON.stringify({ query }),
      });
    const syntax = await post('{ viewer { ');
    expect(syntax.status).toBe(400);
    expect(((await syntax.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe(
      'GRAPHQL_PARSE_FAILED',
    );
    const unknownField = await post('{ nope }');
    expect(unknownField.status).toBe(400);
    expect(
      ((await unknownField.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code,
    ).toBe('GRAPHQL_VALIDATION_FAILED');
  });
});
