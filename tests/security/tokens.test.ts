import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { loadConfig } from '../../src/config.js';
import { errorCodes } from '../support/graphql.js';
import { rawGql } from '../support/raw.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, TEST_JWT_SECRET, type TestServer } from '../support/server.js';

// Attacks on bearer tokens, as an outsider who knows the source code (and so every development default) and a
// user id (ids are visible to every member, e.g. Message.author.id).

const VIEWER = '{ viewer { id role } }';
const ADMIN_ONLY = '{ webhookDeliveries(first: 1) { edges { cursor } } }';

const hs256 = (claims: Record<string, unknown>, secret: string | Uint8Array) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .sign(typeof secret === 'string' ? new TextEncoder().encode(secret) : secret);

const inTenMinutes = () => Math.floor(Date.now() / 1000) + 600;

let seeder: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  seeder = await startServer();
  org = await seedOrganization(seeder, { users: ['Alice'] });
});
afterAll(() => seeder.stop());

describe('a production server configured only with an identity provider (JWT_JWKS_URL)', () => {
  let jwks: Server;
  let provider: CryptoKeyPair;
  let server: TestServer;

  beforeAll(async () => {
    provider = await generateKeyPair('RS256', { extractable: true });
    const publicJwk = { ...(await exportJWK(provider.publicKey)), kid: 'idp-key', alg: 'RS256', use: 'sig' };
    jwks = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ keys: [publicJwk] }));
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    server = await startServer({
      env: {
        NODE_ENV: 'production',
        JWT_SECRET: undefined,
        JWT_JWKS_URL: `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`,
        ENCRYPTION_KEY: randomBytes(32).toString('hex'),
      },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await new Promise<void>((resolve) => jwks.close(() => resolve()));
  });

  it("accepts the provider's tokens", async () => {
    const token = await new SignJWT({ sub: org.admin.id, exp: inTenMinutes() })
      .setProtectedHeader({ alg: 'RS256', kid: 'idp-key' })
      .sign(provider.privateKey);
    expect((await rawGql(server.graphqlUrl, VIEWER, {}, token)).data).toEqual({
      viewer: { id: org.admin.id, role: 'ADMIN' },
    });
  });

  it("refuses an admin's id in an HS256 token signed with the development default", async () => {
    const developmentDefault = loadConfig({}).jwt.secret!;
    const forged = await hs256({ sub: org.admin.id, exp: inTenMinutes() }, developmentDefault);
    for (const query of [VIEWER, ADMIN_ONLY]) {
      const response = await rawGql(server.graphqlUrl, query, {}, forged);
      expect(response.data ?? null).toBeNull();
      expect(errorCodes(response)).toEqual(['UNAUTHENTICATED']);
    }
  });

  it('refuses HS256 tokens whatever their secret, the public key of the provider included', async () => {
    const publicKeyPem = await exportSPKI(provider.publicKey);
    for (const secret of [TEST_JWT_SECRET, publicKeyPem]) {
      const forged = await hs256({ sub: org.admin.id, exp: inTenMinutes() }, secret);
      expect(errorCodes(await rawGql(server.graphqlUrl, VIEWER, {}, forged))).toEqual(['UNAUTHENTICATED']);
    }
  });
});

describe('issue time (iat)', () => {
  it('refuses a token issued in the future beyond a small clock skew, and tolerates that skew', async () => {
    const now = Math.floor(Date.now() / 1000);
    const yearAhead = await hs256(
      { sub: org.admin.id, iat: now + 365 * 86_400, exp: now + 366 * 86_400 },
      TEST_JWT_SECRET,
    );
    const response = await rawGql(seeder.graphqlUrl, VIEWER, {}, yearAhead);
    expect(response.errors?.[0]).toMatchObject({
      message: 'Token claim rejected: iat',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    const slightlyAhead = await hs256({ sub: org.admin.id, iat: now + 5, exp: now + 600 }, TEST_JWT_SECRET);
    expect((await rawGql(seeder.graphqlUrl, VIEWER, {}, slightlyAhead)).data).toEqual({
      viewer: { id: org.admin.id, role: 'ADMIN' },
    });
  });
});
