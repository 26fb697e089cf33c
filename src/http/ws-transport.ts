import type { IncomingMessage, Server } from 'node:http';
import { CloseCode, handleProtocols, type Server as ProtocolServer } from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';

/** What each graphql-ws connection context carries besides the protocol's own state. */
export interface SocketExtra {
  readonly socket: WebSocket;
  /** The HTTP upgrade request: headers and the client's address. */
  readonly request: IncomingMessage;
}

const KEEP_ALIVE_MS = 12_000;

/**
 * Runs graphql-ws's protocol (`makeServer`) on `ws` sockets at `path`. Our own rather than graphql-ws/use/ws,
 * which reports socket errors and failed message handlers on console.error: a client causes both at will (a
 * message over the size limit, a message type only servers send), so here they are log lines at the level a
 * client's doing deserves, and the socket closes with the code that says why (1009, 4500, ...).
 */
export function serveGraphQLWs(
  server: Server,
  protocol: ProtocolServer<SocketExtra>,
  options: { path: string; maxPayload: number; logger: Logger },
) {
  const { logger } = options;
  const webSocketServer = new WebSocketServer({
    server,
    path: options.path,
    maxPayload: options.maxPayload,
    handleProtocols: (protocols) => handleProtocols(protocols),
  });
  // ws passes the HTTP server's own errors on to here; without a listener they would crash the process.
  webSocketServer.on('error', (error) => logger.error({ err: error }, 'websocket server error'));
  webSocketServer.on('connection', (socket, request) => {
    // Bad frames and oversized messages: ws closes the socket with the matching code right after this.
    socket.on('error', (error) => logger.debug({ err: error }, 'websocket closed on a protocol error'));
    const heartbeat = keepAlive(socket);
    const closed = protocol.opened(
      {
        protocol: socket.protocol,
        send: (data) =>
          new Promise<void>((resolve, reject) => {
            if (socket.readyState !== socket.OPEN) return resolve();
            socket.send(data, (error) => (error ? reject(error) : resolve()));
          }),
        close: (code, reason) => socket.close(code, reason),
        onMessage: (handle) =>
          socket.on('message', (data) => {
            handle(String(data)).catch((error: unknown) => {
              // A message the protocol refuses by throwing, or a failing hook: either way this socket is done.
              logger.warn({ err: error }, 'graphql-ws message failed; closing the connection');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket, request },
    );
    socket.once('close', (code, reason) => {
      clearInterval(heartbeat);
      void closed(code, reason.toString());
    });
  });
  return {
    /** Closes every socket with 1001 (going away) and stops accepting upgrades. */
    async dispose(): Promise<void> {
      for (const client of webSocketServer.clients) client.close(1001, 'Going away');
      await new Promise<void>((resolve) => webSocketServer.close(() => resolve()));
    },
    clientCount: () => webSocketServer.clients.size,
  };
}

/** Pings every interval; a socket that did not answer the previous ping is gone, and is dropped. */
function keepAlive(socket: WebSocket): NodeJS.Timeout {
  let awaitingPong = false;
  socket.on('pong', () => (awaitingPong = false));
  return setInterval(() => {
    if (awaitingPong) return socket.terminate();
    awaitingPong = true;
    socket.ping();
  }, KEEP_ALIVE_MS);
}
