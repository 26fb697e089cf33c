import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';

// The request id of whatever is being handled (an HTTP request, a WebSocket message, a webhook delivery),
// carried through every await so that each log line, including masked-error logs deep inside GraphQL
// execution, can name the request that caused it.
const storage = new AsyncLocalStorage<{ requestId: string }>();

const ACCEPTABLE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** An incoming X-Request-Id when it is sane, else a fresh one. */
export function requestIdFrom(header: unknown): string {
  return typeof header === 'string' && ACCEPTABLE_REQUEST_ID.test(header) ? header : randomUUID();
}

export function withRequestId<T>(requestId: string, work: () => T): T {
  return storage.run({ requestId }, work);
}

export function currentRequestId(): string | undefined {
  return storage.getStore()?.requestId;
}
