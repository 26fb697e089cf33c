import { describe, expect, it } from '@jest/globals';
import { buildSchema, parse, validate } from 'graphql';
import { queryCostRule } from '../../src/limits/query-cost.js';

// A schema of its own, shaped like the chat's: connections inside connections, and a plain list.
const schema = buildSchema(`
  type Query {
    channels(first: Int, last: Int, after: String): ChannelConnection!
    channel(id: ID!): Channel
    recentTags: [Tag!]!
  }
  type ChannelConnection { edges: [ChannelEdge!]! pageInfo: PageInfo! }
  type ChannelEdge { cursor: String! node: Channel! }
  type PageInfo { hasNextPage: Boolean! endCursor: String }
  type Channel {
    id: ID!
    name: String!
    messages(first: Int, last: Int): MessageConnection!
    tags: [Tag!]!
  }
  type MessageConnection { edges: [MessageEdge!]! }
  type MessageEdge { node: Message! }
  type Message { id: ID! content: String tags: [Tag!]! }
  type Tag { name: String! }
`);

/** The cost the rule finds (0 when under the limit of 0, i.e. free). */
function costOf(query: string, variables?: Record<string, unknown>, operationName?: string): number {
  const errors = validate(schema, parse(query), [queryCostRule({ maxCost: 0, variables, operationName })]);
  if (errors.length === 0) return 0;
  const found = /found (\d+|Infinity)\.$/.exec(errors[0]!.message);
  expect(errors[0]!.extensions.code).toBe('QUERY_TOO_COMPLEX');
  return Number(found?.[1]);
}

describe('query cost', () => {
  it('counts each field once per resolution', () => {
    expect(costOf('{ channel(id: "1") { id name } }')).toBe(3);
  });

  it("multiplies a connection's edges by first or last, literal or variable, clamped to 0..100", () => {
    // channels 1 + edges 1 + n × (node 1 + id 1) + pageInfo 1 + hasNextPage 1
    expect(costOf('{ channels(first: 10) { edges { node { id } } pageInfo { hasNextPage } } }')).toBe(24);
    expect(costOf('{ channels(last: 10) { edges { node { id } } } }')).toBe(22);
    expect(costOf('query($n: Int) { channels(first: $n) { edges { node { id } } } }', { n: 50 })).toBe(102);
    expect(costOf('{ channels(first: 100000) { edges { node { id } } } }')).toBe(202);
    expect(costOf('{ channels(first: -5) { edges { node { id } } } }')).toBe(2);
  });

  it('uses the page size 20 when neither is given, a declared default, and not an explicit null', () => {
    expect(costOf('{ channels { edges { cursor } } }')).toBe(22);
    expect(costOf('query($n: Int = 5) { channels(first: $n) { edges { cursor } } }')).toBe(7);
    expect(costOf('query($n: Int = 5) { channels(first: $n) { edges { cursor } } }', { n: null })).toBe(22);
    expect(costOf('query($n: Int) { channels(first: $n) { edges { cursor } } }', { n: 'ten' })).toBe(22);
  });

  it('multiplies nested lists: connections in connections, and plain lists at 20', () => {
    // channels(10): 2 + 10 × (node 1 + messages(30): 2 + 30 × (node 1 + content 1))
    expect(
      costOf('{ channels(first: 10) { edges { node { messages(first: 30) { edges { node { content } } } } } } }'),
    ).toBe(2 + 10 * (1 + 2 + 30 * 2));
    expect(costOf('{ recentTags { name } }')).toBe(1 + 20 * 1);
    expect(costOf('{ channel(id: "1") { tags { name } } }')).toBe(1 + 1 + 20);
  });

  it('counts fragments where they are spread, and leaves __typename and introspection free', () => {
    const query = `
      { channels(first: 5) { edges { node { ...Channel ... on Channel { name } __typename } } } }
      fragment Channel on Channel { id name }`;
    expect(costOf(query)).toBe(2 + 5 * (1 + 3));
    expect(costOf('{ __typename __schema { types { name fields { name } } } }')).toBe(0);
  });

  it('prices only the operation that runs when one is named', () => {
    const document =
      'query Small { channel(id: "1") { id } } query Large { channels(first: 100) { edges { cursor } } }';
    expect(costOf(document, {}, 'Small')).toBe(2);
    expect(costOf(document, {}, 'Large')).toBe(102);
  });

  it('stays quick for fragments that spread each other many times over', () => {
    const levels = 40;
    const fragments = Array.from(
      { length: levels },
      (_, level) =>
        `fragment F${level} on Channel { name ${level + 1 < levels ? `...F${level + 1} ...F${level + 1}` : ''} }`,
    ).join('\n');
    const startedAt = performance.now();
    const cost = costOf(`{ channel(id: "1") { ...F0 } } ${fragments}`);
    expect(performance.now() - startedAt).toBeLessThan(500);
    // 2^40 - 1 names, and the channel field itself.
    expect(cost).toBe(2 ** levels);
  });

  it('does not loop on fragment cycles (GraphQL reports them itself)', () => {
    const query = '{ channel(id: "1") { ...A } } fragment A on Channel { id ...B } fragment B on Channel { name ...A }';
    expect(costOf(query)).toBe(3);
  });
});
