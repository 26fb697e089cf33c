import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

// Secrets at rest (integration tokens): AES-256-GCM, sealed as `v1:<key id>:<base64url(iv | tag | ciphertext)>`.
// The key id (the first 4 bytes of SHA-256 of the key, in hex) says which key sealed a value, so the current key
// can change while values sealed with a previous one still open, and are re-sealed at leisure. Each value is
// bound to what it is (its `purpose`, as GCM additional data), so a sealed access token copied into another
// column does not open there.

const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class SecretError extends Error {}

export const keyIdOf = (key: Buffer) => createHash('sha256').update(key).digest('hex').slice(0, 8);

export class SecretBox {
  private readonly current: { id: string; key: Buffer };
  private readonly keys = new Map<string, Buffer>();

  /** `key` seals; `key` and every one of `previousKeys` open. */
  constructor(key: Buffer, previousKeys: Buffer[] = []) {
    for (const candidate of [key, ...previousKeys]) {
      if (candidate.length !== 32) throw new SecretError('An encryption key must be 32 bytes');
      if (!this.keys.has(keyIdOf(candidate))) this.keys.set(keyIdOf(candidate), candidate);
    }
    this.current = { id: keyIdOf(key), key };
  }

  get currentKeyId(): string {
    return this.current.id;
  }

  seal(plaintext: string, purpose: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
    cipher.setAAD(additionalData(purpose, this.current.id));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const sealed = Buffer.concat([iv, cipher.getAuthTag(), ciphertext]).toString('base64url');
    return `${VERSION}:${this.current.id}:${sealed}`;
  }

  open(sealed: string, purpose: string): string {
    const [version, keyId, payload, ...rest] = sealed.split(':');
    if (version !== VERSION || !keyId || payload === undefined || rest.length > 0)
      throw new SecretError('Not a sealed secret');
    const key = this.keys.get(keyId);
    if (!key) throw new SecretError(`Sealed with an unknown key (${keyId}); is ENCRYPTION_PREVIOUS_KEYS complete?`);
    const bytes = Buffer.from(payload, 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new SecretError('Sealed secret is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(additionalData(purpose, keyId));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    try {
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretError('Sealed secret does not authenticate (tampered, or sealed for another purpose)');
    }
  }

  /** Whether a value was sealed with a key other than the current one, i.e. should be re-sealed. */
  isStale(sealed: string): boolean {
    return sealed.split(':', 2)[1] !== this.current.id;
  }

  /** The value sealed with the current key (the same string when it already is). */
  reseal(sealed: string, purpose: string): string {
    return this.isStale(sealed) ? this.seal(this.open(sealed, purpose), purpose) : sealed;
  }
}

const additionalData = (purpose: string, keyId: string) => Buffer.from(`${VERSION}:${keyId}:${purpose}`, 'utf8');
