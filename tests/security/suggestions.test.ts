import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { GraphQLFormattedError } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { rawGql } from '../support/raw.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// "Did you mean ...?" hands the schema to whoever asks, introspection or not: production gives none, of any kind.

const PROBES: [string, string, Record<string, unknown>][] = [
  ['a field', '{ viewr { id } }', {}],
  ['an argument', '{ users(frist: 1) { edges { cursor } } }', {}],
  ['a type', 'query ($r: UserRol) { __typename }', {}],
  ['a type condition', '{ viewer { ... on Usr { id } } }', {}],
  ['a union member', 'subscription { viewerEvents { kind } }', {}],
  ['an enum value', '{ users(role: CLIENTS) { edges { cursor } } }', {}],
  [
    'an input field',
    'mutation { createUser(input: { emial: "a@example.test", displayName: "A", role: USER }) { id } }',
    {},
  ],
  ['an enum value in variables', 'query ($r: UserRole) { users(role: $r) { edges { cursor } } }', { r: 'CLIENTS' }],
  [
    'an input field in variables',
    'mutation ($i: CreateUserInput!) { createUser(input: $i) { id } }',
    { i: { emial: 'a@example.test', displayName: 'A', role: 'USER' } },
  ],
];

const SUGGESTION = /did you mean/i;

async function overWebSocket(
  server: TestServer,
  token: string,
  query: string,
  variables: Record<string, unknown>,
): Promise<readonly GraphQLFormattedError[]> {
  const client = createClient({
    url: server.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    return await new Promise((resolve, reject) => {
      client.subscribe(
        { query, variables },
        {
          next: (result) => resolve(result.errors ?? []),
          error: (error) => (Array.isArray(error) ? resolve(error) : reject(error)),
          complete: () => resolve([]),
        },
      );
    });
  } finally {
    await client.dispose();
  }
}

let production: TestServer;
let development: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  [production, development] = await Promise.all([
    startServer({ env: { NODE_ENV: 'production', ENCRYPTION_KEY: randomBytes(32).toString('hex') } }),
    startServer(),
  ]);
  org = await seedOrganization(development);
});
afterAll(() => Promise.all([production?.stop(), development?.stop()]));

describe('in production', () => {
  it.each(PROBES)('suggests nothing for a misspelt %s over HTTP, to anyone', async (_case, query, variables) => {
    for (const token of [undefined, org.admin.token]) {
      const response = await rawGql(production.graphqlUrl, query, variables, token);
      expect(response.errors?.length).toBeGreaterThan(0);
      for (const error of response.errors!) {
        expect(error.message).not.toMatch(SUGGESTION);
        expect(error.extensions?.code).toEqual(expect.any(String));
      }
    }
  });

  it.each(PROBES)('suggests nothing for a misspelt %s over graphql-ws', async (_case, query, variables) => {
    const errors = await overWebSocket(production, org.admin.token, query, variables);
    expect(errors.length).toBeGreaterThan(0);
    for (const error of errors) expect(error.message).not.toMatch(SUGGESTION);
  });
});

describe('in development', () => {
  it.each(PROBES)('suggests the right spelling of %s', async (_case, query, variables) => {
    const response = await rawGql(development.graphqlUrl, query, variables, org.admin.token);
    expect(response.errors?.map((error) => error.message).join('\n')).toMatch(SUGGESTION);
  });
});
