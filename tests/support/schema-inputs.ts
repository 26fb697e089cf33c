import {
  getNamedType,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLNamedType,
  type GraphQLObjectType,
  type GraphQLSchema,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  type OperationTypeNode,
} from 'graphql';

// Every value a client can put into an operation, enumerated from the schema: each argument of each field that
// takes arguments (root fields, and nested ones such as `Channel.members` or `Message.replies`, reached by the
// shortest path from a root field), down to each field of its input objects. An operation, argument or input
// field added later is enumerated without editing any test.

export type OperationKind = 'query' | 'mutation' | 'subscription';

interface Step {
  parent: GraphQLObjectType;
  field: GraphQLField<unknown, unknown>;
}

/** One value a client sets: an argument, or a field inside an argument's input object. */
export interface InputTarget {
  operation: OperationKind;
  /** From the root field to the field that takes the argument. */
  route: Step[];
  /** The argument, then input-object fields: `['input', 'content']`. */
  path: string[];
  /** The leaf's named type (String, ID, Int, JSON, an enum, ...). */
  type: GraphQLNamedType;
  /** The leaf is a list of such values. */
  list: boolean;
  /** `Mutation.sendMessage(input.content)`, for messages. */
  name: string;
}

/** Ids and values the filler uses to make every other argument of an operation valid. */
export interface Fillers {
  /** Ids of existing rows by what they are (`channel`, `message`, `user`, `client`, `integration`, ...). */
  ids: Record<string, string[]>;
}

const ROOTS: OperationKind[] = ['query', 'mutation', 'subscription'];

export function inputTargets(schema: GraphQLSchema): InputTarget[] {
  const routes = new Map<string, { operation: OperationKind; route: Step[] }>();
  for (const operation of ROOTS) {
    const root = schema.getRootType(operation as OperationTypeNode);
    if (!root) continue;
    const seen = new Set<string>([root.name]);
    const queue: { type: GraphQLObjectType; route: Step[] }[] = [{ type: root, route: [] }];
    while (queue.length > 0) {
      const { type, route } = queue.shift()!;
      for (const field of Object.values(type.getFields())) {
        const next = [...route, { parent: type, field }];
        const coordinate = `${type.name}.${field.name}`;
        if (field.args.length > 0 && !routes.has(coordinate)) routes.set(coordinate, { operation, route: next });
        const named = getNamedType(field.type);
        // Nested fields are reached from queries, whose fields read without side effects.
        if (operation === 'query' && isObjectType(named) && !seen.has(named.name)) {
          seen.add(named.name);
          queue.push({ type: named, route: next });
        }
      }
    }
  }
  const targets: InputTarget[] = [];
  for (const [coordinate, { operation, route }] of routes) {
    for (const argument of route.at(-1)!.field.args) {
      for (const leaf of leavesOf(argument.type, [argument.name], new Set())) {
        targets.push({ operation, route, ...leaf, name: `${coordinate}(${leaf.path.join('.')})` });
      }
    }
  }
  return targets;
}

function leavesOf(
  type: GraphQLInputType,
  path: string[],
  inside: Set<string>,
): { path: string[]; type: GraphQLNamedType; list: boolean }[] {
  const named = getNamedType(type);
  if (isInputObjectType(named)) {
    if (inside.has(named.name)) return [];
    const within = new Set([...inside, named.name]);
    return Object.values(named.getFields()).flatMap((field) => leavesOf(field.type, [...path, field.name], within));
  }
  return [{ path, type: named, list: isListType(isNonNullType(type) ? type.ofType : type) }];
}

/** The kind of row an id argument names, read from its name and its operation's (`threadId` -> message). */
function idKind(name: string, context: string, fillers: Fillers): string[] {
  const words = `${name} ${context}`.toLowerCase();
  const kinds = Object.keys(fillers.ids).sort((a, b) => b.length - a.length);
  const named = name.toLowerCase();
  const own = kinds.find((kind) => named.includes(kind)) ?? (named === 'threadid' ? 'message' : undefined);
  const fromContext = kinds.find((kind) => words.includes(kind));
  return fillers.ids[own ?? fromContext ?? ''] ?? Object.values(fillers.ids).flat();
}

let serial = 0;

/** A value the server would accept for a leaf of this name and type, as far as a name tells. */
function plausible(type: GraphQLNamedType, name: string, context: string, fillers: Fillers): unknown {
  if (isEnumType(type)) return type.getValues()[0]!.name;
  const lower = name.toLowerCase();
  switch (type.name) {
    case 'ID': {
      const ids = idKind(name, context, fillers);
      return ids[serial++ % ids.length];
    }
    case 'Int':
    case 'Float':
      return 5;
    case 'Boolean':
      return true;
    case 'JSON':
      return {};
    case 'DateTime':
      return new Date().toISOString();
    default:
      break;
  }
  serial += 1;
  if (lower.includes('email')) return `fuzz-${Date.now()}-${serial}@example.test`;
  if (lower.includes('emoji')) return '👍';
  if (lower.includes('url')) return 'https://example.com/a.png';
  if (lower.includes('phone')) return '+15550100';
  if (lower.endsWith('accountid')) return `${100000 + serial}`;
  if (lower.endsWith('userid')) return `${15550000000 + serial}`;
  if (lower.endsWith('token') || lower.endsWith('secret')) return `credential${serial}`;
  return `fuzz ${serial}`;
}

/** A value for an input type with every required field filled. */
function filled(type: GraphQLInputType, name: string, context: string, fillers: Fillers): unknown {
  if (isNonNullType(type)) return filled(type.ofType, name, context, fillers);
  if (isListType(type)) return [filled(type.ofType, name, context, fillers)];
  if (isInputObjectType(type)) {
    const value: Record<string, unknown> = {};
    for (const field of Object.values(type.getFields())) {
      if (isNonNullType(field.type) && field.defaultValue === undefined)
        value[field.name] = filled(field.type, field.name, `${context} ${type.name}`, fillers);
    }
    return value;
  }
  return plausible(type, name, context, fillers);
}

const required = (argument: GraphQLArgument) => isNonNullType(argument.type) && argument.defaultValue === undefined;

export interface BuiltOperation {
  query: string;
  variables: Record<string, unknown>;
}

/**
 * An operation that sets `target` to `value` and every other required argument (along the route too) to a
 * plausible value, so that the value reaches as far into the server as it can. `inline` writes the target's
 * argument into the document instead of passing it as a variable (falling back to a variable where a value
 * cannot be written as a GraphQL literal).
 */
export function operationFor(
  target: InputTarget,
  value: unknown,
  fillers: Fillers,
  options: { inline?: boolean } = {},
): BuiltOperation {
  const variables: Record<string, unknown> = {};
  const definitions: string[] = [];
  let selection = '__typename';
  for (let index = target.route.length - 1; index >= 0; index -= 1) {
    const { parent, field } = target.route[index]!;
    const context = `${parent.name} ${field.name}`;
    const args: string[] = [];
    for (const argument of field.args) {
      const isTarget = index === target.route.length - 1 && argument.name === target.path[0];
      if (!isTarget && !required(argument)) continue;
      const argumentValue = isTarget
        ? withValueAt(filled(argument.type, argument.name, context, fillers), target, value)
        : filled(argument.type, argument.name, context, fillers);
      const literal = isTarget && options.inline ? literalOf(argumentValue, argument.type) : undefined;
      if (literal !== undefined) {
        args.push(`${argument.name}: ${literal}`);
        continue;
      }
      const variable = `a${index}_${argument.name}`;
      definitions.push(`$${variable}: ${String(argument.type)}`);
      variables[variable] = argumentValue;
      args.push(`${argument.name}: $${variable}`);
    }
    const named = getNamedType(field.type);
    const subselection = isObjectType(named) || !('parseValue' in named) ? ` { ${selection} }` : '';
    selection = `${field.name}${args.length ? `(${args.join(', ')})` : ''}${subselection}`;
  }
  const header = definitions.length ? `(${definitions.join(', ')})` : '';
  return { query: `${target.operation} Probe${header} { ${selection} }`, variables };
}

function withValueAt(argumentValue: unknown, target: InputTarget, value: unknown): unknown {
  const leaf = target.list && !Array.isArray(value) ? [value] : value;
  if (target.path.length === 1) return leaf;
  const root = structuredClone(argumentValue) as Record<string, unknown>;
  let current = root;
  for (const key of target.path.slice(1, -1)) {
    current[key] = (current[key] as Record<string, unknown> | undefined) ?? {};
    current = current[key] as Record<string, unknown>;
  }
  current[target.path.at(-1)!] = leaf;
  return root;
}

const NAME = /^[_A-Za-z][_0-9A-Za-z]*$/;

/** A value as a GraphQL literal of the given type, or undefined where GraphQL syntax cannot express it. */
function literalOf(value: unknown, type: GraphQLInputType): string | undefined {
  if (isNonNullType(type)) return literalOf(value, type.ofType);
  if (value === null) return 'null';
  if (isListType(type)) {
    if (!Array.isArray(value)) return literalOf(value, type.ofType);
    const items = value.map((item) => literalOf(item, type.ofType));
    return items.includes(undefined) ? undefined : `[${items.join(', ')}]`;
  }
  if (isInputObjectType(type)) {
    if (typeof value !== 'object' || Array.isArray(value)) return jsonLiteral(value);
    const fields = type.getFields();
    const parts = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const field = fields[key];
      const literal = field ? literalOf(item, field.type) : jsonLiteral(item);
      return literal === undefined ? undefined : `${key}: ${literal}`;
    });
    return parts.includes(undefined) ? undefined : `{${parts.join(', ')}}`;
  }
  if (isEnumType(type) && typeof value === 'string' && NAME.test(value)) return value;
  return jsonLiteral(value);
}

/** A JSON value as a GraphQL literal (strings escaped as JSON escapes them, which GraphQL reads the same). */
function jsonLiteral(value: unknown): string | undefined {
  if (value === null) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isFinite(value) ? JSON.stringify(value) : undefined;
  if (Array.isArray(value)) {
    const items = value.map(jsonLiteral);
    return items.includes(undefined) ? undefined : `[${items.join(', ')}]`;
  }
  if (typeof value === 'object') {
    const parts = Object.entries(value as Record<string, unknown>).map(([key, item]) => {
      const literal = jsonLiteral(item);
      return NAME.test(key) && literal !== undefined ? `${key}: ${literal}` : undefined;
    });
    return parts.includes(undefined) ? undefined : `{${parts.join(', ')}}`;
  }
  return undefined;
}
