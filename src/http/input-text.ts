import {
  type ArgumentNode,
  type DirectiveNode,
  type ExecutionArgs,
  type FragmentDefinitionNode,
  getOperationAST,
  Kind,
  type SelectionSetNode,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { invalidInput } from '../lib/errors.js';
import { textProblem } from '../lib/text.js';

/** How deeply an argument value may nest (input objects, lists, JSON): far beyond any real input. */
export const MAX_INPUT_DEPTH = 32;
/** A request with more bad strings than this is answered with the first ones. */
const MAX_REPORTED = 10;

/**
 * Every string an operation hands to a resolver, checked before anything runs: argument values written in the
 * document and those passed as variables, at any depth (input objects, lists, strings and keys inside JSON),
 * on HTTP and graphql-ws alike (both execute through yoga's plugins). A string that is not storable text is
 * BAD_USER_INPUT naming its argument path, like every other input check (`input.content`,
 * `input.settings.labels.0`); so is a value nested deeper than MAX_INPUT_DEPTH. Each new operation, argument
 * or input field is covered without doing anything.
 */
export function useWellFormedText(): Plugin {
  const check = (args: ExecutionArgs, stop: (result: { errors: Error[] }) => void) => {
    const issues = inputTextIssues(args);
    if (issues.length > 0) stop({ errors: [invalidInput(issues)] });
  };
  return {
    onExecute: ({ args, setResultAndStopExecution }) => check(args, setResultAndStopExecution),
    onSubscribe: ({ args, setResultAndStopExecution }) => check(args, setResultAndStopExecution),
  };
}

interface Issue {
  field: string;
  message: string;
}

/** The bad strings of the operation that runs (none when there is no such operation: execution reports that). */
export function inputTextIssues(args: Pick<ExecutionArgs, 'document' | 'operationName' | 'variableValues'>): Issue[] {
  const operation = getOperationAST(args.document, args.operationName);
  if (!operation) return [];
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of args.document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const inspector = new InputInspector(fragments, args.variableValues ?? {}, operation.variableDefinitions ?? []);
  inspector.directives(operation.directives);
  inspector.selectionSet(operation.selectionSet);
  return inspector.issues;
}

class InputInspector {
  readonly issues: Issue[] = [];
  private readonly reported = new Set<string>();
  private readonly visitedFragments = new Set<string>();
  private readonly defaults = new Map<string, ValueNode>();

  constructor(
    private readonly fragments: Map<string, FragmentDefinitionNode>,
    private readonly variables: Readonly<Record<string, unknown>>,
    definitions: readonly VariableDefinitionNode[],
  ) {
    for (const definition of definitions) {
      if (definition.defaultValue) this.defaults.set(definition.variable.name.value, definition.defaultValue);
    }
  }

  selectionSet(selectionSet: SelectionSetNode): void {
    for (const selection of selectionSet.selections) {
      if (this.full()) return;
      this.directives(selection.directives);
      if (selection.kind === Kind.FIELD) {
        this.arguments(selection.arguments);
        if (selection.selectionSet) this.selectionSet(selection.selectionSet);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        this.selectionSet(selection.selectionSet);
      } else if (!this.visitedFragments.has(selection.name.value)) {
        this.visitedFragments.add(selection.name.value);
        const fragment = this.fragments.get(selection.name.value);
        if (fragment) {
          this.directives(fragment.directives);
          this.selectionSet(fragment.selectionSet);
        }
      }
    }
  }

  directives(directives: readonly DirectiveNode[] | undefined): void {
    for (const directive of directives ?? []) this.arguments(directive.arguments);
  }

  private arguments(args: readonly ArgumentNode[] | undefined): void {
    for (const argument of args ?? []) this.literal(argument.value, [argument.name.value]);
  }

  /** A value written in the document; variables in it are followed to the value the client passed. */
  private literal(node: ValueNode, path: string[]): void {
    if (this.tooDeep(path)) return;
    switch (node.kind) {
      case Kind.STRING:
        return this.text(node.value, path);
      case Kind.LIST:
        return node.values.forEach((item, index) => this.literal(item, [...path, String(index)]));
      case Kind.OBJECT:
        return node.fields.forEach((field) => this.literal(field.value, [...path, field.name.value]));
      case Kind.VARIABLE: {
        const name = node.name.value;
        if (Object.hasOwn(this.variables, name)) return this.value(this.variables[name], path);
        const fallback = this.defaults.get(name);
        if (fallback) this.literal(fallback, path);
        return;
      }
      default:
        return;
    }
  }

  /** A value as the client passed it in the variables (plain JSON). */
  private value(value: unknown, path: string[]): void {
    if (this.full() || this.tooDeep(path)) return;
    if (typeof value === 'string') return this.text(value, path);
    if (Array.isArray(value)) return value.forEach((item, index) => this.value(item, [...path, String(index)]));
    if (value === null || typeof value !== 'object') return;
    for (const [key, item] of Object.entries(value)) {
      const problem = textProblem(key);
      if (problem) this.report(path, `keys ${problem}`);
      else this.value(item, [...path, key]);
    }
  }

  private text(value: string, path: string[]): void {
    const problem = textProblem(value);
    if (problem) this.report(path, problem);
  }

  private tooDeep(path: string[]): boolean {
    if (path.length <= MAX_INPUT_DEPTH) return false;
    this.report(path.slice(0, MAX_INPUT_DEPTH), `must not nest more than ${MAX_INPUT_DEPTH} levels deep`);
    return true;
  }

  private report(path: string[], message: string): void {
    const field = path.join('.');
    const key = `${field}\n${message}`;
    if (this.reported.has(key) || this.full()) return;
    this.reported.add(key);
    this.issues.push({ field, message });
  }

  private full(): boolean {
    return this.issues.length >= MAX_REPORTED;
  }
}
