import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a link lets its holder do: PUT an upload's bytes, or GET a stored attachment. */
export type LinkPurpose = 'upload' | 'download';

const PATHS: Record<LinkPurpose, string> = { upload: '/uploads/', download: '/media/' };

/**
 * Signed, expiring links to the media routes, which need no Authorization header (an `<img src>` cannot send
 * one): the link itself is the permission, issued only to whoever may use it. HMAC-SHA256 over the purpose, the
 * upload's id and the expiry, with a key derived from ENCRYPTION_KEY, so every instance checks every other's links.
 */
export class MediaLinks {
  private readonly key: Buffer;

  constructor(
    encryptionKey: Buffer,
    private readonly publicUrl: string,
    private readonly ttlSeconds: number,
  ) {
    this.key = createHmac('sha256', encryptionKey).update('media links').digest();
  }

  /** The link to PUT an upload's bytes to, valid until `expiresAt`. */
  uploadUrl(uploadId: string, expiresAt: Date): string {
    return this.sign('upload', uploadId, Math.floor(expiresAt.getTime() / 1000));
  }

  /**
   * The link to an attachment. Its expiry is rounded to a quarter of the TTL, so the same attachment keeps the same
   * link for a while and browsers reuse what they cached; it always has at least three quarters of the TTL left.
   */
  downloadUrl(uploadId: string, now = Date.now()): string {
    const step = Math.max(1, Math.floor(this.ttlSeconds / 4));
    const expires = Math.floor(now / 1000 / step) * step + this.ttlSeconds;
    return this.sign('download', uploadId, expires);
  }

  /** Whether the query string of a request on a media route is a valid, unexpired link for this upload. */
  check(
    purpose: LinkPurpose,
    uploadId: string,
    query: URLSearchParams,
    now = Date.now(),
  ): 'valid' | 'expired' | 'invalid' {
    const expires = Number(query.get('expires'));
    const signature = Buffer.from(query.get('signature') ?? '', 'base64url');
    const expected = this.signature(purpose, uploadId, expires);
    if (!Number.isSafeInteger(expires) || signature.length !== expected.length || !timingSafeEqual(signature, expected))
      return 'invalid';
    return expires * 1000 <= now ? 'expired' : 'valid';
  }

  private sign(purpose: LinkPurpose, uploadId: string, expires: number): string {
    const signature = this.signature(purpose, uploadId, expires).toString('base64url');
    return `${this.publicUrl}${PATHS[purpose]}${uploadId}?expires=${expires}&signature=${signature}`;
  }

  private signature(purpose: LinkPurpose, uploadId: string, expires: number): Buffer {
    return createHmac('sha256', this.key).update(`${purpose}\n${uploadId}\n${expires}`).digest();
  }
}
