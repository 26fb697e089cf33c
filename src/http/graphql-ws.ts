import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import type {
  ExecutionArgs,
  ExecutionResult,
  FormattedExecutionResult,
  GraphQLError,
  GraphQLFormattedError,
} from 'graphql';
import { CloseCode, type Context, makeServer, type ServerOptions } from 'graphql-ws';
import { isAsyncIterable } from 'graphql-yoga';
import type { Authenticator } from '../auth/authenticator.js';
import { revokedToken } from '../auth/revocation.js';
import type { AppConfig } from '../config.js';
import { AppError } from '../lib/errors.js';
import { SharedCopies } from '../lib/shared-copies.js';
import type { Logger } from '../logger.js';
import type { GraphQLMetrics } from '../metrics/graphql-metrics.js';
import type { Metrics } from '../metrics/metrics.js';
import type { PresenceService } from '../modules/presence/presence.service.js';
import type { UserDirectory } from '../modules/users/user-directory.js';
import { type ErrorHandling, UNEXPECTED_ERROR } from './errors.js';
import type { SharedSubscriptionExecution } from './shared-subscription-execution.js';
import { NextFrames, ResultJson } from './next-frames.js';
import { OpenCounts } from './open-counts.js';
import { GRAPHQL_PATH, type GraphQLServer } from './graphql.js';
import { serveGraphQLWs, type SocketExtra } from './ws-transport.js';

/** Documents of at most this length are kept once for all the operations that sent them. */
const MAX_SHARED_QUERY_LENGTH = 10_000;
const MAX_SHARED_QUERIES = 1_000;
/** Close code for a connection over WS_MAX_CONNECTIONS_PER_USER or _PER_IP (4xxx: the application's own range). */
const TOO_MANY_CONNECTIONS_CLOSE_CODE = 4429;

export interface WebSocketDeps {
  yoga: GraphQLServer;
  authenticator: Authenticator;
  /** Watched for each connection's user: a deactivated user's sockets close at once, on every instance. */
  users: Pick<UserDirectory, 'watch'>;
  /** Told of each user's sockets: a user is ONLINE while they hold one on any instance. */
  presence: Pick<PresenceService, 'connected'>;
  logger: Logger;
  metrics: Metrics;
  graphqlMetrics: GraphQLMetrics;
  clientAddressOf: (request: IncomingMessage) => string;
  limits: AppConfig['webSocket'];
  /** Largest message accepted from a client; 0: no limit. */
  maxMessageBytes: number;
  /** The GraphQL server's error handling (masking, and the log of what was logged). */
  errors: ErrorHandling;
  /** Each subscription's own stream of finished results. */
  subscriptionExecution: Pick<SharedSubscriptionExecution, 'streamFor'>;
}

type ConnectionContext = Context<Record<string, unknown>, SocketExtra>;

/**
 * graphql-ws on the same port and path, through `yoga.getEnveloped` so that both transports share the
 * plugins (error masking, query limits, rate limits, metrics) and the context factory. Only a valid token opens a
 * connection: `connection_init` without one is closed with 4403 and the token's problem as the reason. Per
 * connection, at most WS_MAX_OPERATIONS_PER_CONNECTION operations run at once (another one gets RATE_LIMITED and
 * the socket stays open); per user, at most WS_MAX_CONNECTIONS_PER_USER connections are open on this instance,
 * and per client address at most WS_MAX_CONNECTIONS_PER_IP sockets, initialised or not (another one is closed
 * with 4429).
 */
export function attachWebSocketServer(server: Server, deps: WebSocketDeps) {
  const { yoga, logger, limits } = deps;
  const mask = deps.errors.maskError;
  const connections = new Connections(limits.maxConnectionsPerUser);
  // graphql-ws keeps each operation's message while it runs: a subscription's copy of its document is let go
  // for the copy every subscriber of that document shares.
  const queries = new SharedCopies(MAX_SHARED_QUERIES, MAX_SHARED_QUERY_LENGTH);
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

  const resultJson = new ResultJson({
    forClient: resultForClient,
    countErrors: (errors) => deps.graphqlMetrics.countErrors(errors),
  });
  const protocol = makeServer<Record<string, unknown>, SocketExtra>({
    onConnect: async (context) => {
      const session = await deps.authenticator.sessionFor(
        authorizationOf(context.connectionParams),
        undefined,
        context.extra.clientAddress,
      );
      // Closed while the session was looked up: onClose has run already and would never give the place back.
      if (context.extra.socket.readyState !== context.extra.socket.OPEN) return false;
      if (!session.isAuthenticated) {
        refusals.inc({ limit: 'unauthenticated' });
        // With graphql-ws's code for a refused connection_init, and the token's problem for the client to act on;
        // graphql-ws's own close ("Forbidden") then comes too late for the socket, which is closing already.
        context.extra.socket.close(CloseCode.Forbidden, session.refusal);
        return false;
      }
      const userId = session.viewer.id;
      if (connections.admit(context, userId)) {
        // A user deactivated, or signed out everywhere, on any instance loses their sockets at once.
        const { socket } = context.extra;
        const { tokenIssuedAt } = session.viewer;
        const stopWatching = deps.users.watch(userId, (user) => {
          if (!user?.isActive) socket.close(CloseCode.Forbidden, 'Forbidden: the account was deactivated');
          else if (revokedToken(user, tokenIssuedAt)) socket.close(CloseCode.Forbidden, 'Forbidden: signed out');
        });
        const leave = deps.presence.connected(session.viewer);
        connections.onRelease(context, () => {
          stopWatching();
          leave();
        });
        return true;
      }
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
      // The payload is the message graphql-ws keeps (read-only in its types, a plain parsed object in fact).
      if (typeof payload.query === 'string') (payload as { query: string }).query = queries.of(payload.query);
      const operationId = `ws-${randomUUID()}-${id}`;
      const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
        connectionParams: context.connectionParams ?? {},
        operationId,
        clientAddress: context.extra.clientAddress,
      });
      let document;
      try {
        document = parse(payload.query);
      } catch (error) {
        return [mask(error, UNEXPECTED_ERROR) as GraphQLError];
      }
      const errors = validate(schema, document);
      if (errors.length > 0) return errors.map((error: GraphQLError) => mask(error, UNEXPECTED_ERROR) as GraphQLError);
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
    // The enveloped subscribe runs every plugin's hooks for the operation; its events are then read from the
    // subscription's own stream, whose results are finished once per execution (shared-subscription-execution.ts).
    subscribe: async (args) => {
      const root = args.rootValue as EnvelopedRoot;
      const result = await root.subscribe(args);
      return deps.subscriptionExecution.streamFor(root) ?? result;
    },
    // Each subscription's results go to its socket through NextFrames, serialized once for the subscribers that
    // share them; graphql-ws itself sends the rest (a query's or mutation's one result, errors, `complete`).
    onOperation: (context, id, _payload, _args, result) =>
      isAsyncIterable<ExecutionResult>(result)
        ? new NextFrames(result[Symbol.asyncIterator](), context.extra.socket, id, resultJson)
        : undefined,
    onNext: (_context, _id, _payload, _args, result) => {
      if (!result.errors) return;
      deps.graphqlMetrics.countErrors(result.errors);
      return resultForClient(result);
    },
    onError: (_context, _id, _payload, errors) => {
      const formatted = errors.map(forClient);
      deps.graphqlMetrics.countErrors(formatted);
      return formatted;
    },
  });
  const transport = serveGraphQLWs(server, protocol, {
    path: GRAPHQL_PATH,
    maxPayload: deps.maxMessageBytes,
    logger,
    addressOf: deps.clientAddressOf,
    maxSocketsPerAddress: limits.maxConnectionsPerIp,
    onRefused: () => refusals.inc({ limit: 'connections-per-ip' }),
  });
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
  private readonly open = new Map<ConnectionContext, string>();
  private readonly perUser: OpenCounts;
  private readonly releases = new WeakMap<ConnectionContext, () => void>();

  /** At most `maxPerUser` connections per user (0: no limit). */
  constructor(maxPerUser: number) {
    this.perUser = new OpenCounts(maxPerUser);
  }

  /** Takes a place for the connection unless its user has all of theirs already. */
  admit(context: ConnectionContext, userId: string): boolean {
    if (!this.perUser.take(userId)) return false;
    this.open.set(context, userId);
    return true;
  }

  /** Work to do when the connection's place is given back (it closed). */
  onRelease(context: ConnectionContext, work: () => void): void {
    this.releases.set(context, work);
  }

  release(context: ConnectionContext): void {
    const userId = this.open.get(context);
    if (userId === undefined) return;
    this.open.delete(context);
    this.releases.get(context)?.();
    this.perUser.give(userId);
  }

  operationCount(): number {
    let count = 0;
    for (const context of this.open.keys()) count += Object.keys(context.subscriptions).length;
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

/** A result as graphql-ws clients receive it: its errors as `forClient` formats them. */
function resultForClient(result: ExecutionResult): FormattedExecutionResult {
  return result.errors ? { ...result, errors: result.errors.map(forClient) } : result;
}

// graphql-ws calls these with the ExecutionArgs returned from onSubscribe, whose rootValue carries yoga's
// enveloped execute/subscribe for this operation.
interface EnvelopedRoot {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
}
type OperationResult = ReturnType<NonNullable<ServerOptions['execute']>>;
