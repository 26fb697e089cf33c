import type { WebSocket } from 'ws';

/** Each socket is pinged once per this interval. */
const KEEP_ALIVE_MS = 12_000;
/** An interval's pings go out in this many steps. */
const STEPS_PER_INTERVAL = 48;

/**
 * Pings every socket once per interval, spread over it: each step pings the next share of the sockets, in the
 * order they opened. Pinged all in one turn of the event loop, 10,000 sockets were 10,000 writes that held every
 * event behind them for ~200 ms. A socket that has not answered a ping sent at least half an interval ago is
 * gone, and is dropped. One timer for all sockets and one shared listener: per socket, only its entry while a
 * ping waits for its answer.
 */
export function keepAlive(sockets: Set<WebSocket>, intervalMs = KEEP_ALIVE_MS) {
  const pingedAt = new WeakMap<WebSocket, number>();
  function answered(this: WebSocket) {
    pingedAt.delete(this);
  }
  // A Set's iterator goes on across deletions and reaches sockets added after it started.
  let round = sockets.values();
  let roundStartedAt = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    for (let share = Math.ceil(sockets.size / STEPS_PER_INTERVAL); share > 0; share--) {
      const next = round.next();
      if (next.done) {
        // A round done early (few sockets) waits: the next starts an interval after this one did.
        if (now - roundStartedAt >= intervalMs) {
          round = sockets.values();
          roundStartedAt = now;
        }
        return;
      }
      const socket = next.value;
      const sentAt = pingedAt.get(socket);
      if (sentAt === undefined) {
        pingedAt.set(socket, now);
        socket.ping();
      } else if (now - sentAt >= intervalMs / 2) socket.terminate();
    }
  }, intervalMs / STEPS_PER_INTERVAL);
  timer.unref();
  return {
    watch: (socket: WebSocket) => socket.on('pong', answered),
    stop: () => clearInterval(timer),
  };
}
