import { describe, expect, it } from '@jest/globals';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { signAccessToken, signUserToken, TokenVerifier } from './tokens.js';

const options = {
  secret: 'unit-secret-unit-secret-unit-secret-0123',
  jwksUrl: undefined,
  issuer: undefined,
  audience: undefined,
};
const userId = '0b6f4a52-5d0e-4c6f-9a7e-2f1d3c4b5a69';

describe('TokenVerifier', () => {
  it('accepts a token again without re-verifying, but never past its expiry', async () => {
    const verifier = new TokenVerifier(options);
    // At least a whole second of validity: `+ 1` alone may leave a millisecond, which a busy machine overruns.
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({ sub: userId, exp })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(options.secret));
    expect(await verifier.verify(token)).toEqual({ ok: true, userId, issuedAt: 0 });
    expect(await verifier.verify(token)).toEqual({ ok: true, userId, issuedAt: 0 });
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 50));
    expect(await verifier.verify(token)).toEqual({ ok: false, reason: 'Token expired' });
  });

  it('remembers nothing about refused tokens', async () => {
    const verifier = new TokenVerifier(options);
    const good = await signUserToken(options, userId);
    const forged = `${good.slice(0, -4)}AAAA`;
    expect((await verifier.verify(forged)).ok).toBe(false);
    expect((await verifier.verify(forged)).ok).toBe(false);
    expect((await verifier.verify(good)).ok).toBe(true);
  });
});

describe('signAccessToken', () => {
  const strict = { ...options, issuer: 'https://chat.example', audience: 'chat-clients' };

  it('issues an HS256 token that jose verifies, with the issuer, audience and a millisecond iat', async () => {
    const before = Date.now();
    const { token, expiresAt } = signAccessToken(strict, userId, 900);
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256' });
    const claims = decodeJwt(token);
    expect(claims).toMatchObject({ sub: userId, iss: strict.issuer, aud: strict.audience });
    expect(claims.iat! * 1000).toBeGreaterThanOrEqual(before);
    expect(claims.exp).toBe(expiresAt.getTime() / 1000);
    const verdict = await new TokenVerifier(strict).verify(token);
    expect(verdict).toEqual({ ok: true, userId, issuedAt: claims.iat! * 1000 });
  });

  it('issues tokens that a verifier with another secret, issuer or audience refuses', async () => {
    const { token } = signAccessToken(strict, userId, 900);
    const otherSecret = { ...strict, secret: 'another-secret-another-secret-0123456789' };
    expect((await new TokenVerifier(otherSecret).verify(token)).ok).toBe(false);
    expect((await new TokenVerifier({ ...strict, issuer: 'https://elsewhere' }).verify(token)).ok).toBe(false);
    expect((await new TokenVerifier({ ...strict, audience: 'others' }).verify(token)).ok).toBe(false);
  });
});
