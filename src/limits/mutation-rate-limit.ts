import { type DocumentNode, type FragmentDefinitionNode, getOperationAST, Kind, type SelectionSetNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AppConfig } from '../config.js';
import { rateLimited } from '../lib/errors.js';
import type { GraphQLContext } from '../schema/context.js';
import type { RateLimits } from './rate-limits.js';

/**
 * Mutations are rate-limited per IP address (always) and per user (when authenticated), on HTTP and graphql-ws
 * alike since both execute through yoga's plugins. Each root mutation field is one unit, so ten aliased
 * `sendMessage`s in one request count as ten. Over a limit the whole operation is refused before any resolver
 * runs: RATE_LIMITED with `retryAfter`, and on HTTP a 429 with Retry-After. Both limits lease units (see
 * RateLimitPolicy.leaseUnits), so that a subject well below them is decided without a round trip to Redis.
 */
export function useMutationRateLimit(rateLimits: RateLimits, limits: AppConfig['rateLimits']): Plugin<GraphQLContext> {
  const perIp = {
    name: 'mutations-per-ip',
    limit: limits.mutationsPerIp,
    windowMs: limits.windowMs,
    leaseUnits: leaseUnitsFor(limits.mutationsPerIp),
  };
  const perUser = {
    name: 'mutations-per-user',
    limit: limits.mutationsPerUser,
    windowMs: limits.windowMs,
    leaseUnits: leaseUnitsFor(limits.mutationsPerUser),
  };
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const document: DocumentNode = args.document;
      const operation = getOperationAST(document, args.operationName);
      if (operation?.operation !== 'mutation') return;
      const units = rootFieldCount(operation.selectionSet, fragmentsOf(document));
      if (units === 0) return;
      const { session, clientAddress } = args.contextValue;
      const refusal = await rateLimits.consume(
        [
          { policy: perIp, subject: `ip:${clientAddress}` },
          ...(session.isAuthenticated ? [{ policy: perUser, subject: `user:${session.viewer.id}` }] : []),
        ],
        units,
      );
      if (refusal) setResultAndStopExecution({ errors: [rateLimited(refusal.reason, refusal.retryAfterSeconds)] });
    },
  };
}

/**
 * A twentieth of the limit, at most 64: each other instance can then refuse a subject at most 5 % early, and a
 * limit under 40 stays exact (no lease).
 */
function leaseUnitsFor(limit: number): number {
  return Math.min(64, Math.floor(limit / 20));
}

function fragmentsOf(document: DocumentNode): Map<string, FragmentDefinitionNode> {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  return fragments;
}

// The document has passed validation by now, so fragment spreads resolve and never cycle.
function rootFieldCount(selectionSet: SelectionSetNode, fragments: Map<string, FragmentDefinitionNode>): number {
  let count = 0;
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) count += selection.name.value === '__typename' ? 0 : 1;
    else if (selection.kind === Kind.INLINE_FRAGMENT) count += rootFieldCount(selection.selectionSet, fragments);
    else {
      const fragment = fragments.get(selection.name.value);
      if (fragment) count += rootFieldCount(fragment.selectionSet, fragments);
    }
  }
  return count;
}
