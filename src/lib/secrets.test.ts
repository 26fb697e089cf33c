import { randomBytes } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { keyIdOf, SecretBox, SecretError } from './secrets.js';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);

describe('SecretBox', () => {
  it('seals with the key id inside the value and opens it again', () => {
    const box = new SecretBox(newKey);
    const sealed = box.seal('EAAG-token-ü', 'access_token');
    expect(sealed).toMatch(new RegExp(`^v1:${keyIdOf(newKey)}:[A-Za-z0-9_-]+$`));
    expect(sealed).not.toContain('EAAG');
    expect(box.open(sealed, 'access_token')).toBe('EAAG-token-ü');
  });

  it('uses a fresh nonce each time', () => {
    const box = new SecretBox(newKey);
    expect(box.seal('same', 'p')).not.toBe(box.seal('same', 'p'));
  });

  it('opens values sealed with a previous key, and re-seals them with the current one', () => {
    const sealedOld = new SecretBox(oldKey).seal('app-secret', 'app_secret');
    const rotated = new SecretBox(newKey, [oldKey]);
    expect(rotated.isStale(sealedOld)).toBe(true);
    expect(rotated.open(sealedOld, 'app_secret')).toBe('app-secret');
    const resealed = rotated.reseal(sealedOld, 'app_secret');
    expect(resealed.split(':')[1]).toBe(rotated.currentKeyId);
    expect(rotated.isStale(resealed)).toBe(false);
    expect(rotated.reseal(resealed, 'app_secret')).toBe(resealed);
    // Once the old key is retired, only the re-sealed value opens.
    const retired = new SecretBox(newKey);
    expect(retired.open(resealed, 'app_secret')).toBe('app-secret');
    expect(() => retired.open(sealedOld, 'app_secret')).toThrow(/unknown key/);
  });

  it('refuses a value moved to another purpose, tampered with, or not sealed at all', () => {
    const box = new SecretBox(newKey);
    const sealed = box.seal('verify-me', 'verify_token');
    expect(() => box.open(sealed, 'access_token')).toThrow(SecretError);
    const [version, keyId, payload] = sealed.split(':') as [string, string, string];
    const bytes = Buffer.from(payload, 'base64url');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => box.open(`${version}:${keyId}:${bytes.toString('base64url')}`, 'verify_token')).toThrow(SecretError);
    expect(() => box.open('plaintext-token', 'verify_token')).toThrow(/Not a sealed secret/);
    expect(() => box.open(`v1:${keyId}:AAAA`, 'verify_token')).toThrow(/truncated/);
  });

  it('refuses keys of the wrong size', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(SecretError);
  });
});
