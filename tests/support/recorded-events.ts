import type { WebSocket as WsSocket } from 'ws';
import WebSocket from 'ws';
import { resumableEvents, type ViewerEvent } from '../../examples/resumable-events.js';

/** A sequenced event's place: its cursor's number and part (the last part of an event is part 0: whole). */
export function placeOf(cursor: string): [seq: bigint, part: number] {
  const [, seq, ...rest] = Buffer.from(cursor, 'base64url').toString().split(':');
  const part = rest.length === 2 ? Number(rest[0]) : 0;
  return [BigInt(seq!), part === 0 ? Number.MAX_SAFE_INTEGER : part];
}

/**
 * The README's resumable client (examples/resumable-events.ts) run against test servers, recording every event,
 * and able to drop its socket (as a flaky network would) to make it reconnect.
 */
export function recordedEvents(options: {
  urls: string[];
  token: string;
  after?: string | null;
  onExpired?: () => void;
}) {
  const events: ViewerEvent[] = [];
  const waiters = new Set<() => void>();
  let next = 0;
  let socket: WsSocket | undefined;
  let connections = 0;
  const subscription = resumableEvents({
    // Each connection goes to the next instance, as behind a load balancer.
    url: () => options.urls[next++ % options.urls.length]!,
    accessToken: () => options.token,
    after: options.after,
    onExpired: options.onExpired,
    webSocketImpl: WebSocket,
    onEvent: (event) => {
      events.push(event);
      waiters.forEach((waiter) => waiter());
    },
  });
  subscription.client.on('connected', (connected) => {
    socket = connected as WsSocket;
    connections += 1;
  });
  const waitFor = (done: (events: ViewerEvent[]) => boolean, timeoutMs = 10_000, what = 'events') =>
    new Promise<ViewerEvent[]>((resolve, reject) => {
      const check = () => {
        if (!done(events)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(events);
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(events.slice(-20))}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  return {
    events,
    /** Sequenced events only (typing and presence are not replayed). */
    sequenced: () => events.filter((event) => event.cursor),
    lastCursor: () => events.findLast((event) => event.cursor)?.cursor as string | undefined,
    connections: () => connections,
    /** Cuts the connection without a goodbye; the client reconnects to the next instance and resumes. */
    drop: () => socket?.terminate(),
    waitFor,
    stop: () => subscription.stop(),
  };
}

export type RecordedEvents = ReturnType<typeof recordedEvents>;
