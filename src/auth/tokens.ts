import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import type { AppConfig } from '../config.js';

/** `issuedAt`: the token's `iat` in milliseconds (0 when absent), compared with the user's sessions_revoked_at. */
export type TokenVerdict = { ok: true; userId: string; issuedAt: number } | { ok: false; reason: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** How long a verified token is trusted without checking its signature again (never past its `exp`). */
const VERIFIED_TTL_MS = 5 * 60_000;
const VERIFIED_MAX = 20_000;
/** How far a token's issue time (`iat`) may lie in the future: clocks that disagree a little, no more. */
const MAX_CLOCK_SKEW_SECONDS = 60;

/**
 * Verifies bearer tokens with what was configured and nothing else: HS256 only when there is a secret
 * (JWT_SECRET), RS256 / ES256 only from the identity provider's JWKS (JWT_JWKS_URL). `sub` must be a users.id
 * and `exp` is required; issuer and audience are checked when configured.
 */
export class TokenVerifier {
  private readonly secret: Uint8Array | undefined;
  private readonly jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  // Signature checks through WebCrypto cost more than the rest of a small request; a client sends the same
  // token with every request, so a verdict is remembered for a few minutes. Whether the user may still act
  // is decided per request by the session (deactivated users are refused at once), not here.
  private readonly verified = new Map<string, { userId: string; issuedAt: number; trustedUntil: number }>();

  constructor(private readonly options: AppConfig['jwt']) {
    this.secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
    this.jwks = options.jwksUrl ? createRemoteJWKSet(new URL(options.jwksUrl)) : undefined;
  }

  async verify(token: string): Promise<TokenVerdict> {
    const now = Date.now();
    const remembered = this.verified.get(token);
    if (remembered && remembered.trustedUntil > now)
      return { ok: true, userId: remembered.userId, issuedAt: remembered.issuedAt };
    const verdict = await this.verifySignatureAndClaims(token);
    if (verdict.ok) {
      if (this.verified.size >= VERIFIED_MAX) this.verified.clear();
      this.verified.set(token, {
        userId: verdict.userId,
        issuedAt: verdict.issuedAt,
        trustedUntil: Math.min(now + VERIFIED_TTL_MS, verdict.expiresAt),
      });
    }
    return verdict.ok ? { ok: true, userId: verdict.userId, issuedAt: verdict.issuedAt } : verdict;
  }

  private async verifySignatureAndClaims(
    token: string,
  ): Promise<{ ok: true; userId: string; issuedAt: number; expiresAt: number } | { ok: false; reason: string }> {
    const checks = {
      issuer: this.options.issuer,
      audience: this.options.audience,
      requiredClaims: ['exp', 'sub'],
    };
    try {
      const algorithm = readAlgorithm(token);
      let payload: JWTPayload;
      if (algorithm === 'HS256' && this.secret) {
        ({ payload } = await jwtVerify(token, this.secret, { ...checks, algorithms: ['HS256'] }));
      } else if (algorithm !== 'HS256' && this.jwks) {
        ({ payload } = await jwtVerify(token, this.jwks, { ...checks, algorithms: ['RS256', 'ES256'] }));
      } else {
        return { ok: false, reason: 'Unsupported token algorithm' };
      }
      // jose checks `iat` only against a maximum age; a token "issued" in the future would outlive its own rules.
      if (payload.iat !== undefined && payload.iat > Date.now() / 1000 + MAX_CLOCK_SKEW_SECONDS)
        return { ok: false, reason: 'Token claim rejected: iat' };
      if (typeof payload.sub !== 'string' || !UUID.test(payload.sub))
        return { ok: false, reason: 'Token subject is not a user id' };
      return {
        ok: true,
        userId: payload.sub.toLowerCase(),
        issuedAt: (payload.iat ?? 0) * 1000,
        expiresAt: (payload.exp ?? 0) * 1000,
      };
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) return { ok: false, reason: 'Token expired' };
      if (error instanceof joseErrors.JWTClaimValidationFailed)
        return { ok: false, reason: `Token claim rejected: ${error.claim}` };
      return { ok: false, reason: 'Invalid token' };
    }
  }
}

function readAlgorithm(token: string): string | undefined {
  const [header] = token.split('.');
  if (!header) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(header, 'base64url').toString('utf8')) as { alg?: unknown };
    return typeof parsed.alg === 'string' ? parsed.alg : undefined;
  } catch {
    return undefined;
  }
}

/** Issues an HS256 token for a user (the operator CLI and tests); a server without a secret issues none. */
export async function signUserToken(
  options: AppConfig['jwt'],
  userId: string,
  expiresIn: string | number = '12h',
): Promise<string> {
  if (!options.secret)
    throw new Error("JWT_SECRET is not set: this server accepts only its identity provider's tokens");
  let jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(userId)
    .setIssuedAt()
    .setExpirationTime(expiresIn);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt.sign(new TextEncoder().encode(options.secret));
}

const HS256_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256' })).toString('base64url');

/**
 * The short-lived access token of a signed-in session: the same HS256 bearer token, valid ACCESS_TOKEN_TTL. Its
 * `iat` keeps milliseconds (JWT's NumericDate may be fractional), so that a token issued right after a
 * sign-out everywhere is told apart from the ones it revoked.
 *
 * Signed here with node:crypto rather than through jose: jose signs with WebCrypto, whose HMAC is a job on
 * libuv's thread pool, where it waits behind the sign-ins' argon2id verifications and costs ten times the
 * HMAC itself. Sign-in and every refresh sign one; the compact JWS of RFC 7515 is all there is to it, and
 * TokenVerifier (jose) checks these tokens like any other.
 */
export function signAccessToken(
  options: AppConfig['jwt'],
  userId: string,
  ttlSeconds: number,
): { token: string; expiresAt: Date } {
  const issuedAt = Date.now() / 1000;
  const expiresAt = Math.floor(issuedAt) + ttlSeconds;
  if (!options.secret)
    throw new Error("JWT_SECRET is not set: this server accepts only its identity provider's tokens");
  const claims = {
    sub: userId,
    iat: issuedAt,
    exp: expiresAt,
    ...(options.issuer ? { iss: options.issuer } : {}),
    ...(options.audience ? { aud: options.audience } : {}),
  };
  const signingInput = `${HS256_HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  const signature = createHmac('sha256', signingKey(options.secret)).update(signingInput).digest('base64url');
  return { token: `${signingInput}.${signature}`, expiresAt: new Date(expiresAt * 1000) };
}

// The secret as a key object, made once per secret rather than once per token.
const signingKeys = new Map<string, KeyObject>();

function signingKey(secret: string): KeyObject {
  let key = signingKeys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, 'utf8'));
    signingKeys.set(secret, key);
  }
  return key;
}

/** `Bearer <token>` from an Authorization header or graphql-ws connectionParams; undefined when absent. */
export function bearerToken(header: unknown): string | undefined {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? (header.trim() === '' ? undefined : '');
}
