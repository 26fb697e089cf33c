import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { fileTypeFromBuffer, supportedMimeTypes } from 'file-type';
import { imageSize } from 'image-size';

/** Enough of a file's start for its signature and, for images, the header that holds the dimensions. */
const PREFIX_BYTES = 256 * 1024;

/** Bytes refused while they stream in: more than declared or allowed (413), or fewer than declared (400). */
export class UploadRefused extends Error {
  constructor(
    readonly status: 400 | 404 | 409 | 413,
    message: string,
  ) {
    super(message);
    this.name = 'UploadRefused';
  }
}

/** What the bytes turned out to be. */
export interface InspectedMedia {
  /** Sniffed from the bytes; the declared type only when the bytes have no signature to tell (text, say). */
  mimeType: string;
  size: number;
  sha256: string;
  width: number | null;
  height: number | null;
}

/**
 * Passes bytes through, counting them (failing the stream the moment there are more than `expectedSize`, so
 * nothing larger is ever stored), hashing them, and keeping their first 256 KiB to tell what they are: the whole
 * upload is never held in memory.
 */
export class MediaInspector extends Transform {
  private readonly hash = createHash('sha256');
  private readonly prefix: Buffer[] = [];
  private prefixLength = 0;
  private received = 0;

  constructor(private readonly expectedSize: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.received += chunk.length;
    if (this.received > this.expectedSize) {
      callback(new UploadRefused(413, `the body is larger than the ${this.expectedSize} bytes declared`));
      return;
    }
    this.hash.update(chunk);
    if (this.prefixLength < PREFIX_BYTES) {
      const kept = chunk.subarray(0, PREFIX_BYTES - this.prefixLength);
      this.prefix.push(kept);
      this.prefixLength += kept.length;
    }
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.received < this.expectedSize)
      callback(
        new UploadRefused(400, `the body ended after ${this.received} of the ${this.expectedSize} bytes declared`),
      );
    else callback();
  }

  /** What passed through; call once the stream has finished. */
  async inspect(declaredMimeType: string): Promise<InspectedMedia> {
    const start = Buffer.concat(this.prefix);
    const mimeType = await sniffMimeType(start, declaredMimeType);
    const dimensions = mimeType.startsWith('image/') ? dimensionsOf(start) : undefined;
    return {
      mimeType,
      size: this.received,
      sha256: this.hash.digest('hex'),
      width: dimensions?.width ?? null,
      height: dimensions?.height ?? null,
    };
  }
}

/**
 * The type the bytes say they are. Without a recognisable signature, the declared type stands only if it is one
 * with no signature to check (text/plain, text/csv...): a declared image/png whose bytes are not PNG is stored as
 * what it is, opaque bytes.
 */
export async function sniffMimeType(start: Buffer, declaredMimeType: string): Promise<string> {
  const sniffed = await fileTypeFromBuffer(start);
  if (sniffed) return sniffed.mime;
  const declared = declaredMimeType.toLowerCase();
  return supportedMimeTypes.has(declared as never) ? 'application/octet-stream' : declared;
}

function dimensionsOf(start: Buffer): { width: number; height: number } | undefined {
  try {
    const { width, height } = imageSize(start);
    return width && height ? { width, height } : undefined;
  } catch {
    // A header beyond the first 256 KiB, or a format image-size does not read: the image has no dimensions.
    return undefined;
  }
}
