import { GraphQLError } from 'graphql';
import { createGraphQLError } from 'graphql-yoga';
import { isServiceUnavailable } from '../lib/errors.js';
import type { Logger } from '../logger.js';

/**
 * yoga's `maskError`, made explicit: expected failures (GraphQLErrors raised on purpose, and GraphQL's own
 * syntax, validation and variable errors) keep their message and always carry `extensions.code`; anything
 * else is logged with the request id and replaced by a plain "Unexpected error" without stack or SQL, in
 * development too.
 */
export function createErrorMasker(logger: Logger) {
  return (error: unknown, message: string): Error => {
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (!original || original instanceof GraphQLError) return withCode(error, original);
    }
    const cause = error instanceof GraphQLError ? error.originalError : error;
    const path = error instanceof GraphQLError ? error.path : undefined;
    if (isServiceUnavailable(cause)) {
      logger.warn({ err: cause, path }, 'operation failed: a backing service is unavailable');
      return createGraphQLError('Service temporarily unavailable; retry shortly', {
        extensions: { code: 'SERVICE_UNAVAILABLE' },
        ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
      });
    }
    logger.error({ err: cause, path }, 'unexpected error');
    return createGraphQLError(message, {
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
      ...(error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {}),
    });
  };
}

function withCode(error: GraphQLError, original: GraphQLError | undefined): GraphQLError {
  // yoga attaches the parser's own error to request errors (e.g. invalid JSON); clients get the message only.
  const { originalError: _internal, ...extensions } = { ...original?.extensions, ...error.extensions };
  if (typeof extensions.code === 'string' && _internal === undefined) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: original,
    extensions: { ...extensions, code: typeof extensions.code === 'string' ? extensions.code : codeFor(error) },
  });
}

function codeFor(error: GraphQLError): string {
  if (error.message.startsWith('Syntax Error')) return 'GRAPHQL_PARSE_FAILED';
  // Variables that do not fit their declared type are the caller's bad input, named in the message.
  if (error.message.startsWith('Variable "$')) return 'BAD_USER_INPUT';
  // Pothos's own argument checks (e.g. a negative `first`) are argument errors as well.
  if (error.name === 'PothosValidationError' || error.constructor.name.endsWith('ValidationError'))
    return 'BAD_USER_INPUT';
  const status = (error.extensions.http as { status?: number } | undefined)?.status;
  if (status !== undefined && status >= 400 && status < 500) return 'BAD_REQUEST';
  return 'GRAPHQL_VALIDATION_FAILED';
}
