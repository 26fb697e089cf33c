import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type { ExecutionArgs, GraphQLError, GraphQLFormattedError } from 'graphql';
import { type Context, makeServer, type ServerOptions } from 'graphql-ws';
import type { Authenticator } from '../auth/authenticator.js';
import type { AppConfig } from '../config.js';
import { AppError } from '../lib/errors.js';
import type { Logger } from '../logger.js';
import type { GraphQLMetrics } from '../metrics/graphql-metrics.js';
import type { Metrics } from '../metrics/metrics.js';
import { createErrorHandling } from './errors.js';
import { GRAPHQL_PATH, type GraphQLServer } from './graphql.js';
import { serveGraphQLWs, type SocketExtra } from './ws-transport.js';

/** Close code for a connection over WS_MAX_CONNECTIONS_PER_USER (4xxx: the application's own range). */
const TOO_MANY_CONNECTIONS_CLOSE_CODE = 4429;

export interface WebSocketDeps {
  yoga: GraphQLServer;
  authenticator: Authenticator;
  logger: Logger;
  metrics: Metrics;
  graphqlMetrics: GraphQLMetrics;
  clientAddressOf: (request: IncomingMessage) => string;
  limits: AppConfig['webSocket'];
  /** Largest message accepted from a client; 0: no limit. */
  maxMessageBytes: number;
  /** GraphQL's "Did you mean ...?" hints in error messages (SUGGESTIONS_ENABLED). */
  suggestions: boolean;
}

type ConnectionContext = Context<Record<string, unknown>, SocketExtra>;

/**
 * graphql-ws on the same port and path, through `yoga.getEnveloped` so that both transports share the
 * plugins (error masking, query limits, rate limits, metrics) and the context factory. Per connection, at most
 * WS_MAX_OPERATIONS_PER_CONNECTION operations run at once (another one gets RATE_LIMITED and the socket stays
 * open); per authenticated user, at most WS_MAX_CONNECTIONS_PER_USER connections are open on this instance
 * (another one is closed with 4429).
 */
export function attachWebSocketServer(server: Server, deps: WebSocketDeps) {
  const { yoga, logger, limits } = deps;
  const mask = createErrorHandling(logger, { suggestions: deps.suggestions }).maskError;
  const connections = new Connections();
  const refusals = deps.metrics.counter({
    name: 'chat_websocket_limit_refusals_total',
    help: 'graphql-ws connections and operations refused by a limit',
    labelNames: ['limit'],
  });
  deps.metrics.gauge({
    name: 'chat_graphql_ws_operations',
    help: 'graphql-ws operations running (subscriptions, and queries and mutations until they answer)',
    collect() {
      this.set(connections.operationCount());
    },
  });

  const protocol = makeServer<Record<string, unknown>, SocketExtra>({
    onConnect: async (context) => {
      const session = await deps.authenticator.sessionFor(authorizationOf(context.connectionParams));
      // Closed while the session was looked up: onClose has run already and would never give the place back.
      if (context.extra.socket.readyState !== context.extra.socket.OPEN) return false;
      const userId = session.isAuthenticated ? session.viewer.id : undefined;
      if (connections.admit(context, userId, limits.maxConnectionsPerUser)) return true;
      refusals.inc({ limit: 'connections-per-user' });
      logger.info({ userId, limit: limits.maxConnectionsPerUser }, 'websocket refused: too many connections');
      context.extra.socket.close(
        TOO_MANY_CONNECTIONS_CLOSE_CODE,
        `Too many connections for this user (limit ${limits.maxConnectionsPerUser})`,
      );
      // graphql-ws then closes with 4403, which the socket, already closing with 4429, ignores.
      return false;
    },
    onClose: (context) => connections.release(context),
    onSubscribe: async (context, id, payload) => {
      // The new operation is already among the connection's subscriptions.
      const running = Object.keys(context.subscriptions).length;
      if (limits.maxOperationsPerConnection > 0 && running > limits.maxOperationsPerConnection) {
        refusals.inc({ limit: 'operations-per-connection' });
        return [tooManyOperations(limits.maxOperationsPerConnection)];
      }
      const operationId = `ws-${randomUUID()}-${id}`;
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        connectionParams: context.connectionParams ?? {},
        operationId,
        clientAddress: deps.clientAddressOf(context.extra.request),
      });
      let document;
      try {
        document = parse(payload.query);
      } catch (error) {
        return [mask(error, 'Unexpected error') as GraphQLError];
      }
      const errors = validate(schema, document);
      if (errors.length > 0)
        return errors.map((error: GraphQLError) => mask(error, 'Unexpected error') as GraphQLError);
      return {
        schema,
        document,
        operationName: payload.operationName,
        variableValues: payload.variables,
        contextValue: await contextFactory(),
        rootValue: { execute, subscribe } as EnvelopedRoot,
      };
    },
    execute: (args) => (args.rootValue as EnvelopedRoot).execute(args),
    subscribe: (args) => (args.rootValue as EnvelopedRoot).subscribe(args),
    onNext: (_context, _id, _payload, _args, result) => {
      if (!result.errors) return;
      const errors = result.errors.map(forClient);
      deps.graphqlMetrics.countErrors(errors);
      return { ...result, errors };
    },
    onError: (_context, _id, _payload, errors) => {
      const formatted = errors.map(forClient);
      deps.graphqlMetrics.countErrors(formatted);
      return formatted;
    },
  });
  const transport = serveGraphQLWs(server, protocol, { path: GRAPHQL_PATH, maxPayload: deps.maxMessageBytes, logger });
  deps.metrics.gauge({
    name: 'chat_websocket_connections',
    help: 'Open WebSocket connections',
    collect() {
      this.set(transport.clientCount());
    },
  });
  return {
    /** Closes every socket with 1001 (going away) and stops accepting upgrades. */
    close: () => transport.dispose(),
    clientCount: () => transport.clientCount(),
  };
}

/** The acknowledged connections, and how many each user has open. */
class Connections {
  private readonly open = new Set<ConnectionContext>();
  private readonly userOf = new WeakMap<ConnectionContext, string>();
  private readonly countByUser = new Map<string, number>();

  /** Takes a place for the connection unless its user has `max` already (0: no limit). */
  admit(context: ConnectionContext, userId: string | undefined, max: number): boolean {
    if (userId !== undefined) {
      const count = this.countByUser.get(userId) ?? 0;
      if (max > 0 && count >= max) return false;
      this.countByUser.set(userId, count + 1);
      this.userOf.set(context, userId);
    }
    this.open.add(context);
    return true;
  }

  release(context: ConnectionContext): void {
    if (!this.open.delete(context)) return;
    const userId = this.userOf.get(context);
    if (userId === undefined) return;
    const remaining = (this.countByUser.get(userId) ?? 1) - 1;
    if (remaining > 0) this.countByUser.set(userId, remaining);
    else this.countByUser.delete(userId);
  }

  operationCount(): number {
    let count = 0;
    for (const context of this.open) count += Object.keys(context.subscriptions).length;
    return count;
  }
}

const authorizationOf = (connectionParams: Record<string, unknown> | undefined) =>
  connectionParams?.authorization ?? connectionParams?.Authorization;

const tooManyOperations = (max: number) =>
  new AppError(
    'RATE_LIMITED',
    `Too many operations running on this connection (limit ${max}): complete one before starting another`,
    { limit: max },
  );

/**
 * An error as graphql-ws clients receive it: without the extensions yoga keeps for its HTTP responses
 * (`http`: status and headers, `unexpected`), which yoga strips there and graphql-ws would send as they are.
 */
function forClient(error: GraphQLError): GraphQLFormattedError {
  const formatted = error.toJSON();
  if (!formatted.extensions) return formatted;
  const { http: _http, unexpected: _unexpected, ...extensions } = formatted.extensions;
  return { ...formatted, extensions };
}

// graphql-ws calls these with the ExecutionArgs returned from onSubscribe, whose rootValue carries yoga's
// enveloped execute/subscribe for this operation.
interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
type OperationResult = ReturnType<NonNullable<ServerOptions['execute']>>;
