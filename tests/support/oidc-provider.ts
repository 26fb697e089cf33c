import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

export interface ProviderAccount {
  email: string;
  email_verified: boolean;
  name?: string;
}

/**
 * A real OpenID provider (the `oidc-provider` package) on a free port. Its login and consent page is replaced by
 * one that signs in, at once, as the account the test chose with `signInAs`: the rest (authorization code,
 * PKCE, state, nonce, signed ID tokens, discovery, JWKS) is the provider's own.
 */
export async function startOidcProvider(client: { clientId: string; clientSecret: string }) {
  const accounts = new Map<string, ProviderAccount>();
  let signedIn: string | undefined;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let provider: Provider | undefined;

  server.on('request', (request, response) => {
    if (!provider) {
      response.writeHead(503).end();
      return;
    }
    const current = provider;
    if (!request.url?.startsWith('/interaction/')) {
      void current.callback()(request, response);
      return;
    }
    void (async () => {
      const details = await current.interactionDetails(request, response);
      const accountId = signedIn!;
      const grant = new current.Grant({ accountId, clientId: String(details.params.client_id) });
      grant.addOIDCScope('openid email profile');
      const grantId = await grant.save();
      await current.interactionFinished(
        request,
        response,
        { login: { accountId }, consent: { grantId } },
        { mergeWithLastSubmission: false },
      );
    })().catch((error: unknown) => {
      response.writeHead(500).end(String(error));
    });
  });

  return {
    issuer,
    /** Creates the provider once the chat server's callback URL is known. */
    register(redirectUri: string) {
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: client.clientId,
            client_secret: client.clientSecret,
            redirect_uris: [redirectUri],
            grant_types: ['authorization_code'],
            response_types: ['code'],
          },
        ],
        claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
        findAccount: (_context, sub) => {
          const account = accounts.get(sub);
          return account ? { accountId: sub, claims: () => ({ sub, ...account }) } : undefined;
        },
        interactions: { url: (_context, interaction) => `/interaction/${interaction.uid}` },
        cookies: { keys: ['oidc-provider-test-cookie-key'] },
        features: { devInteractions: { enabled: false } },
      });
    },
    /** The account the next sign-in at the provider is, created with these claims. */
    signInAs(sub: string, account: ProviderAccount) {
      accounts.set(sub, account);
      signedIn = sub;
    },
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/**
 * A browser's way through redirects, with a cookie jar per origin: from `url` until the answer is not a redirect
 * or the redirect leaves for `stopAt` (the chat client). Returns the last answer, and the URL it ended at.
 */
export async function followRedirects(url: string, stopAt: string, jar = new Map<string, Map<string, string>>()) {
  let current = new URL(url);
  for (let hop = 0; hop < 20; hop++) {
    const cookies = jar.get(current.origin) ?? new Map<string, string>();
    jar.set(current.origin, cookies);
    const response = await fetch(current, {
      redirect: 'manual',
      headers: { cookie: [...cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...value] = pair!.trim().split('=');
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) cookies.delete(name!);
      else cookies.set(name!, value.join('='));
    }
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || !location) return { response, url: current, jar };
    current = new URL(location, current);
    if (current.href.startsWith(stopAt)) return { response, url: current, jar };
  }
  throw new Error('too many redirects');
}
