import { describe, expect, it } from '@jest/globals';
import { parse } from 'graphql';
import { textProblem } from '../lib/text.js';
import { inputTextIssues, MAX_INPUT_DEPTH } from './input-text.js';

const issues = (query: string, variableValues: Record<string, unknown> = {}, operationName?: string) =>
  inputTextIssues({ document: parse(query), variableValues, operationName });

describe('textProblem', () => {
  it('accepts any well-formed text, emoji and control characters included', () => {
    for (const text of ['', 'plain', '👨‍👩‍👧‍👦 🇫🇷 #️⃣', '\t\n\u0001\u007f', '\ud83d\ude00']) {
      expect(textProblem(text)).toBeUndefined();
    }
  });

  it('refuses NUL and unpaired surrogates', () => {
    expect(textProblem('a\u0000')).toMatch(/NUL/);
    expect(textProblem('\ud800')).toMatch(/surrogate/);
    expect(textProblem('\ude00\ud83d')).toMatch(/surrogate/);
  });
});

describe('inputTextIssues', () => {
  it('names the argument path of literals and variables, through fragments and directives', () => {
    const query = `
      query Q($a: String, $b: String = "default\\u0000") {
        x(input: { list: ["ok", "bad\\u0000"] }) { ...F }
        y(v: $a, w: $b) @custom(reason: "\\u0000")
      }
      fragment F on T { z(deep: { json: $a }) }`;
    expect(issues(query, { a: { key: ['\ud800'] } })).toEqual([
      { field: 'input.list.1', message: expect.stringMatching(/NUL/) },
      { field: 'deep.json.key.0', message: expect.stringMatching(/surrogate/) },
      { field: 'reason', message: expect.stringMatching(/NUL/) },
      { field: 'v.key.0', message: expect.stringMatching(/surrogate/) },
      { field: 'w', message: expect.stringMatching(/NUL/) },
    ]);
  });

  it('checks the keys of JSON objects, and only the operation that runs', () => {
    expect(issues('query A { x(j: $j) } query B { y(s: "\\u0000") }', { j: { 'k\u0000': 1 } }, 'A')).toEqual([
      { field: 'j', message: expect.stringMatching(/^keys .*NUL/) },
    ]);
  });

  it(`refuses values nested more than ${MAX_INPUT_DEPTH} levels deep`, () => {
    let deep: unknown = 'x';
    for (let level = 0; level < 10_000; level += 1) deep = [deep];
    const found = issues('{ x(j: $j) }', { j: deep });
    expect(found).toEqual([{ field: expect.any(String), message: expect.stringMatching(/nest/) }]);
    expect(issues('{ x(j: $j) }', { j: [[['fine']]] })).toEqual([]);
  });
});
