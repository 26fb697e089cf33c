import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureVerdict = 'valid' | 'missing' | 'malformed' | 'mismatch';

const HEADER_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * Checks `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, body)>` over the body's raw bytes (Meta
 * escapes non-ASCII as \uXXXX, so anything re-serialised would not match), in constant time.
 */
export function verifySignature(
  appSecret: string,
  rawBody: Buffer,
  header: string | string[] | undefined,
): SignatureVerdict {
  if (header === undefined || header === '') return 'missing';
  const match = typeof header === 'string' ? HEADER_FORMAT.exec(header.trim()) : null;
  if (!match) return 'malformed';
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(expected, Buffer.from(match[1]!, 'hex')) ? 'valid' : 'mismatch';
}

/** Compares two secrets in constant time whatever their lengths (both are hashed to 32 bytes first). */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
