import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigError, loadConfig } from '../../src/config.js';
import { startServer, type TestServer } from '../support/server.js';

// A web page on another origin must not be able to read /graphql's answers with a user's browser.

const ALLOWED = 'https://app.example.test';

const post = (server: TestServer, origin: string) =>
  fetch(server.graphqlUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin },
    body: JSON.stringify({ query: '{ __typename }' }),
  });

const preflight = (server: TestServer, origin: string) =>
  fetch(server.graphqlUrl, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });

const corsHeaders = (response: Response) =>
  Object.fromEntries([...response.headers].filter(([name]) => name.startsWith('access-control-')));

describe('without CORS_ORIGINS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server.stop());

  it.each(['https://evil.example', 'null', 'http://localhost:3000'])(
    'gives the origin %s no access, in a preflight or an answer',
    async (origin) => {
      const answer = await post(server, origin);
      expect(answer.status).toBe(200);
      expect(corsHeaders(answer)).toEqual({});
      expect(corsHeaders(await preflight(server, origin))).toEqual({});
    },
  );
});

describe('with CORS_ORIGINS', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { CORS_ORIGINS: `${ALLOWED}, https://admin.example.test` } });
  });
  afterAll(() => server.stop());

  it('allows the listed origins, without credentials (tokens travel in the Authorization header)', async () => {
    const answer = await post(server, ALLOWED);
    expect(answer.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
    expect(answer.headers.get('vary')).toMatch(/origin/i);
    const allowed = await preflight(server, ALLOWED);
    expect(allowed.status).toBeLessThan(300);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(ALLOWED);
    expect(allowed.headers.get('access-control-allow-headers')).toMatch(/authorization/i);
  });

  it.each(['https://evil.example', 'null', `${ALLOWED}.evil.example`, 'http://app.example.test'])(
    'gives any other origin (%s) no access',
    async (origin) => {
      const answer = await post(server, origin);
      expect(answer.headers.get('access-control-allow-origin')).toBeNull();
      expect(answer.headers.get('access-control-allow-credentials')).toBeNull();
      expect((await preflight(server, origin)).headers.get('access-control-allow-origin')).toBeNull();
    },
  );
});

describe('the CORS_ORIGINS setting', () => {
  it.each(['*', 'null', 'app.example.test', 'https://app.example.test/path', 'ftp://app.example.test'])(
    'refuses %s: it takes exact origins only',
    (value) => {
      expect(() => loadConfig({ CORS_ORIGINS: value })).toThrow(ConfigError);
    },
  );
});
