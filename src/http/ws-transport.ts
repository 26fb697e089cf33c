import type { IncomingMessage, Server } from 'node:http';
import { CloseCode, handleProtocols, MessageType, parseMessage, type Server as ProtocolServer } from 'graphql-ws';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Logger } from '../logger.js';
import { keepAlive } from './keep-alive.js';
import { OpenCounts } from './open-counts.js';

/** What each graphql-ws connection context carries besides the protocol's own state. */
export interface SocketExtra {
  readonly socket: WebSocket;
  /** The client's address, read from the upgrade request (which is not kept: it weighs more than the socket). */
  readonly clientAddress: string;
}

/** Close code for a socket over the cap of its address, as for a user's (4xxx: the application's own range). */
const TOO_MANY_SOCKETS_CLOSE_CODE = 4429;
/** What only a server sends: from a client, a protocol violation. */
const SERVER_MESSAGE_TYPES: ReadonlySet<string> = new Set([
  MessageType.ConnectionAck,
  MessageType.Next,
  MessageType.Error,
]);

/**
 * Runs graphql-ws's protocol (`makeServer`) on `ws` sockets at `path`. Our own rather than graphql-ws/use/ws,
 * which reports socket errors and failed message handlers on console.error: a client causes both at will (a
 * message over the size limit, a message type only servers send), so here they are log lines at the level a
 * client's doing deserves, and the socket closes with the code that says why (1009, 4400, 4500, ...). Each
 * client address holds at most `maxSocketsPerAddress` sockets (0: no limit), whether they ever send
 * `connection_init` or not; one more is closed at once with 4429.
 */
export function serveGraphQLWs(
  server: Server,
  protocol: ProtocolServer<SocketExtra>,
  options: {
    path: string;
    maxPayload: number;
    logger: Logger;
    addressOf: (request: IncomingMessage) => string;
    maxSocketsPerAddress: number;
    onRefused: () => void;
  },
) {
  const { logger } = options;
  const socketsPerAddress = new OpenCounts(options.maxSocketsPerAddress);
  const webSocketServer = new WebSocketServer({
    server,
    path: options.path,
    maxPayload: options.maxPayload,
    handleProtocols: (protocols) => handleProtocols(protocols),
  });
  // ws passes the HTTP server's own errors on to here; without a listener they would crash the process.
  webSocketServer.on('error', (error) => logger.error({ err: error }, 'websocket server error'));
  const heartbeat = keepAlive(webSocketServer.clients);
  // Bad frames and oversized messages: ws closes the socket with the matching code right after this.
  const protocolError = (error: Error) => logger.debug({ err: error }, 'websocket closed on a protocol error');
  webSocketServer.on('connection', (socket, request) => {
    socket.on('error', protocolError);
    const address = options.addressOf(request);
    if (!socketsPerAddress.take(address)) {
      options.onRefused();
      logger.info({ address, limit: options.maxSocketsPerAddress }, 'websocket refused: too many from this address');
      socket.close(
        TOO_MANY_SOCKETS_CLOSE_CODE,
        `Too many connections from this address (limit ${options.maxSocketsPerAddress})`,
      );
      return;
    }
    heartbeat.watch(socket);
    const closed = protocol.opened(new ProtocolSocket(socket, logger), { socket, clientAddress: address });
    socket.once('close', (code, reason) => {
      socketsPerAddress.give(address);
      void closed(code, reason.toString());
    });
  });
  return {
    /** Closes every socket with 1001 (going away) and stops accepting upgrades. */
    async dispose(): Promise<void> {
      heartbeat.stop();
      for (const client of webSocketServer.clients) client.close(1001, 'Going away');
      await new Promise<void>((resolve) => webSocketServer.close(() => resolve()));
    },
    clientCount: () => webSocketServer.clients.size,
  };
}

/**
 * A `ws` socket as graphql-ws's protocol uses it. Methods rather than an object of closures: tens of thousands of
 * idle sockets each hold one small object.
 */
class ProtocolSocket {
  constructor(
    private readonly socket: WebSocket,
    private readonly logger: Logger,
  ) {}

  get protocol(): string {
    return this.socket.protocol;
  }

  send(data: string): Promise<void> {
    const { socket } = this;
    return new Promise<void>((resolve, reject) => {
      if (socket.readyState !== socket.OPEN) return resolve();
      socket.send(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  close(code?: number, reason?: string): void {
    this.socket.close(code, reason);
  }

  onMessage(handle: (data: string) => Promise<void>): void {
    this.socket.on('message', (data) => {
      const text = String(data);
      handle(text).catch((error: unknown) => this.failed(text, error));
    });
  }

  private failed(text: string, error: unknown): void {
    // graphql-ws throws on a well-formed message of a type only servers send: the client's violation.
    const type = typeOf(text);
    if (type !== undefined && SERVER_MESSAGE_TYPES.has(type)) {
      this.logger.debug({ type }, 'graphql-ws client sent a server message; closing the connection');
      this.socket.close(CloseCode.BadRequest, `Unexpected message of type ${type}`);
      return;
    }
    // Any other failure is a hook's, i.e. the server's: this socket is done.
    this.logger.warn({ err: error }, 'graphql-ws message failed; closing the connection');
    this.socket.close(CloseCode.InternalServerError, 'Internal server error');
  }
}

function typeOf(message: string): string | undefined {
  try {
    return parseMessage(message).type;
  } catch {
    return undefined;
  }
}
