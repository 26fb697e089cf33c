import type { GraphQLFormattedError } from 'graphql';
import { createLogger, type Logger } from '../../src/logger.js';

// What attacks send, and what no answer to them may contain.

/** Traces of a leaked internal failure in a response body. Nothing a test sends looks like these. */
export const LEAKS = [
  /\bat [\w$.<>[\] ]+\(?(file:\/\/|\/)[^)\s]*:\d+:\d+\)?/, // a stack frame
  /node_modules|\/src\/\w+/,
  /Invalid `prisma|PrismaClient|P\d{4}\b|DriverAdapterError/,
  /syntax error at or near|relation "[^"]+" does not exist|violates [\w ]*constraint|duplicate key value/,
];

/** Codes that mean the server broke (or told the client to retry forever) rather than refused the input. */
const BROKEN_CODES = ['INTERNAL_SERVER_ERROR', 'SERVICE_UNAVAILABLE'];

/** What is wrong with an answer to hostile input, or undefined when it is a proper answer. */
export function breakage(
  answer: { status?: number; text: string; errors?: readonly GraphQLFormattedError[] },
  allowedStatuses = [200, 400, 413, 429],
): string | undefined {
  if (answer.status !== undefined && !allowedStatuses.includes(answer.status)) return `HTTP ${answer.status}`;
  for (const leak of LEAKS) if (leak.test(answer.text)) return `internal detail leaked (${leak})`;
  for (const error of answer.errors ?? []) {
    const code = error.extensions?.code;
    if (typeof code !== 'string') return `an error without a code: ${error.message}`;
    if (BROKEN_CODES.includes(code)) return `${code}: ${error.message}`;
  }
  return undefined;
}

/** A logger that keeps what the app logs at warn level and above, for tests that check nothing went wrong. */
export function recordingLogger(): { logger: Logger; problems: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void lines.push(line) } });
  const problems = () =>
    lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      // pino levels: 50 error, 60 fatal.
      .filter((entry) => typeof entry.level === 'number' && entry.level >= 50);
  return { logger, problems };
}

const base64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');
const base64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const NIL = '00000000-0000-0000-0000-000000000000';
const MAX = 'ffffffff-ffff-ffff-ffff-ffffffffffff';

/** Strings an attacker types into any field, by kind. */
export const HOSTILE_STRINGS = {
  nul: ['a\u0000b', '\u0000'],
  surrogate: ['\ud800', 'x\udfffy', '\udc00\ud800'],
  huge: ['x'.repeat(60_000), 'é'.repeat(3_000)],
  control: ['\u0001\u0007\b\t\n\r\u001b[31m\u007f\u0085\u2028\u2029\ufeff\u200b\u202e', '\u200d', 'a\u0301'],
  blank: ['', '   '],
  sql: ["' OR '1'='1", "'; DROP TABLE messages; --", '" OR ""="', '\\', '$1', '%_%'],
  json: ['{"a":', '\\u0000', 'null', '[]', '__proto__'],
  ids: [NIL, MAX, 'F47AC10B-58CC-4372-A567-0E02B2C3D479', 'not-a-uuid'],
  numbers: ['9999999999999999999999', '-1', 'NaN', '1e309', '275760-09-13T00:00:00.001Z'],
  emoji: ['👨‍👩‍👧‍👦', '🏳️‍🌈x'],
};

/**
 * Cursors the server never issued, by kind: forged message cursors (out of range, ahead of anything, naming no
 * message), forged record cursors (keys of the wrong shape), damaged and misplaced issued ones.
 */
export function forgedCursors(issued: string[]): Record<'message' | 'record' | 'damaged' | 'issued', string[]> {
  const m1 = [
    `m1:1:9999999999999999999:${NIL}`,
    `m1:9999999999999999999:1:${NIL}`,
    `m1:9223372036854775807:1700000000000000:${NIL}`,
    `m1:1:9223372036854775807:${NIL}`,
    `m1:1:-9223372036854775808:${NIL}`,
    `m1:1:-1:${NIL}`,
    `m1:0:0:${NIL}`,
    `m1:1:1700000000000000:${MAX}`,
    `m1:1:1.5:${NIL}`,
    `m1::1:${NIL}`,
    `m1:1:1:${NIL}\u0000`,
    `m1:1:1:${NIL}:extra`,
    'm2:1:1',
  ].map(base64url);
  const prisma = [
    'R1BDOk46NQ==',
    'GPC:S:not-a-uuid',
    'GPC:S:',
    `GPC:S:${NIL}\u0000`,
    'GPC:I:99999999999999999999999',
    'GPC:D:99999999999999999',
    'GPC:D:-99999999999999999',
    'GPC:O:{"a":1}',
    'GPC:O:{',
    'GPC:T:["S:x"]',
    `GPC:T:["S:${NIL}","S:${NIL}","S:${NIL}"]`,
    'GPC:T:[1,2]',
    'GPC:T:{}',
    'GPC:J:[1,2]',
    'GPC:B:!!!',
    'GPC:Z:',
    'GPC:M:1e999',
    'GPC:X:1',
    'GPC:',
  ].map(base64);
  const damaged = issued.flatMap((cursor) => [
    cursor.slice(0, Math.floor(cursor.length / 2)),
    cursor.slice(0, -1),
    cursor.slice(0, -2),
    `${cursor}A`,
    cursor.toLowerCase(),
  ]);
  return { message: m1, record: prisma, damaged: [...damaged, '=', '====', '!!!'], issued };
}

/** Numbers an attacker puts where a page size or a count goes. */
export const HOSTILE_NUMBERS: unknown[] = [-1, 0, 101, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1, 1e308, 1.5, '5', true];

/** JSON values with hostile strings inside, nested deep, and shaped to confuse (prototype keys). */
export function hostileJson(): unknown[] {
  let deep: unknown = 'bottom';
  for (let level = 0; level < 1_000; level += 1) deep = [deep];
  let deepObject: unknown = 'bottom';
  for (let level = 0; level < 200; level += 1) deepObject = { a: deepObject };
  return [
    { note: 'a\u0000b' },
    { 'key\u0000': 1 },
    { nested: { list: ['ok', '\ud800'] } },
    ['\u0000'],
    'a\u0000b',
    deep,
    deepObject,
    { __proto__: { polluted: true }, constructor: { prototype: { polluted: true } } },
    JSON.parse('{"__proto__": {"polluted": true}}'),
    { big: 1e308, small: -1e308, negativeZero: -0 },
    { long: 'x'.repeat(60_000) },
    Array.from({ length: 10_000 }, (_, index) => index),
    "'; DROP TABLE messages; --",
    null,
    [],
    42,
  ];
}
