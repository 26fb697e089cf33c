import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type SignatureVerdict = 'valid' | 'missing' | 'malformed' | 'mismatch';

const HEADER_FORMAT = /^sha256=([0-9a-fA-F]{64})$/;

/**
 * The digest of `X-Hub-Signature-256: sha256=<hex>`, or why there is none: known from the headers alone, so a
 * request without a well-formed signature is refused before its body is read.
 */
export function signatureIn(header: string | string[] | undefined): Buffer | 'missing' | 'malformed' {
  if (header === undefined || header === '') return 'missing';
  const match = typeof header === 'string' ? HEADER_FORMAT.exec(header.trim()) : null;
  return match ? Buffer.from(match[1]!, 'hex') : 'malformed';
}

/**
 * Checks a signature (`signatureIn`) against HMAC-SHA256(app secret, body) over the body's raw bytes (Meta
 * escapes non-ASCII as \uXXXX, so anything re-serialised would not match), in constant time.
 */
export function verifySignature(appSecret: string, rawBody: Buffer, digest: Buffer): 'valid' | 'mismatch' {
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  return timingSafeEqual(expected, digest) ? 'valid' : 'mismatch';
}

/** Compares two secrets in constant time whatever their lengths (both are hashed to 32 bytes first). */
export function secretsEqual(given: string, expected: string): boolean {
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(given), digest(expected));
}
