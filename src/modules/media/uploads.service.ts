import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Viewer } from '../../auth/session.js';
import type { MediaConfig } from '../../config.js';
import type { Database } from '../../db/database.js';
import type { Upload } from '../../generated/prisma/client.js';
import { badInput } from '../../lib/errors.js';
import type { Logger } from '../../logger.js';
import type { MediaLinks } from './media-links.js';
import { MediaInspector, UploadRefused } from './media-inspection.js';
import { platformMediaOf } from './platform-media.js';
import type { ByteRange, MediaStorage } from './storage/media-storage.js';

/** A stored message, as far as its platform media goes. */
export interface MessageWithMedia {
  id: string;
  organizationId: string;
  messageSource: string;
  messageType: string;
  metadata: unknown;
  platformIntegrationId: string | null;
}

/** What `createUpload` answers: where to PUT the bytes, with which headers, until when. */
export interface UploadTicket {
  id: string;
  uploadUrl: string;
  uploadHeaders: Record<string, string>;
  expiresAt: Date;
}

/** An upload ready to be used by a message: what the message's metadata records of it. */
export interface ClaimedUpload {
  uploadId: string;
  mimeType: string;
  size: number;
  fileName: string;
  width?: number;
  height?: number;
}

/** A stored attachment's bytes as the download route serves them. */
export interface StoredMedia {
  upload: Upload & { storageKey: string; mimeType: string; size: number };
  open(range?: ByteRange): Promise<Readable | undefined>;
  /** Where clients may fetch it from directly (a presigned GET), when the store serves them. */
  directUrl(
    response: { contentType: string; contentDisposition: string },
    expiresInSeconds: number,
  ): Promise<string | undefined>;
}

/** Unused uploads removed per sweep statement. */
const SWEEP_BATCH = 100;

/**
 * Attachments' bytes: staff uploads (create → PUT the bytes → used once by a message), their storage and their
 * removal. An upload belongs to its uploader and organization; it expires unused after MEDIA_URL_TTL.
 */
export class UploadService {
  constructor(
    private readonly deps: {
      db: Database;
      storage: MediaStorage;
      links: MediaLinks;
      config: Pick<MediaConfig, 'maxBytes' | 'urlTtlSeconds'>;
      logger: Logger;
    },
  ) {}

  async create(viewer: Viewer, input: { fileName: string; mimeType: string; size: number }): Promise<UploadTicket> {
    const { db, links, config } = this.deps;
    if (input.size > config.maxBytes)
      throw badInput('input.size', `must be at most ${config.maxBytes} bytes (MEDIA_MAX_BYTES)`);
    const upload = await db.prisma.upload.create({
      data: {
        organizationId: viewer.organizationId,
        uploadedBy: viewer.id,
        fileName: input.fileName,
        declaredMimeType: input.mimeType,
        declaredSize: input.size,
        expiresAt: new Date(Date.now() + config.urlTtlSeconds * 1000),
      },
    });
    return {
      id: upload.id,
      uploadUrl: links.uploadUrl(upload.id, upload.expiresAt),
      uploadHeaders: { 'content-type': input.mimeType },
      expiresAt: upload.expiresAt,
    };
  }

  /**
   * Streams an upload's bytes into storage (never holding them whole), refusing them (UploadRefused) the moment
   * there are more than declared, or when fewer arrive; then records what they are. Each attempt writes an object
   * of its own, so two concurrent PUTs of one upload cannot mix: the first to finish is kept.
   */
  async receive(uploadId: string, body: Readable, contentLength?: number): Promise<Upload> {
    const { db, storage } = this.deps;
    const upload = await db.prisma.upload.findUnique({ where: { id: uploadId } });
    // Platform media has no uploader and is never PUT.
    const declaredSize = upload?.uploadedBy ? upload.declaredSize : null;
    if (!upload || declaredSize === null) throw new UploadRefused(404, 'no such upload');
    if (upload.status !== 'PENDING') throw new UploadRefused(409, 'the bytes of this upload were already received');
    if (contentLength !== undefined && contentLength > declaredSize)
      throw new UploadRefused(413, `the body is larger than the ${declaredSize} bytes declared`);
    const key = `${upload.organizationId}/${upload.id}/${randomUUID()}`;
    const inspector = new MediaInspector(declaredSize);
    await Promise.all([
      pipeline(body, inspector).catch(() => {
        // The failure reaches storage.put through the inspector, which rethrows it.
      }),
      storage
        .put(key, inspector, { size: declaredSize, contentType: 'application/octet-stream' })
        .catch((error: unknown) => {
          // The store gave up: stop reading the request too.
          inspector.destroy();
          throw error;
        }),
    ]);
    const media = await inspector.inspect(upload.declaredMimeType);
    const stored = await db.prisma.upload.updateMany({
      where: { id: upload.id, status: 'PENDING' },
      data: { status: 'READY', storageKey: key, ...media },
    });
    if (stored.count === 0) {
      await storage.delete(key);
      throw new UploadRefused(409, 'the bytes of this upload were already received');
    }
    return db.prisma.upload.findUniqueOrThrow({ where: { id: upload.id } });
  }

  /**
   * Takes the viewer's upload for a message being sent (`field` names the argument in errors): it must be theirs,
   * stored, unexpired and unused. Taking it is one conditional UPDATE, so two messages can never share it.
   */
  async claim(viewer: Viewer, uploadId: string, field: string): Promise<ClaimedUpload> {
    const { db } = this.deps;
    const [claimed] = await db.prisma.$queryRaw<
      Pick<Upload, 'id' | 'mimeType' | 'size' | 'fileName' | 'width' | 'height'>[]
    >`
      UPDATE uploads SET used_at = now(), updated_at = now()
      WHERE id = ${uploadId}::uuid AND organization_id = ${viewer.organizationId}::uuid
        AND uploaded_by = ${viewer.id}::uuid AND status = 'ready' AND used_at IS NULL AND expires_at > now()
      RETURNING id, mime_type AS "mimeType", size, file_name AS "fileName", width, height`;
    if (claimed) {
      return {
        uploadId: claimed.id,
        mimeType: claimed.mimeType!,
        size: claimed.size!,
        // A staff upload always has its name (createUpload requires one).
        fileName: claimed.fileName!,
        ...(claimed.width && claimed.height ? { width: claimed.width, height: claimed.height } : {}),
      };
    }
    const own = await db.prisma.upload.findFirst({
      where: { id: uploadId, organizationId: viewer.organizationId, uploadedBy: viewer.id },
    });
    if (!own) throw badInput(field, 'no such upload');
    if (own.usedAt) throw badInput(field, 'the upload was already used by a message');
    if (own.expiresAt <= new Date()) throw badInput(field, 'the upload expired unused');
    throw badInput(field, 'the bytes of the upload have not been received yet');
  }

  /** Links a claimed upload to the message that used it. */
  async attach(uploadId: string, messageId: string): Promise<void> {
    await this.deps.db.prisma.upload.update({ where: { id: uploadId }, data: { messageId } });
  }

  /** Gives a claimed upload back when its message could not be stored. */
  async release(uploadId: string): Promise<void> {
    await this.deps.db.prisma.upload.update({ where: { id: uploadId }, data: { usedAt: null } });
  }

  /** The attachments of the organization's messages (a page of them), in the order asked. */
  async byMessageIds(organizationId: string, messageIds: readonly string[]): Promise<(Upload | null)[]> {
    const rows = await this.deps.db.prisma.upload.findMany({
      where: { messageId: { in: [...messageIds] }, organizationId },
    });
    const byMessage = new Map(rows.map((row) => [row.messageId, row]));
    return messageIds.map((id) => byMessage.get(id) ?? null);
  }

  /**
   * Queues the download of the media in platform messages just stored (PENDING until it is in storage). Called
   * again for a redelivered message, it changes nothing; how many downloads were queued.
   */
  async expectPlatformMedia(messages: readonly MessageWithMedia[]): Promise<number> {
    const expected = messages.flatMap((message) => {
      const source = platformMediaOf(message);
      if (!source) return [];
      const metadata = (message.metadata ?? {}) as Record<string, unknown>;
      return [
        {
          organizationId: message.organizationId,
          messageId: message.id,
          platformIntegrationId: message.platformIntegrationId!,
          sourceMediaId: source.mediaId ?? null,
          sourceUrl: source.url ?? null,
          // Documents come with their name; the rest is named from the bytes' type once they are in.
          fileName: typeof metadata.filename === 'string' ? metadata.filename : null,
          declaredMimeType: typeof metadata.mimeType === 'string' ? metadata.mimeType : 'application/octet-stream',
          expiresAt: new Date(),
          nextAttemptAt: new Date(),
        },
      ];
    });
    if (expected.length === 0) return 0;
    const { count } = await this.deps.db.prisma.upload.createMany({ data: expected, skipDuplicates: true });
    return count;
  }

  /** The link an attachment is downloaded from; only for stored bytes. */
  downloadUrl(upload: Upload): string | null {
    return upload.status === 'READY' ? this.deps.links.downloadUrl(upload.id) : null;
  }

  /** The stored bytes of an upload, or undefined (unknown, or not stored). Only signed links lead here. */
  async stored(uploadId: string): Promise<StoredMedia | undefined> {
    const upload = await this.deps.db.prisma.upload.findUnique({ where: { id: uploadId } });
    if (!upload || upload.status !== 'READY' || !upload.storageKey || !upload.mimeType || upload.size === null)
      return undefined;
    const { storageKey } = upload;
    return {
      upload: { ...upload, storageKey, mimeType: upload.mimeType, size: upload.size },
      open: (range) => this.deps.storage.get(storageKey, range),
      directUrl: (response, expiresInSeconds) => this.deps.storage.directUrl(storageKey, response, expiresInSeconds),
    };
  }

  /**
   * Removes a deleted message's stored bytes, then their row. The message is deleted already: a storage failure
   * is logged and left to the sweep, which removes what deleted messages left behind.
   */
  async removeForMessage(organizationId: string, messageId: string): Promise<void> {
    try {
      await this.remove(await this.deps.db.prisma.upload.findMany({ where: { organizationId, messageId } }));
    } catch (error) {
      this.deps.logger.warn({ err: error, messageId }, "a deleted message's attachment is left for the sweep");
    }
  }

  /**
   * Removes uploads nobody used before they expired (and claims whose message never got stored, after a crash)
   * and those of deleted messages a failed removal left: their bytes, then their rows. True when there may be more.
   */
  async sweep(now = new Date()): Promise<boolean> {
    const uploads = await this.deps.db.prisma.upload.findMany({
      where: {
        OR: [{ messageId: null, expiresAt: { lt: now } }, { message: { deletedAt: { not: null } } }],
      },
      take: SWEEP_BATCH,
    });
    await this.remove(uploads);
    return uploads.length === SWEEP_BATCH;
  }

  private async remove(uploads: Upload[]): Promise<void> {
    for (const upload of uploads) {
      // Bytes first: a row left behind by a storage failure is found and removed again by the next attempt.
      if (upload.storageKey) await this.deps.storage.delete(upload.storageKey);
      await this.deps.db.prisma.upload.deleteMany({ where: { id: upload.id } });
    }
  }
}
