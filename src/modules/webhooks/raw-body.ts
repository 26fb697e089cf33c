import type { IncomingMessage } from 'node:http';
import { whenBodyLate } from '../../http/body-deadline.js';

export class BodyTooLarge extends Error {}
export class BodyTooSlow extends Error {}

/**
 * The request body's exact bytes; BodyTooLarge as soon as it passes `maxBytes`, BodyTooSlow when it has not all
 * arrived within `timeoutMs` (the rest is not read either way: the caller answers and closes the connection).
 */
export function readRawBody(
  request: IncomingMessage,
  { maxBytes: limit, timeoutMs }: { maxBytes: number; timeoutMs: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    whenBodyLate(request, timeoutMs, () => {
      cleanup();
      request.pause();
      reject(new BodyTooSlow());
    });
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        request.pause();
        reject(new BodyTooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    // The sender went away before the body was complete.
    const onClose = () => onError(new Error('Request closed before its body was complete'));
    const cleanup = () => {
      request.off('data', onData);
      request.off('end', onEnd);
      request.off('error', onError);
      request.off('close', onClose);
    };
    request.on('data', onData);
    request.on('end', onEnd);
    request.on('error', onError);
    request.on('close', onClose);
  });
}
