import * as oidc from 'openid-client';
import type { AppConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import { type SecretBox, SecretError } from '../../lib/secrets.js';
import { recordAudit } from '../audit/audit-log.js';
import type { AuthPayload, SessionService } from './sessions.service.js';

/** How long a sign-in at the provider may take, from /auth/oidc/start to the callback. */
export const FLOW_TTL_MS = 10 * 60_000;
const FLOW_PURPOSE = 'oidc-flow';

/** What the browser carries between start and callback, sealed (AES-256-GCM) in a cookie: any instance can open it. */
interface Flow {
  state: string;
  nonce: string;
  codeVerifier: string;
  expiresAt: number;
}

/** A refusal to show the person signing in, with its HTTP status. */
export class SingleSignOnRefusal extends Error {
  constructor(
    readonly status: 400 | 403 | 503,
    message: string,
  ) {
    super(message);
  }
}

export interface SingleSignOnDeps {
  db: Database;
  sessions: SessionService;
  box: SecretBox;
  oidc: NonNullable<AppConfig['oidc']>;
}

/**
 * Single sign-on with OpenID Connect through openid-client: the authorization code flow with PKCE (S256), state
 * and nonce, all checked by the library. The provider's verified e-mail address finds the user of
 * OIDC_ORGANIZATION_ID; an address nobody has is refused unless an admin allowed just-in-time creation
 * (`setSingleSignOnUserCreation`).
 */
export class SingleSignOn {
  private configuration: Promise<oidc.Configuration> | undefined;

  constructor(private readonly deps: SingleSignOnDeps) {}

  /** Where to send the browser, and the sealed flow for its cookie. */
  async start(): Promise<{ redirectTo: URL; flow: string }> {
    const configuration = await this.discover();
    const flow: Flow = {
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      codeVerifier: oidc.randomPKCECodeVerifier(),
      expiresAt: Date.now() + FLOW_TTL_MS,
    };
    const redirectTo = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: this.deps.oidc.redirectUrl,
      scope: 'openid email profile',
      response_type: 'code',
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.codeVerifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    return { redirectTo, flow: this.deps.box.seal(JSON.stringify(flow), FLOW_PURPOSE) };
  }

  /**
   * Checks the provider's answer (the callback's query string) against the flow, and signs in the
   * organization's user it names.
   */
  async finish(query: string, sealedFlow: string | undefined, from: string): Promise<AuthPayload> {
    const flow = this.openFlow(sealedFlow);
    // The registered redirect URL with the answer's parameters: what the token request names as redirect_uri.
    const callbackUrl = new URL(this.deps.oidc.redirectUrl);
    callbackUrl.search = query;
    const configuration = await this.discover();
    let claims: Record<string, unknown>;
    try {
      const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
        pkceCodeVerifier: flow.codeVerifier,
        expectedState: flow.state,
        expectedNonce: flow.nonce,
        idTokenExpected: true,
      });
      const idToken = tokens.claims()!;
      claims = idToken;
      // Many providers put the scope's claims in the userinfo answer only, not in the ID token.
      if (idToken.email === undefined || idToken.email_verified === undefined)
        claims = { ...(await oidc.fetchUserInfo(configuration, tokens.access_token, idToken.sub)), ...idToken };
    } catch (error) {
      throw new SingleSignOnRefusal(400, `The identity provider's answer was refused (${describe(error)})`);
    }
    const email = typeof claims.email === 'string' ? claims.email.trim().toLowerCase() : undefined;
    if (!email || claims.email_verified !== true)
      throw new SingleSignOnRefusal(403, 'The identity provider has not verified an e-mail address for this account');
    const user = await this.userFor(email, typeof claims.name === 'string' ? claims.name : undefined, from);
    await recordAudit(this.deps.db.prisma, {
      organizationId: user.organizationId,
      action: 'sign-in',
      actorUserId: user.id,
      subjectUserId: user.id,
      details: { method: 'single-sign-on' },
      address: from,
    });
    return this.deps.sessions.start(user, from);
  }

  private async userFor(email: string, name: string | undefined, from: string) {
    const { prisma } = this.deps.db;
    const organizationId = this.deps.oidc.organizationId;
    const existing = await prisma.user.findFirst({ where: { organizationId, email } });
    if (existing) {
      if (!existing.isActive || existing.role === 'CLIENT')
        throw new SingleSignOnRefusal(403, `${email} may not sign in to this organization`);
      return existing;
    }
    const organization = await prisma.organization.findUnique({ where: { id: organizationId } });
    if (!organization?.ssoCreatesUsers)
      throw new SingleSignOnRefusal(403, `No account for ${email} in this organization; ask an admin to invite you`);
    return prisma.$transaction(async (tx) => {
      const created = await tx.user.upsert({
        where: { organizationId_email: { organizationId, email } },
        create: { organizationId, email, displayName: (name ?? email.split('@')[0]!).slice(0, 100), role: 'USER' },
        update: {},
      });
      await recordAudit(tx, {
        organizationId,
        action: 'user-created',
        subjectUserId: created.id,
        details: { role: 'USER', via: 'single-sign-on' },
        address: from,
      });
      return created;
    });
  }

  private openFlow(sealed: string | undefined): Flow {
    const expired = new SingleSignOnRefusal(
      400,
      'This sign-in has expired or was started in another browser; start again at /auth/oidc/start',
    );
    if (!sealed) throw expired;
    let flow: Flow;
    try {
      flow = JSON.parse(this.deps.box.open(sealed, FLOW_PURPOSE)) as Flow;
    } catch (error) {
      if (error instanceof SecretError || error instanceof SyntaxError) throw expired;
      throw error;
    }
    if (!(flow.expiresAt > Date.now())) throw expired;
    return flow;
  }

  /** The provider's configuration, discovered once; a failed discovery is tried again by the next sign-in. */
  private discover(): Promise<oidc.Configuration> {
    const { issuer, clientId, clientSecret } = this.deps.oidc;
    const url = new URL(issuer);
    this.configuration ??= oidc
      .discovery(url, clientId, clientSecret, undefined, {
        // http only for a provider on this machine (production refuses any other http issuer at start-up).
        execute: url.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
        timeout: 10,
      })
      .catch((error: unknown) => {
        this.configuration = undefined;
        throw new SingleSignOnRefusal(503, `The identity provider cannot be reached (${describe(error)})`);
      });
    return this.configuration;
  }
}

function describe(error: unknown): string {
  if (error instanceof oidc.AuthorizationResponseError) return error.error;
  if (error instanceof Error && 'code' in error && typeof error.code === 'string') return error.code;
  return error instanceof Error ? error.name : 'unknown error';
}
