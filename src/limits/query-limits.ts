import { EnvelopArmor } from '@escape.tech/graphql-armor';
import type { GraphQLArmorRejectCallback } from '@escape.tech/graphql-armor-types';
import type { ValidationRule } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLLimits } from '../config.js';
import { introspectionDisabled, queryTooComplex } from '../lib/errors.js';
import { useQueryCost } from './query-cost.js';

/**
 * The yoga plugins that bound what one GraphQL request may ask for. They run wherever yoga's envelop runs, so
 * graphql-ws operations get them exactly like HTTP requests. Every refusal is a QUERY_TOO_COMPLEX error naming
 * the limit and the value found (or INTROSPECTION_DISABLED).
 *
 * - tokens (GraphQL Armor, while parsing: a huge document is refused before it is built),
 * - depth, aliases and directives (GraphQL Armor, as validation rules, cached with the validation),
 * - cost (our own rule, since it needs the page sizes from the variables: just before execution),
 * - introspection, when it is disabled.
 *
 * ("Did you mean ...?" hints are taken out where every error passes, see errors.ts: Armor's blocker sees only
 * validation errors, and misses enum values and type conditions even there.)
 */
export function queryLimitPlugins(limits: GraphQLLimits): Plugin[] {
  // Armor's errors are "Syntax Error: ..." without a code; ours say what they are.
  const report: GraphQLArmorRejectCallback = (context, error) => {
    const refusal = queryTooComplex(error.message.replace(/^Syntax Error: /, ''));
    // The token limit runs inside the parser, where there is no validation context and throwing stops parsing.
    if (!context) throw refusal;
    context.reportError(refusal);
  };
  const limit = (n: number) => ({ enabled: n > 0, n, onReject: [report], propagateOnRejection: false });
  const armor = new EnvelopArmor({
    maxTokens: limit(limits.maxTokens),
    maxDepth: { ...limit(limits.maxDepth), ignoreIntrospection: true },
    maxAliases: limit(limits.maxAliases),
    maxDirectives: limit(limits.maxDirectives),
    // Armor's cost limit ignores list sizes; useQueryCost replaces it.
    costLimit: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  });
  return [
    ...(armor.protect().plugins as Plugin[]),
    ...(limits.introspection ? [] : [useNoIntrospection()]),
    ...(limits.maxCost > 0 ? [useQueryCost(limits.maxCost)] : []),
  ];
}

const noIntrospection: ValidationRule = (context) => ({
  Field(field) {
    const name = field.name.value;
    if (name === '__schema' || name === '__type') context.reportError(introspectionDisabled(name));
  },
});

function useNoIntrospection(): Plugin {
  return {
    onValidate({ addValidationRule }) {
      addValidationRule(noIntrospection);
    },
  };
}
