import type { IncomingMessage } from 'node:http';

/**
 * Calls `late` when the request's body has not fully arrived `ms` after now, as happens when a client sends it a
 * byte at a time to hold a connection (and whatever reads the body) for as long as it likes. Nothing happens once
 * the body is complete or the request is gone. Watching adds listeners only: it never starts the body flowing.
 */
export function whenBodyLate(request: IncomingMessage, ms: number, late: () => void): void {
  if (request.complete) return;
  const timer = setTimeout(late, ms);
  const settled = () => clearTimeout(timer);
  request.once('end', settled);
  request.once('close', settled);
}
