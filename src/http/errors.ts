import { type ExecutionArgs, type ExecutionResult, GraphQLError } from 'graphql';
import { createGraphQLError, isAsyncIterable, type Plugin } from 'graphql-yoga';
import { isServiceUnavailable } from '../lib/errors.js';
import type { Logger } from '../logger.js';
import { requestIdIn } from '../schema/context.js';

/** What an unexpected error says to clients (yoga's own wording, given to it as well). */
export const UNEXPECTED_ERROR = 'Unexpected error.';

/** One error handling for both transports: what is logged once is known to both. */
export type ErrorHandling = ReturnType<typeof createErrorHandling>;

/**
 * yoga's `maskError`, made explicit, and the plugin that logs what it hides. Expected failures (GraphQLErrors
 * raised on purpose, and GraphQL's own syntax, validation and variable errors) keep their message and always
 * carry `extensions.code`; anything else is replaced by a plain "Unexpected error" without stack or SQL, in
 * development too, and logged with the id of the request or graphql-ws operation it happened in. The plugin
 * (listed before yoga's masking, so that it sees results first) knows that id from the context; the masker,
 * which is not given the context, logs only what reaches it unlogged (a failing context factory, say).
 *
 * With `suggestions` off (SUGGESTIONS_ENABLED), GraphQL's "Did you mean ...?" hints are taken out of every error
 * of both transports: validation errors as the plugin sees them (yoga does not mask those), all others in the
 * masker. They name fields, arguments, types, enum values and input fields, i.e. they hand out the schema that a
 * disabled introspection keeps to itself.
 */
export function createErrorHandling(logger: Logger, options: { suggestions: boolean }) {
  const logged = new WeakSet<object>();
  const log = (error: unknown, requestId: string | undefined) => {
    const cause = error instanceof GraphQLError ? error.originalError : error;
    if (!cause || cause instanceof GraphQLError || (typeof cause === 'object' && logged.has(cause))) return;
    if (typeof cause === 'object') logged.add(cause);
    const path = error instanceof GraphQLError ? error.path : undefined;
    if (isServiceUnavailable(cause))
      logger.warn({ err: cause, path, requestId }, 'operation failed: a backing service is unavailable');
    else logger.error({ err: cause, path, requestId }, 'unexpected error');
  };
  const logResult = (result: ExecutionResult, context: unknown) => {
    if (!result.errors) return;
    const requestId = requestIdIn(context);
    for (const error of result.errors) log(error, requestId);
  };

  const maskError = (error: unknown, message: string): Error => {
    if (error instanceof GraphQLError) {
      const original = error.originalError;
      if (!original || original instanceof GraphQLError) {
        const shown = expected(error, original);
        return options.suggestions ? shown : withoutSuggestion(shown);
      }
    }
    log(error, undefined);
    const cause = error instanceof GraphQLError ? error.originalError : error;
    const position = error instanceof GraphQLError ? { nodes: error.nodes, path: error.path } : {};
    if (isServiceUnavailable(cause)) {
      return createGraphQLError('Service temporarily unavailable; retry shortly', {
        extensions: { code: 'SERVICE_UNAVAILABLE' },
        ...position,
      });
    }
    return createGraphQLError(message, { extensions: { code: 'INTERNAL_SERVER_ERROR' }, ...position });
  };

  /** A result as clients get it, its unexpected errors logged first: what yoga's masking does to each result. */
  const finishResult = (result: ExecutionResult, context: unknown): ExecutionResult => {
    if (!result.errors) return result;
    logResult(result, context);
    return { ...result, errors: result.errors.map((error) => maskError(error, UNEXPECTED_ERROR) as GraphQLError) };
  };

  // Hooks made once, not per operation (each is given the operation's args): an idle subscription holds
  // only what it must (the error hook, which is not given them).
  const eachResultLogged = {
    onNext: ({ args, result }: { args: ExecutionArgs; result: ExecutionResult }) =>
      logResult(result, args.contextValue),
  };
  const logSubscribeResult = ({ args, result }: { args: ExecutionArgs; result: unknown }) =>
    isAsyncIterable(result) ? eachResultLogged : logResult(result as ExecutionResult, args.contextValue);
  const plugin: Plugin = {
    onExecute: ({ args }) => ({
      onExecuteDone: ({ result }) => {
        if (!isAsyncIterable(result)) logResult(result, args.contextValue);
      },
    }),
    onSubscribe: ({ args }) => ({
      onSubscribeResult: logSubscribeResult,
      onSubscribeError: ({ error }) => log(error, requestIdIn(args.contextValue)),
    }),
    ...(options.suggestions
      ? {}
      : {
          onValidate:
            () =>
            ({ result, setResult }) => {
              if (result.length > 0)
                setResult(result.map((error) => (error instanceof GraphQLError ? withoutSuggestion(error) : error)));
            },
        }),
  };

  return { maskError, finishResult, plugin };
}

// graphql-js ends a message with its hint: `Did you mean "email"?`, `Did you mean the enum value "CLIENT"?`,
// `Did you mean to use an inline fragment on "MessageEvent" or "ReactionEvent"?`. Everything from the first one
// on goes, so that no hint survives whatever a caller's own input (quoted earlier in the message) contains.
const SUGGESTION = /\s*Did you mean\b[\s\S]*$/;

function withoutSuggestion(error: GraphQLError): GraphQLError {
  const message = error.message.replace(SUGGESTION, '');
  if (message === error.message) return error;
  return new GraphQLError(message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    originalError: error.originalError,
    extensions: error.extensions,
  });
}

/** An expected error as clients get it: with a code and without internals. */
function expected(error: GraphQLError, original: GraphQLError | undefined): GraphQLError {
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
