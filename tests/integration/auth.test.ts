import { createServer, type Server } from 'node:http';
import { useFixture } from '../support/fixture.js';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'graphql-ws';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import WebSocket from 'ws';
import { signUserToken } from '../../src/auth/tokens.js';
import { graphql } from '../gql/index.js';
import { errorCodes, gql, subscribe, wsClient } from '../support/graphql.js';
import { TEST_JWT_SECRET, startServer } from '../support/server.js';

const Viewer = graphql(`
  query AuthViewer {
    viewer {
      id
    }
  }
`);

const { server, org } = useFixture({ organization: { users: ['Alice'] } });

const hs256 = (claims: Record<string, unknown>, secret = TEST_JWT_SECRET) =>
  new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode(secret));

const viewerWith = (authorization: string) => gql(server().graphqlUrl, Viewer, {}, { headers: { authorization } });

describe('HTTP bearer tokens', () => {
  it('accepts a valid token', async () => {
    const response = await gql(server().graphqlUrl, Viewer, {}, { token: org().users.Alice!.token });
    expect(response.data?.viewer.id).toBe(org().users.Alice!.id);
  });

  it.each([
    ['missing', ''],
    ['not a bearer header', 'Basic dXNlcjpwYXNz'],
    ['garbage', 'Bearer not.a.token'],
  ])('refuses a %s token with UNAUTHENTICATED', async (_case, header) => {
    expect(errorCodes(await viewerWith(header))).toEqual(['UNAUTHENTICATED']);
  });

  it('refuses expired, forged, subject-less and exp-less tokens, saying why', async () => {
    const now = Math.floor(Date.now() / 1000);
    const alice = org().users.Alice!.id;
    const cases: [string, string][] = [
      [await hs256({ sub: alice, exp: now - 10 }), 'Token expired'],
      [await hs256({ sub: alice, exp: now + 600 }, 'another-secret-another-secret-another-secret'), 'Invalid token'],
      [await hs256({ exp: now + 600 }), 'Token claim rejected: sub'],
      [await hs256({ sub: alice }), 'Token claim rejected: exp'],
      [await hs256({ sub: 'not-a-user-id', exp: now + 600 }), 'Token subject is not a user id'],
      [await hs256({ sub: '00000000-0000-4000-8000-000000000000', exp: now + 600 }), 'User is unknown or inactive'],
    ];
    for (const [token, reason] of cases) {
      const response = await viewerWith(`Bearer ${token}`);
      expect(response.errors?.[0]).toMatchObject({ message: reason, extensions: { code: 'UNAUTHENTICATED' } });
    }
  });

  it('checks issuer and audience when they are configured', async () => {
    const strict = await startServer({ env: { JWT_ISSUER: 'https://issuer.test', JWT_AUDIENCE: 'chat' } });
    try {
      const alice = org().users.Alice!.id;
      const good = await signUserToken(strict.config.jwt, alice);
      expect((await gql(strict.graphqlUrl, Viewer, {}, { token: good })).data?.viewer.id).toBe(alice);
      const wrongAudience = await hs256({
        sub: alice,
        exp: Math.floor(Date.now() / 1000) + 60,
        iss: 'https://issuer.test',
        aud: 'other',
      });
      const response = await gql(strict.graphqlUrl, Viewer, {}, { token: wrongAudience });
      expect(response.errors?.[0]).toMatchObject({ extensions: { code: 'UNAUTHENTICATED' } });
    } finally {
      await strict.stop();
    }
  });
});

describe('tokens from an identity provider (JWKS)', () => {
  let jwks: Server;
  let jwksUrl: string;
  let privateKey: CryptoKey;

  beforeAll(async () => {
    const pair = await generateKeyPair('RS256');
    privateKey = pair.privateKey;
    const publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'test-key', alg: 'RS256', use: 'sig' };
    // The identity provider's key endpoint, served locally as an IdP would.
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => jwks.close(() => resolve())));

  it('accepts RS256 tokens signed by a key of the JWKS and refuses others', async () => {
    const withJwks = await startServer({ env: { JWT_JWKS_URL: jwksUrl } });
    try {
      const exp = Math.floor(Date.now() / 1000) + 600;
      const token = await new SignJWT({ sub: org().users.Alice!.id, exp })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .sign(privateKey);
      expect((await gql(withJwks.graphqlUrl, Viewer, {}, { token })).data?.viewer.id).toBe(org().users.Alice!.id);
      const stranger = await generateKeyPair('RS256');
      const forged = await new SignJWT({ sub: org().users.Alice!.id, exp })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
        .sign(stranger.privateKey);
      expect(errorCodes(await gql(withJwks.graphqlUrl, Viewer, {}, { token: forged }))).toEqual(['UNAUTHENTICATED']);
      // HS256 tokens from JWT_SECRET keep working beside the identity provider.
      expect((await gql(withJwks.graphqlUrl, Viewer, {}, { token: org().users.Alice!.token })).data?.viewer.id).toBe(
        org().users.Alice!.id,
      );
    } finally {
      await withJwks.stop();
    }
  });
});

describe('graphql-ws connectionParams', () => {
  it('authenticate the connection; without a valid token it is refused at connection_init with 4403', async () => {
    const member = wsClient(server().wsUrl, org().users.Alice!.token);
    try {
      const [answer] = await subscribe(member, Viewer, {}).waitForCount(1);
      expect(answer!.viewer.id).toBe(org().users.Alice!.id);
    } finally {
      await member.dispose();
    }
    for (const connectionParams of [{}, { authorization: 'Bearer not.a.token' }]) {
      const closed = new Promise<{ code: number; reason: string }>((resolve) => {
        const anonymous = createClient({
          url: server().wsUrl,
          webSocketImpl: WebSocket,
          connectionParams,
          retryAttempts: 0,
          lazy: false,
          onNonLazyError: () => undefined,
          on: { closed: (event) => resolve(event as { code: number; reason: string }) },
        });
        void anonymous;
      });
      const { code, reason } = await closed;
      // The reason says what is wrong with the token, for the client to act on.
      expect({ code, reason }).toEqual({
        code: 4403,
        reason: expect.stringMatching(/^(Authentication required|Unsupported token algorithm)$/),
      });
    }
  });
});
