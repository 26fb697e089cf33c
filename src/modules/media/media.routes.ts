import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { whenBodyLate } from '../../http/body-deadline.js';
import { type Router, sendJson } from '../../http/router.js';
import { uuid } from '../../lib/validation.js';
import type { MediaLinks, LinkPurpose } from './media-links.js';
import { UploadRefused } from './media-inspection.js';
import type { ByteRange } from './storage/media-storage.js';
import type { UploadService } from './uploads.service.js';

const UPLOAD_PATH = /^\/uploads\/([^/]+)$/;
const MEDIA_PATH = /^\/media\/([^/]+)$/;

/** Types a browser shows without running anything: everything else is a download (HTML, SVG, XML, PDF, scripts). */
const INLINE_TYPES = /^(image\/(png|jpeg|gif|webp|avif|bmp)|audio\/[\w.+-]+|video\/[\w.+-]+)$/;

export interface MediaRouteDeps {
  uploads: UploadService;
  links: MediaLinks;
  /** How long an upload's bytes may take to arrive (then 408). */
  uploadTimeoutMs: number;
}

/**
 * `PUT /uploads/:id?expires&signature`: an upload's bytes, streamed into storage (the link comes from createUpload).
 * `GET|HEAD /media/:id?expires&signature`: a stored attachment, with Range (the link comes from Message.attachment).
 * Both are open to anyone holding a link, so the link is checked before anything else is done; neither reads the
 * database for a link that is not valid.
 */
export function addMediaRoutes(router: Router, deps: MediaRouteDeps): void {
  const { uploads, links } = deps;

  /** The upload a valid link names and when the link expires, or undefined once the request was answered (403). */
  const linked = (purpose: LinkPurpose, request: IncomingMessage, response: ServerResponse, id: string) => {
    const query = new URL(request.url ?? '/', 'http://localhost').searchParams;
    const verdict = uuid.safeParse(id).success ? links.check(purpose, id, query) : 'invalid';
    if (verdict === 'valid') return { uploadId: id, expires: Number(query.get('expires')) };
    sendJson(
      response,
      403,
      { error: verdict === 'expired' ? 'The link expired' : 'Invalid link' },
      { connection: 'close' },
    );
    return undefined;
  };

  router.add({
    name: 'upload',
    method: 'PUT',
    path: UPLOAD_PATH,
    handler: async (request, response, [id]) => {
      const uploadId = linked('upload', request, response, id!)?.uploadId;
      if (!uploadId) return;
      // The body is refused unread when it says it is too large (it is counted again while it streams).
      const declaredLength = Number(request.headers['content-length']);
      whenBodyLate(request, deps.uploadTimeoutMs, () => {
        sendJson(response, 408, { error: 'The upload took too long' }, { connection: 'close' });
        request.destroy();
      });
      try {
        const upload = await uploads.receive(
          uploadId,
          request,
          Number.isFinite(declaredLength) ? declaredLength : undefined,
        );
        sendJson(response, 200, {
          id: upload.id,
          mimeType: upload.mimeType,
          size: upload.size,
          width: upload.width,
          height: upload.height,
        });
      } catch (error) {
        if (!(error instanceof UploadRefused)) throw error;
        // The rest of a refused body is not read: the connection closes after the answer.
        sendJson(response, error.status, { error: error.message }, { connection: 'close' });
      }
    },
  });

  router.add({
    name: 'media',
    method: ['GET', 'HEAD'],
    path: MEDIA_PATH,
    handler: async (request, response, [id]) => {
      const link = linked('download', request, response, id!);
      if (!link) return;
      const media = await uploads.stored(link.uploadId);
      if (!media) return sendJson(response, 404, { error: 'Not found' });
      const { upload } = media;
      const disposition = contentDisposition(upload.mimeType, upload.fileName ?? 'attachment');
      // A store that serves clients itself (S3_PRESIGNED_DOWNLOADS) gets the download, for as long as our link
      // had left, answering with the same type and disposition; Range goes to it with the redirect.
      const direct = await media.directUrl(
        { contentType: upload.mimeType, contentDisposition: disposition },
        Math.max(1, link.expires - Math.floor(Date.now() / 1000)),
      );
      if (direct) {
        response.writeHead(302, { location: direct, 'cache-control': 'private, no-store' });
        return response.end();
      }
      const range = requestedRange(request.headers.range, upload.size);
      const headers: Record<string, string | number> = {
        'content-type': upload.mimeType,
        'content-disposition': disposition,
        // Never run or reinterpret what was uploaded: no sniffing, no scripts, no plugins, an opaque origin.
        'x-content-type-options': 'nosniff',
        'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        'cross-origin-resource-policy': 'same-site',
        'accept-ranges': 'bytes',
        'cache-control': 'private, max-age=3600',
        etag: `"${upload.sha256}"`,
      };
      if (range === 'unsatisfiable') {
        response.writeHead(416, { 'content-range': `bytes */${upload.size}`, 'content-length': 0 });
        return response.end();
      }
      const status = range ? 206 : 200;
      if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${upload.size}`;
      headers['content-length'] = range ? range.end - range.start + 1 : upload.size;
      if (request.method === 'HEAD' || upload.size === 0) {
        response.writeHead(status, headers);
        return response.end();
      }
      const body = await media.open(range);
      if (!body) return sendJson(response, 404, { error: 'Not found' });
      response.writeHead(status, headers);
      await pipeline(body, response);
    },
  });
}

/**
 * The one range of a `Range: bytes=...` header (RFC 9110 §14): `start-end`, `start-` or `-suffix`. Several ranges,
 * or a header in another unit, get the whole file (which the RFC allows); a range past the end is unsatisfiable.
 */
export function requestedRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  const [first, last] = [match[1]!, match[2]!];
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || end < start) return 'unsatisfiable';
  return { start, end };
}

/** Inline for what a browser only displays; a download otherwise. The name in both RFC 6266 forms. */
function contentDisposition(mimeType: string, fileName: string): string {
  const kind = INLINE_TYPES.test(mimeType) ? 'inline' : 'attachment';
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName)}`;
}
