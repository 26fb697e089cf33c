import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { followRedirects, startOidcProvider } from '../support/oidc-provider.js';
import { freePort } from '../support/process.js';
import { addUser, seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// Single sign-on (issue 11): GET /auth/oidc/start → a real OpenID provider started here (oidc-provider) →
// GET /auth/oidc/callback, authorization code with PKCE, state and nonce, signing in the organization's user
// with the verified e-mail address.

const Viewer = graphql(`
  query SingleSignOnViewer {
    viewer {
      id
      email
      role
    }
  }
`);

const AllowCreation = graphql(`
  mutation SingleSignOnAllowCreation($allowed: Boolean!) {
    setSingleSignOnUserCreation(allowed: $allowed) {
      id
      singleSignOnCreatesUsers
    }
  }
`);

const Refresh = graphql(`
  mutation SingleSignOnRefresh($token: String!) {
    refreshSession(refreshToken: $token) {
      user {
        id
      }
    }
  }
`);

const CLIENT = { clientId: 'chat-server', clientSecret: `secret-${randomBytes(8).toString('hex')}` };
const CLIENT_APP = 'https://chat.test/app';

let provider: Awaited<ReturnType<typeof startOidcProvider>>;
let server: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  provider = await startOidcProvider(CLIENT);
  const plain = await startServer();
  try {
    org = await seedOrganization(plain);
  } finally {
    await plain.stop();
  }
  // The callback URL is registered at the provider, so the server's address is chosen before it starts.
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  provider.register(`${publicUrl}/auth/oidc/callback`);
  server = await startServer({
    env: {
      PORT: String(port),
      PUBLIC_URL: publicUrl,
      ACCOUNT_LINKS_URL: CLIENT_APP,
      OIDC_ISSUER: provider.issuer,
      OIDC_CLIENT_ID: CLIENT.clientId,
      OIDC_CLIENT_SECRET: CLIENT.clientSecret,
      OIDC_ORGANIZATION_ID: org.id,
    },
  });
});
afterAll(async () => {
  await server?.stop();
  await provider?.stop();
});

/** Signs in at the provider as `account` through a browser's redirects; the answer where it ended. */
async function singleSignOn(account: { email: string; email_verified?: boolean; name?: string }) {
  provider.signInAs(`sub-${randomBytes(4).toString('hex')}`, { email_verified: true, ...account });
  return followRedirects(`${server.url}/auth/oidc/start`, CLIENT_APP);
}

const fragmentOf = (url: URL) => new URLSearchParams(url.hash.slice(1));

describe('single sign-on', () => {
  it("signs in the organization's user with the provider's verified e-mail, handing the client an AuthPayload", async () => {
    const user = await addUser(server, org, 'Federated', 'USER');
    const { url } = await singleSignOn({ email: user.email.toUpperCase() });
    expect(url.origin + url.pathname).toBe(`${CLIENT_APP}/signed-in`);
    const payload = fragmentOf(url);
    expect(payload.get('userId')).toBe(user.id);
    expect(new Date(payload.get('expiresAt')!).getTime()).toBeGreaterThan(Date.now());
    const viewer = dataOf(await gql(server.graphqlUrl, Viewer, {}, { token: payload.get('accessToken')! })).viewer;
    expect(viewer).toEqual({ id: user.id, email: user.email, role: 'USER' });
    // The refresh token is a session like any other.
    const refreshed = await gql(server.graphqlUrl, Refresh, { token: payload.get('refreshToken')! });
    expect(dataOf(refreshed).refreshSession.user.id).toBe(user.id);
  });

  it('refuses an unknown e-mail unless an admin allowed just-in-time creation', async () => {
    const email = `newcomer-${randomBytes(4).toString('hex')}@example.test`;
    const refused = await singleSignOn({ email, name: 'New Comer' });
    expect(refused.response.status).toBe(403);
    expect(((await refused.response.json()) as { error: string }).error).toContain('ask an admin to invite you');

    const allowed = dataOf(await gql(server.graphqlUrl, AllowCreation, { allowed: true }, { token: org.admin.token }));
    expect(allowed.setSingleSignOnUserCreation.singleSignOnCreatesUsers).toBe(true);
    try {
      const { url } = await singleSignOn({ email, name: 'New Comer' });
      const token = fragmentOf(url).get('accessToken')!;
      expect(dataOf(await gql(server.graphqlUrl, Viewer, {}, { token })).viewer).toMatchObject({ email, role: 'USER' });
    } finally {
      dataOf(await gql(server.graphqlUrl, AllowCreation, { allowed: false }, { token: org.admin.token }));
    }
  });

  it('refuses an address the provider has not verified, and deactivated users and clients', async () => {
    const user = await addUser(server, org, 'Unverified', 'USER');
    const unverified = await singleSignOn({ email: user.email, email_verified: false });
    expect(unverified.response.status).toBe(403);
    expect(((await unverified.response.json()) as { error: string }).error).toContain('not verified');
    const client = await addUser(server, org, 'Customer', 'CLIENT');
    expect((await singleSignOn({ email: client.email })).response.status).toBe(403);
  });

  it('refuses a callback whose state does not match, or that comes without the flow cookie', async () => {
    const user = await addUser(server, org, 'Tampered', 'USER');
    provider.signInAs(`sub-${randomBytes(4).toString('hex')}`, { email: user.email, email_verified: true });
    // Stop at our callback: the browser has the flow cookie and the provider's code.
    const atCallback = await followRedirects(`${server.url}/auth/oidc/start`, `${server.url}/auth/oidc/callback`);
    const callback = atCallback.url;
    const cookie = [...(atCallback.jar.get(new URL(server.url).origin) ?? [])]
      .map(([name, value]) => `${name}=${value}`)
      .join('; ');
    expect(cookie).toContain('chat_oidc_flow=');
    const forged = new URL(callback);
    forged.searchParams.set('state', 'forged-state');
    const wrongState = await fetch(forged, { redirect: 'manual', headers: { cookie } });
    expect(wrongState.status).toBe(400);
    const noCookie = await fetch(callback, { redirect: 'manual' });
    expect(noCookie.status).toBe(400);
    expect(((await noCookie.json()) as { error: string }).error).toContain('start again at /auth/oidc/start');
  });

  it('is 404 where single sign-on is not configured', async () => {
    const plain = await startServer();
    try {
      expect((await fetch(`${plain.url}/auth/oidc/start`, { redirect: 'manual' })).status).toBe(404);
    } finally {
      await plain.stop();
    }
  });

  it('lets only admins allow just-in-time creation', async () => {
    const staff = await addUser(server, org, 'Not admin', 'USER');
    expect(errorCodes(await gql(server.graphqlUrl, AllowCreation, { allowed: true }, { token: staff.token }))).toEqual([
      'FORBIDDEN',
    ]);
  });
});
