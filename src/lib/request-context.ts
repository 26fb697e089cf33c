import type { IncomingMessage } from 'node:http';
import { randomUUID } from 'node:crypto';

// The id of each HTTP request, kept beside the request object rather than in AsyncLocalStorage: once a
// storage is in use, Node tracks every promise the process creates, which cost about a sixth of the CPU of
// a fan-out to a thousand subscribers. What logs about a request passes its id on explicitly instead.
const requestIds = new WeakMap<IncomingMessage, string>();

const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The request's id: its X-Request-Id when that is sane, else a fresh one; the same on every call. */
export function requestIdOf(request: IncomingMessage): string {
  let requestId = requestIds.get(request);
  if (requestId === undefined) {
    const header = request.headers['x-request-id'];
    requestId = typeof header === 'string' && ACCEPTABLE_REQUEST_ID.test(header) ? header : randomUUID();
    requestIds.set(request, requestId);
  }
  return requestId;
}
