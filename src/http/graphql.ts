import type { IncomingMessage } from 'node:http';
import { renderGraphiQL } from '@graphql-yoga/render-graphiql';
import { randomUUID } from 'node:crypto';
import { GraphQLError, type GraphQLSchema } from 'graphql';
import { createGraphQLError, createYoga, type Plugin, type YogaServerInstance } from 'graphql-yoga';
import type { Authenticator } from '../auth/authenticator.js';
import type { AppConfig } from '../config.js';
import type { PrismaClient } from '../generated/prisma/client.js';
import { useMutationRateLimit } from '../limits/mutation-rate-limit.js';
import { queryLimitPlugins } from '../limits/query-limits.js';
import type { RateLimits } from '../limits/rate-limits.js';
import { requestIdOf } from '../lib/request-context.js';
import type { Logger } from '../logger.js';
import type { GraphQLMetrics } from '../metrics/graphql-metrics.js';
import type { GraphQLContext } from '../schema/context.js';
import { Loaders } from '../schema/loaders.js';
import type { Services } from '../services.js';
import { useAllowedOrigins } from './cors.js';
import { type ErrorHandling, UNEXPECTED_ERROR } from './errors.js';
import type { EventStreams } from './event-streams.js';
import { useWellFormedText } from './input-text.js';
import type { SharedSubscriptionExecution } from './shared-subscription-execution.js';

export const GRAPHQL_PATH = '/graphql';

export interface GraphQLServerDeps {
  config: AppConfig;
  schema: GraphQLSchema;
  services: Services;
  authenticator: Authenticator;
  prisma: PrismaClient;
  logger: Logger;
  rateLimits: RateLimits;
  graphqlMetrics: GraphQLMetrics;
  eventStreams: EventStreams;
  /** Shared with graphql-ws: one masking and one log of what was logged. */
  errors: ErrorHandling;
  /** Shared with graphql-ws, which iterates each subscription's stream of results itself. */
  subscriptionExecution: SharedSubscriptionExecution;
}

/**
 * What yoga receives before the context factory runs: HTTP gives `request` (and Node's `req`), graphql-ws
 * `connectionParams`, its operation id and the client's address.
 */
export interface InitialContext {
  request?: Request;
  req?: IncomingMessage;
  connectionParams?: Record<string, unknown>;
  operationId?: string;
  clientAddress?: string;
}

export type GraphQLServer = YogaServerInstance<InitialContext, GraphQLContext>;

const EXAMPLE_QUERY = `# Get a token with:  npm run cli -- token --email admin@example.com
# then add it under "Headers" below:  { "Authorization": "Bearer <token>" }
query Viewer {
  viewer { id displayName role }
  organization { id name }
}
`;

export function createGraphQLServer(deps: GraphQLServerDeps): GraphQLServer {
  const { config, logger } = deps;
  const { errors } = deps;
  return createYoga<InitialContext, GraphQLContext>({
    schema: deps.schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Our own, below: only the origins of CORS_ORIGINS.
    cors: false,
    // No file uploads: one body parser fewer for hostile input to reach.
    multipart: false,
    // Enforced before yoga, at the level of Node's request (see graphql-body-limit.ts).
    maxRequestBodySize: false,
    maskedErrors: { maskError: errors.maskError, errorMessage: UNEXPECTED_ERROR, isDev: false },
    graphiql: config.graphql.graphiql ? { title: 'Chat server', defaultQuery: EXAMPLE_QUERY } : false,
    // GraphiQL's scripts, styles and workers inlined in the page, instead of yoga's default page that loads
    // them from a CDN: GraphiQL works on a machine without internet.
    renderGraphiQL,
    logging: {
      debug: (...args) => logger.debug({ yoga: args }, 'yoga'),
      info: (...args) => logger.info({ yoga: args }, 'yoga'),
      warn: (...args) => logger.warn({ yoga: args }, 'yoga'),
      // yoga logs here every error its masking changed, i.e. each client mistake given a code (a syntax error,
      // bad JSON): not an error of the server's, and a way to flood the log. Unexpected errors are logged by
      // errors.plugin, with the request id.
      error: (...args) => logger.debug({ yoga: args }, 'yoga'),
    },
    plugins: [
      // First, so that it sees every operation, including those the limits below refuse.
      deps.graphqlMetrics.plugin(),
      errors.plugin,
      ...queryLimitPlugins(config.graphql),
      useMutationRateLimit(deps.rateLimits, config.rateLimits),
      useWellFormedText(),
      useMalformedParamsAsBadRequest(),
      useErrorBodies(),
      useAllowedOrigins(config.corsOrigins),
      deps.eventStreams.plugin,
      deps.subscriptionExecution.plugin,
    ],
    context: async ({ request, req, connectionParams, operationId, clientAddress }) => {
      const authorization = connectionParams
        ? (connectionParams.authorization ?? connectionParams.Authorization)
        : request?.headers.get('authorization');
      const requestId = operationId ?? (req ? requestIdOf(req) : randomUUID());
      const address = clientAddress ?? (req ? deps.rateLimits.clientAddressOf(req) : 'unknown');
      const session = await deps.authenticator.sessionFor(authorization, requestId, address);
      // Every operation counts as the user's activity (ONLINE rather than AWAY while they hold a socket).
      if (session.isAuthenticated) deps.services.presence.active(session.viewer);
      return {
        session,
        services: deps.services,
        prisma: deps.prisma,
        loaders: new Loaders(),
        requestId,
        clientAddress: address,
      };
    },
  });
}

/**
 * A request that cannot be read is a 400, whatever the client accepts. yoga answers a body that is not JSON with
 * 200 to `application/json` clients (as it would a GraphQL validation error), and its GET and form-encoded
 * parsers JSON.parse the `variables` and `extensions` parameters unguarded, so a malformed one (`?variables={`)
 * would be an unexpected error.
 */
function useMalformedParamsAsBadRequest(): Plugin {
  const badRequest = (message: string) =>
    createGraphQLError(message, { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
  return {
    onRequestParse({ requestParser, setRequestParser }) {
      if (!requestParser) return;
      setRequestParser(async (request) => {
        try {
          return await requestParser(request);
        } catch (error) {
          if (error instanceof SyntaxError)
            throw badRequest('The "variables" and "extensions" parameters must be JSON');
          if (error instanceof GraphQLError && error.extensions.code === 'BAD_REQUEST') throw badRequest(error.message);
          throw error;
        }
      });
    },
  };
}

const EMPTY_ERROR_MESSAGES: Record<number, string> = {
  406: 'Not acceptable: accept application/graphql-response+json or application/json',
  415: 'Unsupported content type: send application/json',
};

/**
 * Every error response from /graphql carries a GraphQL-over-HTTP error body: yoga answers an unsupported
 * Content-Type (415) or Accept (406) with an empty one. And a 413's connection is closed, since the rest of the
 * oversized body is still on its way and will not be read.
 */
function useErrorBodies(): Plugin {
  return {
    onResponse({ response, setResponse, fetchAPI }) {
      if (response.status === 413) response.headers.set('connection', 'close');
      if (response.status < 400 || response.body !== null) return;
      const message = EMPTY_ERROR_MESSAGES[response.status] ?? `${response.status} ${response.statusText}`.trim();
      const headers = new fetchAPI.Headers(response.headers);
      headers.set('content-type', 'application/json; charset=utf-8');
      const body = JSON.stringify({ errors: [{ message, extensions: { code: 'BAD_REQUEST' } }] });
      setResponse(new fetchAPI.Response(body, { status: response.status, headers }));
    },
  };
}
