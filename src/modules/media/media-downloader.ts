import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { MediaConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { PlatformIntegration } from '../../generated/prisma/client.js';
import { retryDelay } from '../../lib/retry-delay.js';
import { WorkerLoop } from '../../lib/worker-loop.js';
import type { Logger } from '../../logger.js';
import { MediaInspector } from './media-inspection.js';
import { hostAllowed } from './platform-media.js';
import { StorageUnavailableError, type MediaStorage } from './storage/media-storage.js';

/** Downloads taken per batch; each runs to its end before the next batch. */
const BATCH = 8;
/** Redirects followed, each to an allowed host. */
const MAX_REDIRECTS = 3;

interface DueDownload {
  id: string;
  organizationId: string;
  messageId: string;
  platformIntegrationId: string;
  sourceMediaId: string | null;
  sourceUrl: string | null;
  declaredMimeType: string;
  fileName: string | null;
  attempts: number;
}

/** A download that did not succeed: `retry` when trying later may help. */
class DownloadFailed extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
    this.name = 'DownloadFailed';
  }
}

export interface MediaDownloaderDeps {
  db: Database;
  storage: MediaStorage;
  /** The integration's access token, opened from its sealed column. */
  accessTokenOf: (integration: Pick<PlatformIntegration, 'accessToken'>) => string;
  /** Records that a message's attachment changed (READY or FAILED): an UPDATED event in the organization's order. */
  announce: (organizationId: string, messageId: string) => Promise<void>;
  graphApiUrl: string;
  timeoutMs: number;
  media: Pick<MediaConfig, 'maxBytes' | 'downloads'>;
  logger: Logger;
}

/**
 * Brings the media customers send into storage: a WhatsApp media id through `GET /{media-id}` (with the
 * integration's token) and then its URL (the token again), an Instagram attachment from its CDN URL. Only hosts in
 * MEDIA_DOWNLOAD_HOSTS are fetched, redirects included. The size is checked while the bytes stream and Meta's
 * sha256 once they are in. Failures are retried with backoff, then the attachment is FAILED with the reason; the
 * message itself is never lost. A storage outage does not count as an attempt: the media waits, PENDING.
 * The work lives in the `uploads` table, so a restart (or another instance) resumes it.
 */
export class MediaDownloader {
  private readonly loop: WorkerLoop;

  constructor(private readonly deps: MediaDownloaderDeps) {
    this.loop = new WorkerLoop({
      name: 'media-downloads',
      runOnce: () => this.runOnce(),
      pollIntervalMs: deps.media.downloads.pollIntervalMs,
      logger: deps.logger,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** New media was stored: download it now rather than at the next poll. */
  wake(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Takes a batch of due downloads and does them; true when there may be more. */
  async runOnce(): Promise<boolean> {
    const due = await this.claim();
    await Promise.all(due.map((download) => this.attempt(download)));
    return due.length === BATCH;
  }

  /**
   * Due downloads, leased to this instance: each attempt counted now and its next one pushed past the longest an
   * attempt may take, so a crash mid-download leaves it to be retried, and no two instances fetch one at once.
   */
  private async claim(): Promise<DueDownload[]> {
    const leaseMs = this.deps.timeoutMs * 3 + 60_000;
    return this.deps.db.prisma.$queryRaw<DueDownload[]>`
      UPDATE uploads u SET attempts = u.attempts + 1,
        next_attempt_at = now() + make_interval(secs => ${leaseMs / 1000}), updated_at = now()
      WHERE u.id IN (
        SELECT id FROM uploads
        WHERE status = 'pending' AND platform_integration_id IS NOT NULL AND next_attempt_at <= now()
        ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
      RETURNING u.id, u.organization_id AS "organizationId", u.message_id AS "messageId",
        u.platform_integration_id AS "platformIntegrationId", u.source_media_id AS "sourceMediaId",
        u.source_url AS "sourceUrl", u.declared_mime_type AS "declaredMimeType", u.file_name AS "fileName",
        u.attempts`;
  }

  private async attempt(download: DueDownload): Promise<void> {
    const { db, logger } = this.deps;
    try {
      await this.fetchAndStore(download);
      await this.deps.announce(download.organizationId, download.messageId);
    } catch (error) {
      if (error instanceof StorageUnavailableError) {
        // Not the media's fault: try again later without spending an attempt.
        await db.prisma.upload.update({
          where: { id: download.id },
          data: {
            attempts: { decrement: 1 },
            failureReason: 'storage unavailable; waiting for it',
            nextAttemptAt: new Date(Date.now() + retryDelay(this.deps.media.downloads.retryBaseMs, download.attempts)),
          },
        });
        logger.warn({ uploadId: download.id, err: error }, 'media download waits for storage');
        return;
      }
      const reason = error instanceof DownloadFailed ? error.message : `download failed: ${(error as Error).message}`;
      const retry = !(error instanceof DownloadFailed) || error.retry;
      const giveUp = !retry || download.attempts >= this.deps.media.downloads.maxAttempts;
      await db.prisma.upload.updateMany({
        where: { id: download.id, status: 'PENDING' },
        data: giveUp
          ? { status: 'FAILED', failureReason: reason, nextAttemptAt: null }
          : {
              failureReason: reason,
              nextAttemptAt: new Date(
                Date.now() + retryDelay(this.deps.media.downloads.retryBaseMs, download.attempts),
              ),
            },
      });
      logger.warn({ uploadId: download.id, messageId: download.messageId, reason, giveUp }, 'media download failed');
      if (giveUp) await this.deps.announce(download.organizationId, download.messageId);
    }
  }

  private async fetchAndStore(download: DueDownload): Promise<void> {
    const { db, storage } = this.deps;
    const integration = await db.prisma.platformIntegration.findUnique({
      where: { id: download.platformIntegrationId },
      select: { accessToken: true },
    });
    if (!integration) throw new DownloadFailed('the integration is gone', false);
    const token = this.deps.accessTokenOf(integration);

    const source = download.sourceMediaId
      ? await this.describeWhatsAppMedia(download.sourceMediaId, token)
      : { url: download.sourceUrl!, bearer: undefined, size: undefined, sha256: undefined, mimeType: undefined };
    const response = await this.get(source.url, source.bearer);
    const length = Number(response.headers.get('content-length'));
    const size = source.size ?? (Number.isSafeInteger(length) && length > 0 ? length : undefined);
    if (size === undefined) throw new DownloadFailed('Meta did not say how large the media is', true);
    if (size > this.deps.media.maxBytes)
      throw new DownloadFailed(`the media is ${size} bytes, over MEDIA_MAX_BYTES (${this.deps.media.maxBytes})`, false);

    const key = `${download.organizationId}/${download.id}/${randomUUID()}`;
    const inspector = new MediaInspector(size);
    const body = Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
    await Promise.all([
      pipeline(body, inspector).catch(() => {
        // The failure reaches storage.put through the inspector, which rethrows it.
      }),
      storage.put(key, inspector, { size, contentType: 'application/octet-stream' }).catch((error: unknown) => {
        body.destroy();
        throw error instanceof StorageUnavailableError
          ? error
          : new DownloadFailed(`the download broke off: ${(error as Error).message}`, true);
      }),
    ]);
    const media = await inspector.inspect(source.mimeType ?? download.declaredMimeType);
    if (source.sha256 && source.sha256.toLowerCase() !== media.sha256) {
      await storage.delete(key);
      throw new DownloadFailed("the bytes do not match Meta's sha256", true);
    }
    const stored = await db.prisma.upload.updateMany({
      where: { id: download.id, status: 'PENDING' },
      data: {
        status: 'READY',
        storageKey: key,
        failureReason: null,
        nextAttemptAt: null,
        ...media,
        fileName: download.fileName ?? fileNameFor(media.mimeType),
      },
    });
    // Another instance got there first after this one's lease ran out: its copy stands.
    if (stored.count === 0) await storage.delete(key);
  }

  /** WhatsApp's `GET /{media-id}`: the short-lived URL of the bytes, their size, type and sha256. */
  private async describeWhatsAppMedia(mediaId: string, token: string) {
    const response = await this.get(`${this.deps.graphApiUrl}/${encodeURIComponent(mediaId)}`, token, true);
    const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
    if (typeof body.url !== 'string') throw new DownloadFailed('the Graph API gave no media URL', true);
    return {
      url: body.url,
      bearer: token,
      size: typeof body.file_size === 'number' ? body.file_size : undefined,
      sha256: typeof body.sha256 === 'string' ? body.sha256 : undefined,
      mimeType: typeof body.mime_type === 'string' ? body.mime_type : undefined,
    };
  }

  /**
   * A GET to an allowed host (the Graph API itself is the operator's setting), following redirects only to allowed
   * hosts; the token goes only to the host it was asked for. Meta's errors become failures with Meta's reason.
   */
  private async get(url: string, bearer: string | undefined, trusted = false): Promise<Response> {
    let target = new URL(url);
    for (let redirects = 0; ; redirects++) {
      if (!trusted && !hostAllowed(target, this.deps.media.downloads.hosts))
        throw new DownloadFailed(`${target.hostname} is not in MEDIA_DOWNLOAD_HOSTS`, false);
      let response: Response;
      try {
        response = await fetch(target, {
          headers: bearer ? { authorization: `Bearer ${bearer}` } : {},
          redirect: 'manual',
          signal: AbortSignal.timeout(this.deps.timeoutMs),
        });
      } catch (error) {
        const reason = (error as Error).name === 'TimeoutError' ? 'timed out' : 'unreachable';
        throw new DownloadFailed(`${target.hostname} ${reason}`, true);
      }
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        await response.body?.cancel();
        if (redirects >= MAX_REDIRECTS) throw new DownloadFailed('too many redirects', false);
        const next = new URL(location, target);
        if (next.host !== target.host) bearer = undefined;
        target = next;
        trusted = false;
        continue;
      }
      if (response.ok && response.body) return response;
      throw await failureOf(response);
    }
  }
}

/** A name for media Meta sent without one (images, audio): its kind and an extension from its type. */
function fileNameFor(mimeType: string): string {
  const [kind, subtype] = mimeType.split(';', 1)[0]!.trim().split('/');
  const extension = subtype?.split('+', 1)[0]?.replace(/^x-/, '') ?? 'bin';
  return `${kind === 'application' ? 'file' : kind}.${extension === 'jpeg' ? 'jpg' : extension}`;
}

/** Meta's answer to a request that failed, as a failure with its reason: server errors and 429 are retried. */
async function failureOf(response: Response): Promise<DownloadFailed> {
  const text = await response.text().catch(() => '');
  let reason = `HTTP ${response.status}`;
  try {
    const error = (JSON.parse(text) as { error?: { message?: unknown; code?: unknown } }).error;
    if (error && typeof error.message === 'string') reason += `: ${error.code ?? ''} ${error.message}`.trimEnd();
  } catch {
    // Not Meta's JSON: the status says enough.
  }
  return new DownloadFailed(reason, response.status >= 500 || response.status === 429);
}
