import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Logger } from '../../../logger.js';
import { type ByteRange, type MediaStorage, StorageUnavailableError } from './media-storage.js';

export interface S3StorageOptions {
  endpoint: string | undefined;
  bucket: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
  forcePathStyle: boolean;
  presignedDownloads: boolean;
}

/** Objects in a bucket of any S3-compatible store (AWS S3, MinIO, Ceph, R2...), through AWS's own client. */
export class S3Storage implements MediaStorage {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly presignedDownloads: boolean;

  constructor(options: S3StorageOptions, logger: Logger) {
    this.bucket = options.bucket;
    this.presignedDownloads = options.presignedDownloads;
    this.client = new S3Client({
      endpoint: options.endpoint,
      region: options.region,
      credentials: options.credentials,
      forcePathStyle: options.forcePathStyle,
      // A stalled store must not hold requests forever; the SDK retries transient failures itself.
      requestHandler: { connectionTimeout: 5_000, requestTimeout: 60_000 },
      maxAttempts: 3,
      // The SDK's own warnings in our log; its per-request info lines (inputs included) not at all.
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (...content: unknown[]) => logger.warn({ component: 's3', content }, 'S3 client warning'),
        error: (...content: unknown[]) => logger.error({ component: 's3', content }, 'S3 client error'),
      },
      // Checksums only where S3 requires them: the SDK's default wraps bodies in aws-chunked encoding with
      // trailing checksums, which S3-compatible stores (MinIO versions, Ceph, s3rver...) do not all read.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  }

  async put(key: string, body: Readable, info: { size: number; contentType: string }): Promise<void> {
    // A body that fails midway (too large, cut off) aborts the request at once, and the store keeps nothing;
    // otherwise the store would wait for the bytes promised by Content-Length.
    const abort = new AbortController();
    const abortOnError = () => abort.abort();
    body.once('error', abortOnError);
    try {
      // With its length given, the SDK streams the body in one PUT instead of buffering it to measure it.
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: info.size,
          ContentType: info.contentType,
        }),
        { abortSignal: abort.signal },
      );
    } catch (error) {
      // A body that failed on our side (too large, cut off) is that failure, not the store's.
      throw body.errored ?? new StorageUnavailableError('put', error);
    } finally {
      body.off('error', abortOnError);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Readable | undefined> {
    try {
      const output = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      return output.Body as Readable;
    } catch (error) {
      if (error instanceof S3ServiceException && error.$metadata.httpStatusCode === 404) return undefined;
      throw new StorageUnavailableError('get', error);
    }
  }

  async directUrl(
    key: string,
    response: { contentType: string; contentDisposition: string },
    expiresInSeconds: number,
  ): Promise<string | undefined> {
    if (!this.presignedDownloads) return undefined;
    // Signed locally: no request to the store. The store answers with our type and disposition.
    return getSignedUrl(
      this.client,
      new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        ResponseContentType: response.contentType,
        ResponseContentDisposition: response.contentDisposition,
      }),
      { expiresIn: expiresInSeconds },
    );
  }

  async delete(key: string): Promise<void> {
    await this.call('delete', () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.client.send(new HeadBucketCommand({ Bucket: this.bucket })));
  }

  close(): void {
    this.client.destroy();
  }

  private async call(operation: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (error) {
      throw new StorageUnavailableError(operation, error);
    }
  }
}
