import type { Readable } from 'node:stream';

/** A byte range of a stored object, both ends included (as HTTP's Range header counts them). */
export interface ByteRange {
  start: number;
  end: number;
}

/** Where attachments' bytes live: a local directory or an S3-compatible store (see create-storage.ts). */
export interface MediaStorage {
  /** Stores `size` bytes read from `body` under `key`. Fails, storing nothing, when the body fails. */
  put(key: string, body: Readable, info: { size: number; contentType: string }): Promise<void>;
  /** The object's bytes (a range of them when asked), or undefined when there is no such object. */
  get(key: string, range?: ByteRange): Promise<Readable | undefined>;
  /**
   * A URL clients may fetch the object from directly for a while, answered with these headers (a presigned GET),
   * or undefined when downloads go through the server (the local driver; s3 unless S3_PRESIGNED_DOWNLOADS).
   */
  directUrl(
    key: string,
    response: { contentType: string; contentDisposition: string },
    expiresInSeconds: number,
  ): Promise<string | undefined>;
  /** Removes the object; removing one that is not there is not an error. */
  delete(key: string): Promise<void>;
  /** Checks that the store answers (readiness, and whether pending work may go on). */
  ping(): Promise<void>;
}

/**
 * The store did not answer, or failed in a way a retry may fix. Its code is one `isServiceUnavailable` knows, so
 * requests get SERVICE_UNAVAILABLE / 503, never a 500, and background work retries later.
 */
export class StorageUnavailableError extends Error {
  readonly code = 'STORAGE_UNAVAILABLE';
  constructor(operation: string, cause: unknown) {
    super(`media storage unavailable (${operation}): ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
    this.name = 'StorageUnavailableError';
  }
}
