import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { GraphQLFormattedError } from 'graphql';
import type { Client } from 'graphql-ws';
import { schema } from '../../src/schema/index.js';
import { wsClient } from '../support/graphql.js';
import {
  breakage,
  forgedCursors,
  HOSTILE_NUMBERS,
  HOSTILE_STRINGS,
  hostileJson,
  recordingLogger,
} from '../support/hostile.js';
import { type InputTarget, inputTargets, operationFor } from '../support/schema-inputs.js';
import { startServer, type TestServer } from '../support/server.js';
import { seedWorld, type World } from '../support/world.js';

// Every value a client can set (each argument of each operation, and of nested fields such as
// `Channel.members`, down to each field of its input objects; enumerated from the schema, so operations added
// later are covered without editing this file) gets hostile values, with every other argument filled in so
// that the value travels as far into the server as it can: strings PostgreSQL cannot store, huge ones, control
// characters, SQL and JSON fragments, forged, damaged and misplaced cursors, out-of-range numbers, and JSON
// nested deep or shaped to confuse. Whatever the answer, it is never INTERNAL_SERVER_ERROR (or
// SERVICE_UNAVAILABLE), never carries a stack or SQL, and nothing is logged as an error.
// FUZZ_RUNS sets the random runs (default 200); FUZZ_SEED replays a failing run with the seed it printed.

const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const CONCURRENCY = 8;
/** How long a subscription that was accepted is watched for an error before it counts as answered. */
const SUBSCRIPTION_WATCH_MS = 300;

let server: TestServer;
let world: World;
let targets: InputTarget[];
const recorder = recordingLogger();
const sockets: Client[] = [];

beforeAll(async () => {
  server = await startServer({ logger: recorder.logger });
  world = await seedWorld(server);
  targets = inputTargets(schema);
  for (let index = 0; index < CONCURRENCY; index += 1) sockets.push(wsClient(server.wsUrl, world.org.admin.token));
});
afterAll(async () => {
  await Promise.all(sockets.map((socket) => socket.dispose()));
  await server?.stop();
});

const isCursor = (target: InputTarget) =>
  target.type.name === 'String' && target.path.length === 1 && ['after', 'before'].includes(target.path[0]!);

/** `count` values of each kind, different ones for each target, so that every value is sent somewhere. */
const ofEachKind = (kinds: Record<string, unknown[]>, index: number, count = 1) =>
  Object.values(kinds).flatMap((values) =>
    Array.from(
      { length: Math.min(count, values.length) },
      (_, offset) => values[(index * count + offset) % values.length],
    ),
  );

/** The hostile values the `index`th target gets, by what it is. */
function hostileValuesFor(target: InputTarget, index: number): unknown[] {
  if (isCursor(target)) {
    const { nul, surrogate, huge, blank } = HOSTILE_STRINGS;
    return [
      ...ofEachKind(forgedCursors(Object.values(world.cursors)), index, 3),
      ...ofEachKind({ nul, surrogate, huge, blank }, index),
    ];
  }
  switch (target.type.name) {
    case 'String':
    case 'ID':
    case 'DateTime':
      return ofEachKind(HOSTILE_STRINGS, index);
    case 'Int':
    case 'Float':
      return HOSTILE_NUMBERS;
    case 'JSON':
      return hostileJson();
    case 'Boolean':
      return ['true', 1, null];
    default:
      return ['NOT_A_VALUE', 'admin', 1, null];
  }
}

/** Values also written into the document itself (where GraphQL syntax can hold them). */
const INLINE = new Set<unknown>([
  ...HOSTILE_STRINGS.nul,
  ...HOSTILE_STRINGS.surrogate,
  ...HOSTILE_STRINGS.sql,
  -1,
  2 ** 31,
]);

interface Probe {
  target: InputTarget;
  value: unknown;
  inline: boolean;
}

interface Answer {
  status?: number;
  text: string;
  errors?: readonly GraphQLFormattedError[];
}

async function overHttp(query: string, variables: Record<string, unknown>): Promise<Answer> {
  const response = await fetch(server.graphqlUrl, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      authorization: `Bearer ${world.org.admin.token}`,
    },
    body: JSON.stringify({ query, variables }),
  });
  const text = await response.text();
  let errors: GraphQLFormattedError[] | undefined;
  try {
    errors = (JSON.parse(text) as { errors?: GraphQLFormattedError[] }).errors;
  } catch {
    errors = undefined;
  }
  return { status: response.status, text, errors };
}

/** A subscription's first answer over graphql-ws, or none after a while (a subscription accepted and waiting). */
function overWebSocket(socket: Client, query: string, variables: Record<string, unknown>): Promise<Answer> {
  return new Promise((resolve) => {
    let stop = () => {};
    const finish = (answer: Answer) => {
      clearTimeout(timer);
      stop();
      resolve(answer);
    };
    const timer = setTimeout(() => finish({ text: '' }), SUBSCRIPTION_WATCH_MS);
    stop = socket.subscribe(
      { query, variables },
      {
        next: (result) => finish({ text: JSON.stringify(result), errors: result.errors }),
        error: (error) => {
          const errors = Array.isArray(error) ? (error as GraphQLFormattedError[]) : undefined;
          finish({ text: JSON.stringify(errors ?? String(error)), errors: errors ?? [{ message: String(error) }] });
        },
        complete: () => finish({ text: '' }),
      },
    );
  });
}

const preview = (value: unknown) => {
  const text = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
  return text.length > 80 ? `${text.slice(0, 80)}… (${text.length})` : text;
};

/** What went wrong with one probe, or undefined. */
async function attack({ target, value, inline }: Probe, socket: Client): Promise<string | undefined> {
  const { query, variables } = operationFor(target, value, world.fillers, { inline });
  const answer =
    target.operation === 'subscription'
      ? await overWebSocket(socket, query, variables)
      : await overHttp(query, variables);
  const problem = breakage(answer);
  return problem && `${target.name} = ${preview(value)}${inline ? ' (inline)' : ''}: ${problem}`;
}

/** Runs the probes a few at a time and lists what went wrong. */
async function attackAll(probes: Probe[]): Promise<string[]> {
  const problems: string[] = [];
  let next = 0;
  await Promise.all(
    sockets.map(async (socket) => {
      while (next < probes.length) {
        const problem = await attack(probes[next++]!, socket);
        if (problem) problems.push(problem);
      }
    }),
  );
  return problems;
}

describe('every input of the schema under hostile values', () => {
  it('covers every operation, argument and input field, cursors included', () => {
    const roots = [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()];
    const withArguments = roots.flatMap((root) =>
      Object.values(root?.getFields() ?? {})
        .filter((field) => field.args.length > 0)
        .map((field) => `${root!.name}.${field.name}`),
    );
    const covered = new Set(targets.map((target) => target.name.replace(/\(.*$/, '')));
    expect(withArguments.filter((operation) => !covered.has(operation))).toEqual([]);
    expect(targets.filter(isCursor).map((target) => target.name)).toEqual(
      expect.arrayContaining([
        'Query.messages(after)',
        'Query.channels(before)',
        'Channel.members(after)',
        'Message.replies(before)',
        'Subscription.viewerEvents(after)',
      ]),
    );
  });

  it('answers each hostile value in each input without breaking', async () => {
    const probes = targets.flatMap((target, index) =>
      hostileValuesFor(target, index).flatMap((value) => [
        { target, value, inline: false },
        ...(INLINE.has(value) ? [{ target, value, inline: true }] : []),
      ]),
    );
    expect(await attackAll(probes)).toEqual([]);
  }, 120_000);

  it('answers random values in random inputs without breaking', async () => {
    const probe = fc.record({
      target: fc.constantFrom(...targets),
      value: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.string({ unit: 'grapheme', maxLength: 50 }),
        fc.jsonValue({ maxDepth: 4 }),
        fc.integer(),
        fc.double(),
        fc.constantFrom(...Object.values(forgedCursors(Object.values(world.cursors))).flat()),
      ),
      inline: fc.boolean(),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(probe, { minLength: CONCURRENCY, maxLength: CONCURRENCY }), async (batch) => {
        expect(await attackAll(batch)).toEqual([]);
      }),
      { numRuns: Math.ceil(RUNS / CONCURRENCY), seed: SEED },
    );
  }, 120_000);

  it('logged no unexpected error, and still serves normally', async () => {
    expect(recorder.problems()).toEqual([]);
    const answer = await overHttp('{ viewer { id } }', {});
    expect(JSON.parse(answer.text)).toEqual({ data: { viewer: { id: world.org.admin.id } } });
  });
});
