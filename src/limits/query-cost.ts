import {
  type DocumentNode,
  type ExecutionArgs,
  type FieldNode,
  type FragmentDefinitionNode,
  getNamedType,
  getNullableType,
  type GraphQLError,
  type GraphQLField,
  type GraphQLNamedType,
  isInterfaceType,
  isListType,
  isObjectType,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  validate,
  type ValidationRule,
  type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { queryTooComplex } from '../lib/errors.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../schema/pagination.js';

export interface QueryCostOptions {
  maxCost: number;
  /** The request's variables, for `first: $first`. */
  variables?: Record<string, unknown> | null;
  /** Only this operation is priced (the one that runs); all of them when absent. */
  operationName?: string | null;
}

/**
 * A validation rule that prices an operation by the fields it would resolve: every field costs 1 each time it
 * is resolved, and a list resolves its fields once per item. A list's length is what the client asked for:
 * `first` / `last` (literal or variable) on the list field itself or on the connection field around its
 * `edges` / `nodes`, 20 when the field takes them but neither is given, at most 100 (larger values are refused
 * by the connection's own argument check); lists without paging arguments count as 20. `__typename` is free,
 * and introspection is left to INTROSPECTION_ENABLED.
 *
 *     users(first: 50) { edges { node { id displayName } } pageInfo { hasNextPage } }
 *     = users 1 + edges 1 + 50 × (node 1 + id 1 + displayName 1) + pageInfo 1 + hasNextPage 1 = 154
 *
 * It needs the variables, which validation does not have, so `useQueryCost` runs it just before execution.
 */
export function queryCostRule(options: QueryCostOptions): ValidationRule {
  return (context) => ({
    OperationDefinition(operation) {
      if (options.operationName && operation.name?.value !== options.operationName) return;
      const estimator = new CostEstimator(
        context.getSchema().getRootType(operation.operation) ?? undefined,
        (name) => context.getFragment(name) ?? undefined,
        (name) => context.getSchema().getType(name) ?? undefined,
        variableValues(operation, options.variables ?? {}),
      );
      const cost = estimator.operationCost(operation);
      if (cost > options.maxCost) {
        context.reportError(queryTooComplex(`Query cost limit of ${options.maxCost} exceeded, found ${cost}.`));
      }
    },
  });
}

/** Runs the cost rule on every query, mutation and subscription, on HTTP and graphql-ws, before it executes. */
export function useQueryCost(maxCost: number): Plugin {
  // An operation's cost depends on its document and on the numbers among its variables (page sizes) only. yoga
  // hands over the same document object for the same query text, so each verdict is remembered per document:
  // a client repeating a mutation is priced once, not at every request.
  const verdicts = new WeakMap<DocumentNode, Map<string, readonly GraphQLError[]>>();
  const check = (args: ExecutionArgs) => {
    let known = verdicts.get(args.document);
    if (!known) verdicts.set(args.document, (known = new Map()));
    const key = `${args.operationName ?? ''}\u0000${numbersOf(args.variableValues)}`;
    let errors = known.get(key);
    if (!errors) {
      errors = validate(args.schema, args.document, [
        queryCostRule({ maxCost, variables: args.variableValues, operationName: args.operationName }),
      ]);
      if (known.size >= MAX_VERDICTS_PER_DOCUMENT) known.clear();
      known.set(key, errors);
    }
    return errors;
  };
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const errors = check(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const errors = check(args);
      if (errors.length > 0) setResultAndStopExecution({ errors });
    },
  };
}

const MAX_VERDICTS_PER_DOCUMENT = 256;

/** The variables that can change a price: numbers, by name. */
function numbersOf(variables: ExecutionArgs['variableValues']): string {
  if (!variables) return '';
  return Object.entries(variables)
    .filter(([, value]) => typeof value === 'number')
    .map(([name, value]) => `${name}=${String(value)}`)
    .join(',');
}

class CostEstimator {
  // Each fragment is priced once per (fragment, page size handed to it): fragments that spread each other
  // many times over cannot make the estimate itself expensive.
  private readonly fragmentCosts = new Map<string, number>();
  private readonly fragmentsInProgress = new Set<string>();

  constructor(
    private readonly rootType: GraphQLNamedType | undefined,
    private readonly fragment: (name: string) => FragmentDefinitionNode | undefined,
    private readonly type: (name: string) => GraphQLNamedType | undefined,
    private readonly variables: Map<string, unknown>,
  ) {}

  operationCost(operation: OperationDefinitionNode): number {
    return this.selectionSetCost(operation.selectionSet, this.rootType, undefined);
  }

  /**
   * The cost of resolving a selection set once on `parentType`. `pageSize` is set only for the direct fields of
   * a connection: the page its `first` / `last` asked for, which its list field (`edges`) resolves to.
   */
  private selectionSetCost(
    selectionSet: SelectionSetNode,
    parentType: GraphQLNamedType | undefined,
    pageSize: number | undefined,
  ): number {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        cost += this.fieldCost(selection, parentType, pageSize);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        const type = selection.typeCondition ? this.type(selection.typeCondition.name.value) : parentType;
        cost += this.selectionSetCost(selection.selectionSet, type, pageSize);
      } else {
        cost += this.fragmentCost(selection.name.value, pageSize);
      }
    }
    return cost;
  }

  private fragmentCost(name: string, pageSize: number | undefined): number {
    const key = `${name}:${pageSize}`;
    const known = this.fragmentCosts.get(key);
    if (known !== undefined) return known;
    const fragment = this.fragment(name);
    // A cycle (or an unknown fragment) is reported by GraphQL's own rules; here it adds nothing.
    if (!fragment || this.fragmentsInProgress.has(name)) return 0;
    this.fragmentsInProgress.add(name);
    const cost = this.selectionSetCost(fragment.selectionSet, this.type(fragment.typeCondition.name.value), pageSize);
    this.fragmentsInProgress.delete(name);
    this.fragmentCosts.set(key, cost);
    return cost;
  }

  private fieldCost(field: FieldNode, parentType: GraphQLNamedType | undefined, pageSize: number | undefined): number {
    const name = field.name.value;
    if (name === '__typename' || name === '__schema' || name === '__type') return 0;
    const definition =
      parentType && (isObjectType(parentType) || isInterfaceType(parentType))
        ? parentType.getFields()[name]
        : undefined;
    // Unknown fields are GraphQL's own rules' business; leaves cost their one resolution.
    if (!definition || !field.selectionSet) return 1;
    const requested = this.requestedPageSize(field, definition);
    const itemType = getNamedType(definition.type);
    if (isListType(getNullableType(definition.type))) {
      const length = requested ?? pageSize ?? DEFAULT_PAGE_SIZE;
      return 1 + length * this.selectionSetCost(field.selectionSet, itemType, undefined);
    }
    return 1 + this.selectionSetCost(field.selectionSet, itemType, requested);
  }

  /** For a field taking `first` / `last`: the larger one given, 20 when neither is, within 0..100. */
  private requestedPageSize(field: FieldNode, definition: GraphQLField<unknown, unknown>): number | undefined {
    const paged = definition.args.some((arg) => arg.name === 'first' || arg.name === 'last');
    if (!paged) return undefined;
    const sizes = (field.arguments ?? [])
      .filter((argument) => argument.name.value === 'first' || argument.name.value === 'last')
      .map((argument) => this.numberValue(argument.value))
      .filter((size): size is number => size !== undefined);
    const size = sizes.length > 0 ? Math.max(...sizes) : DEFAULT_PAGE_SIZE;
    return Math.min(Math.max(size, 0), MAX_PAGE_SIZE);
  }

  private numberValue(value: ValueNode): number | undefined {
    if (value.kind === Kind.INT) return Number.parseInt(value.value, 10);
    if (value.kind !== Kind.VARIABLE) return undefined;
    const given = this.variables.get(value.name.value);
    return typeof given === 'number' && Number.isFinite(given) ? given : undefined;
  }
}

/** The operation's variables as given, or their declared defaults (`$first: Int = 50`) when not given at all. */
function variableValues(operation: OperationDefinitionNode, given: Record<string, unknown>): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const definition of operation.variableDefinitions ?? []) {
    const name = definition.variable.name.value;
    const fallback = definition.defaultValue?.kind === Kind.INT ? Number(definition.defaultValue.value) : undefined;
    values.set(name, name in given ? given[name] : fallback);
  }
  return values;
}
