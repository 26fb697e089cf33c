import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type FormattedExecutionResult, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { Redis } from 'ioredis';
import pg from 'pg';
import WebSocket from 'ws';
import { sendJson } from '../../src/http/router.js';
import { MemoryRateLimiter, type RateLimiter, type RateLimitPolicy } from '../../src/limits/rate-limiter.js';
import { RedisRateLimiter } from '../../src/limits/redis-rate-limiter.js';
import { graphql } from '../gql/index.js';
import { MessageEvents } from '../support/documents.js';
import { dataOf, errorCodes, gql, subscribe, wsClient } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { repeatUntilStopped } from '../support/repeat.js';

const Rename = graphql(`
  mutation Rename($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
      displayName
    }
  }
`);

const ViewerId = graphql(`
  query ViewerId {
    viewer {
      id
    }
  }
`);

/** One check through the limiter's many-checks call. */
const consumeOne = async (limiter: RateLimiter, policy: RateLimitPolicy, subject: string, cost?: number) =>
  (await limiter.consume([{ policy, subject }], cost))[0]!;

const REDIS_URL = process.env.REDIS_URL!;
/** A Redis prefix of its own, inside the run's: counters no other test shares. */
const isolatedPrefix = () => `${process.env.TEST_REDIS_PREFIX}rate-${randomBytes(4).toString('hex')}:`;

const servers: TestServer[] = [];
async function server(env: Record<string, string>, options: { redis?: boolean } = {}): Promise<TestServer> {
  const started = await startServer({ env: { REDIS_PREFIX: isolatedPrefix(), ...env }, ...options });
  servers.push(started);
  return started;
}
afterAll(() => Promise.all(servers.map((started) => started.stop())));

describe.each(['memory', 'redis'] as const)('the %s rate limiter', (kind) => {
  let limiter: RateLimiter;
  let prefix: string;
  beforeAll(async () => {
    prefix = isolatedPrefix();
    if (kind === 'memory') limiter = new MemoryRateLimiter();
    else {
      const redisLimiter = new RedisRateLimiter({ target: { url: REDIS_URL }, prefix });
      await redisLimiter.connect();
      limiter = redisLimiter;
    }
  });
  afterAll(() => limiter.close());

  it('allows the limit in a window, then refuses with the time left', async () => {
    const policy = { name: 'three-a-minute', limit: 3, windowMs: 60_000 };
    const verdicts = [];
    for (let attempt = 0; attempt < 4; attempt++) verdicts.push(await consumeOne(limiter, policy, 'subject'));
    expect(verdicts.map((verdict) => [verdict.allowed, verdict.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [false, 0],
    ]);
    expect(verdicts[3]!.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    expect(verdicts[3]!.retryAfterSeconds).toBeLessThanOrEqual(60);
    expect(verdicts[0]!.retryAfterSeconds).toBe(0);
  });

  it('counts costs, and keeps subjects and policies apart', async () => {
    const policy = { name: 'ten', limit: 10, windowMs: 60_000 };
    expect(await consumeOne(limiter, policy, 'a', 7)).toMatchObject({ allowed: true, remaining: 3 });
    expect(await consumeOne(limiter, policy, 'a', 4)).toMatchObject({ allowed: false, remaining: 0 });
    expect(await consumeOne(limiter, policy, 'b', 4)).toMatchObject({ allowed: true, remaining: 6 });
    expect(await consumeOne(limiter, { ...policy, name: 'other' }, 'a', 4)).toMatchObject({
      allowed: true,
      remaining: 6,
    });
  });

  it('counts several checks in one call, each against its own limit', async () => {
    const perUser = { name: 'per-user', limit: 1, windowMs: 60_000 };
    const perIp = { name: 'per-ip', limit: 5, windowMs: 60_000 };
    const checks = [
      { policy: perUser, subject: 'user:1' },
      { policy: perIp, subject: 'ip:1' },
    ];
    expect((await limiter.consume(checks)).map((verdict) => verdict.allowed)).toEqual([true, true]);
    expect((await limiter.consume(checks)).map((verdict) => [verdict.allowed, verdict.remaining])).toEqual([
      [false, 0],
      [true, 3],
    ]);
  });

  it('counts calls made at once (the Redis limiter sends them as one script) as if made one by one', async () => {
    const policy = { name: 'together', limit: 4, windowMs: 60_000 };
    const other = { name: 'together-other', limit: 1, windowMs: 60_000 };
    const verdicts = await Promise.all([
      consumeOne(limiter, policy, 'subject', 2),
      limiter.consume([
        { policy, subject: 'subject' },
        { policy: other, subject: 'subject' },
      ]),
      consumeOne(limiter, policy, 'subject'),
      consumeOne(limiter, policy, 'subject'),
      consumeOne(limiter, policy, 'another'),
    ]);
    expect(verdicts.flat().map((verdict) => [verdict.allowed, verdict.remaining])).toEqual([
      [true, 2],
      [true, 1],
      [true, 0],
      [true, 0],
      [false, 0],
      [true, 3],
    ]);
  });

  it('counts thousands of checks gathered in one turn (more than one script call holds) in order', async () => {
    const policy = { name: 'many-at-once', limit: 1_500, windowMs: 60_000 };
    const verdicts = await Promise.all(Array.from({ length: 3_000 }, () => consumeOne(limiter, policy, 'crowd')));
    expect(verdicts.map((verdict) => verdict.remaining)).toEqual(
      Array.from({ length: 3_000 }, (_, index) => Math.max(0, 1_499 - index)),
    );
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(1_500);
  });

  it('starts over when the window ends', async () => {
    const policy = { name: 'short', limit: 1, windowMs: 150 };
    expect((await consumeOne(limiter, policy, 'subject')).allowed).toBe(true);
    const refused = await consumeOne(limiter, policy, 'subject');
    expect(refused).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    expect(refused.resetInMs).toBeLessThanOrEqual(150);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await consumeOne(limiter, policy, 'subject')).toMatchObject({ allowed: true, remaining: 0 });
  });

  if (kind === 'redis') {
    it('keeps its counters under REDIS_PREFIX, expiring with the window', async () => {
      await consumeOne(limiter, { name: 'visible', limit: 5, windowMs: 30_000 }, 'user:42');
      const redis = new Redis(REDIS_URL);
      try {
        const key = `${prefix}ratelimit:visible:user:42`;
        expect(await redis.get(key)).toBe('1');
        const ttl = await redis.pttl(key);
        expect(ttl).toBeGreaterThan(25_000);
        expect(ttl).toBeLessThanOrEqual(30_000);
      } finally {
        redis.disconnect();
      }
    });
  }
});

describe('the memory and Redis limiters', () => {
  // With leases too: one instance decides from its lease exactly what Redis would have.
  it('give the same verdicts for any sequence of requests', async () => {
    const redisLimiters: RedisRateLimiter[] = [];
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 8 }),
          fc.option(fc.integer({ min: 0, max: 6 })),
          fc.array(fc.record({ subject: fc.constantFrom('a', 'b', 'c'), cost: fc.integer({ min: 1, max: 4 }) }), {
            maxLength: 25,
          }),
          async (limit, leaseUnits, requests) => {
            const memory = new MemoryRateLimiter();
            const redis = new RedisRateLimiter({ target: { url: REDIS_URL }, prefix: isolatedPrefix() });
            redisLimiters.push(redis);
            await redis.connect();
            const policy = { name: 'compare', limit, windowMs: 60_000, ...(leaseUnits === null ? {} : { leaseUnits }) };
            for (const { subject, cost } of requests) {
              const [fromMemory, fromRedis] = await Promise.all([
                consumeOne(memory, policy, subject, cost),
                consumeOne(redis, policy, subject, cost),
              ]);
              expect([fromRedis.allowed, fromRedis.remaining]).toEqual([fromMemory.allowed, fromMemory.remaining]);
            }
          },
        ),
        { numRuns: 50 },
      );
    } finally {
      await Promise.all(redisLimiters.map((limiter) => limiter.close()));
    }
  });
});

describe('the Redis limiter with leases', () => {
  const policy = { name: 'leased', limit: 100, windowMs: 60_000, leaseUnits: 10 };
  const limiters: RedisRateLimiter[] = [];
  let redis: Redis;
  beforeAll(() => {
    redis = new Redis(REDIS_URL);
  });
  afterAll(async () => {
    redis.disconnect();
    await Promise.all(limiters.map((limiter) => limiter.close()));
  });

  async function redisLimiter(prefix: string, maxLeasedKeys?: number): Promise<RedisRateLimiter> {
    const limiter = new RedisRateLimiter({ target: { url: REDIS_URL }, prefix, maxLeasedKeys });
    limiters.push(limiter);
    await limiter.connect();
    return limiter;
  }
  /** The count Redis holds for the subject under the policy. */
  const countIn = async (prefix: string, name: string, subject: string) =>
    Number(await redis.get(`${prefix}ratelimit:${name}:${subject}`));

  it('takes spare units with a check and spends them without asking Redis, allowing exactly the limit', async () => {
    const prefix = isolatedPrefix();
    const limiter = await redisLimiter(prefix);
    expect(await consumeOne(limiter, policy, 'user:1')).toEqual({
      allowed: true,
      remaining: 99,
      resetInMs: expect.any(Number),
      retryAfterSeconds: 0,
    });
    expect(await countIn(prefix, 'leased', 'user:1')).toBe(10);
    // Decided here: the call resolves before the next turn of the event loop, let alone a reply from Redis.
    const decided = limiter.consume([{ policy, subject: 'user:1' }]).then(() => 'from the lease');
    const nextTurn = new Promise((resolve) => setImmediate(() => resolve('after a turn')));
    expect(await Promise.race([decided, nextTurn])).toBe('from the lease');
    const verdicts = [];
    for (let check = 3; check <= 101; check++) {
      verdicts.push(await consumeOne(limiter, policy, 'user:1'));
      // The eight checks after the second are served from the same lease: Redis still holds 10.
      if (check === 10) expect(await countIn(prefix, 'leased', 'user:1')).toBe(10);
    }
    expect(verdicts.map((verdict) => [verdict.allowed, verdict.remaining])).toEqual(
      Array.from({ length: 99 }, (_, index) => [index + 3 <= 100, Math.max(100 - (index + 3), 0)]),
    );
    const refused = verdicts.at(-1)!;
    expect(refused.retryAfterSeconds).toBeGreaterThanOrEqual(59);
    // Leases filled the count up to the limit; the refusal added its own unit, as without leases.
    expect(await countIn(prefix, 'leased', 'user:1')).toBe(101);
  });

  it('decides checks made at once in the order made, each waiting for the lease asked for before it', async () => {
    const prefix = isolatedPrefix();
    const limiter = await redisLimiter(prefix);
    const crowd = { name: 'leased-crowd', limit: 1_500, windowMs: 60_000, leaseUnits: 64 };
    const verdicts = await Promise.all(Array.from({ length: 3_000 }, () => consumeOne(limiter, crowd, 'crowd')));
    expect(verdicts.map((verdict) => verdict.remaining)).toEqual(
      Array.from({ length: 3_000 }, (_, index) => Math.max(0, 1_499 - index)),
    );
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(1_500);
    expect(await countIn(prefix, 'leased-crowd', 'crowd')).toBe(3_000);
  });

  it("never allows more than the limit across instances, refusing early by at most the others' spare units", async () => {
    const prefix = isolatedPrefix();
    const [first, second] = [await redisLimiter(prefix), await redisLimiter(prefix)];
    // The first instance holds 9 spare units of the subject's count; the second cannot have them.
    expect((await consumeOne(first, policy, 'user:1')).allowed).toBe(true);
    let allowedBySecond = 0;
    while ((await consumeOne(second, policy, 'user:1')).allowed) allowedBySecond++;
    expect(allowedBySecond).toBe(policy.limit - 1 - (policy.leaseUnits - 1));
    // They are still the first's to allow: the two together allow exactly the limit.
    let allowedByFirst = 1;
    while ((await consumeOne(first, policy, 'user:1')).allowed) allowedByFirst++;
    expect(allowedByFirst + allowedBySecond).toBe(policy.limit);
  });

  it('keeps the limit across instances for any interleaving of checks, at once or one after another', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 8 }),
        // Rounds of checks made at once, each by one of two instances.
        fc.array(fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 6 }), { maxLength: 40 }),
        async (leaseUnits, rounds) => {
          const prefix = isolatedPrefix();
          const instances = [await redisLimiter(prefix), await redisLimiter(prefix)];
          const shared = { name: 'leased-shared', limit: 30, windowMs: 60_000, leaseUnits };
          let allowed = 0;
          for (const round of rounds) {
            const verdicts = await Promise.all(round.map((index) => consumeOne(instances[index]!, shared, 'user:1')));
            allowed += verdicts.filter((verdict) => verdict.allowed).length;
            expect(allowed).toBeLessThanOrEqual(shared.limit);
            // A refusal comes only once the count is spent, when the other holds fewer than leaseUnits of it.
            if (verdicts.some((verdict) => !verdict.allowed)) {
              expect(allowed).toBeGreaterThanOrEqual(shared.limit - (leaseUnits - 1));
            }
          }
          // Each instance spends what it still holds: no unit of the limit was lost.
          for (const instance of instances) {
            while ((await consumeOne(instance, shared, 'user:1')).allowed) allowed++;
          }
          expect(allowed).toBe(shared.limit);
        },
      ),
      { numRuns: 30 },
    );
  });

  it('drops a lease when its window ends, and counts the next window afresh', async () => {
    const prefix = isolatedPrefix();
    const limiter = await redisLimiter(prefix);
    const short = { name: 'leased-short', limit: 100, windowMs: 300, leaseUnits: 10 };
    for (let check = 1; check <= 3; check++) await consumeOne(limiter, short, 'user:1');
    const lastOfWindow = await consumeOne(limiter, short, 'user:1');
    expect(lastOfWindow).toMatchObject({ allowed: true, remaining: 96 });
    expect(lastOfWindow.resetInMs).toBeLessThanOrEqual(300);
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await redis.exists(`${prefix}ratelimit:leased-short:user:1`)).toBe(0);
    expect(await consumeOne(limiter, short, 'user:1')).toMatchObject({ allowed: true, remaining: 99 });
    expect(await countIn(prefix, 'leased-short', 'user:1')).toBe(10);
  });

  it('holds leases for at most maxLeasedKeys keys, and counts the others in Redis one by one', async () => {
    const prefix = isolatedPrefix();
    const limiter = await redisLimiter(prefix, 2);
    for (const subject of ['a', 'b', 'c']) await consumeOne(limiter, policy, subject);
    expect(await Promise.all(['a', 'b', 'c'].map((subject) => countIn(prefix, 'leased', subject)))).toEqual([
      10, 10, 1,
    ]);
    const verdicts = [];
    for (let check = 2; check <= 101; check++) verdicts.push(await consumeOne(limiter, policy, 'c'));
    expect(verdicts.filter((verdict) => verdict.allowed)).toHaveLength(99);
    expect(verdicts.at(-1)).toMatchObject({ allowed: false, remaining: 0 });
    expect(await countIn(prefix, 'leased', 'c')).toBe(101);
  });
});

describe('GraphQL mutations', () => {
  let org: TestOrganization;
  let perUser: TestServer;
  beforeAll(async () => {
    perUser = await server({ RATE_LIMIT_MUTATIONS_PER_USER: '3' });
    org = await seedOrganization(perUser, { users: ['Alice', 'Bob'] });
  });

  it('are limited per user: RATE_LIMITED with retryAfter, and 429 with Retry-After on HTTP', async () => {
    const alice = org.users.Alice!;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const input = { id: alice.id, displayName: `Alice ${attempt}` };
      dataOf(await gql(perUser.graphqlUrl, Rename, { input }, { token: alice.token }));
    }
    const response = await fetch(perUser.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice.token}` },
      body: JSON.stringify({
        query: 'mutation { updateUser(input: { id: "' + alice.id + '", displayName: "Too many" }) { id } }',
      }),
    });
    expect(response.status).toBe(429);
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const body = (await response.json()) as FormattedExecutionResult;
    expect(body.data ?? null).toBeNull();
    expect(body.errors).toEqual([
      {
        message: expect.stringMatching(/^Rate limit exceeded \(mutations-per-user: 3 per 60 s\); retry in \d+ s$/),
        extensions: { code: 'RATE_LIMITED', retryAfter },
      },
    ]);
    // Nothing was changed by the refused mutation, queries still pass, and Bob has his own budget.
    expect(dataOf(await gql(perUser.graphqlUrl, ViewerId, {}, { token: alice.token })).viewer.id).toBe(alice.id);
    const bob = org.users.Bob!;
    dataOf(await gql(perUser.graphqlUrl, Rename, { input: { id: bob.id, displayName: 'Bob' } }, { token: bob.token }));
  });

  it('count each root mutation field, so aliases do not multiply the budget', async () => {
    const bob = org.users.Bob!;
    const twice = `mutation { a: updateUser(input: { id: "${bob.id}", displayName: "B1" }) { id } b: updateUser(input: { id: "${bob.id}", displayName: "B2" }) { id } }`;
    const request = () =>
      fetch(perUser.graphqlUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bob.token}` },
        body: JSON.stringify({ query: twice }),
      });
    // Bob used 1 of 3 in the test above: 2 more fit, then 2 more do not.
    expect((await request()).status).toBe(200);
    expect((await request()).status).toBe(429);
  });

  it('are limited per IP address, authenticated or not', async () => {
    const perIp = await server({ RATE_LIMIT_MUTATIONS_PER_IP: '2' });
    const anonymous = { input: { id: '00000000-0000-4000-8000-000000000000', displayName: 'X' } };
    expect(errorCodes(await gql(perIp.graphqlUrl, Rename, anonymous))).toEqual(['UNAUTHENTICATED']);
    expect(errorCodes(await gql(perIp.graphqlUrl, Rename, anonymous))).toEqual(['UNAUTHENTICATED']);
    const refused = await gql(perIp.graphqlUrl, Rename, anonymous);
    expect(refused.status).toBe(429);
    expect(errorCodes(refused)).toEqual(['RATE_LIMITED']);
    expect(refused.errors?.[0]?.message).toMatch(/mutations-per-ip: 2 per 60 s/);
  });

  it('hold across instances that share Redis', async () => {
    const prefix = isolatedPrefix();
    const env = { REDIS_PREFIX: prefix, RATE_LIMIT_MUTATIONS_PER_USER: '4' };
    const [first, second] = await Promise.all([server(env), server(env)]);
    const shared = await seedOrganization(first, { users: ['Carol'] });
    const carol = shared.users.Carol!;
    const rename = (target: TestServer, name: string) =>
      gql(target.graphqlUrl, Rename, { input: { id: carol.id, displayName: name } }, { token: carol.token });
    for (const [index, target] of [first, second, first, second].entries()) {
      dataOf(await rename(target, `Carol ${index}`));
    }
    // Each instance alone has seen only two: the refusal comes from the count they share.
    expect(errorCodes(await rename(first, 'Carol 5'))).toEqual(['RATE_LIMITED']);
    expect(errorCodes(await rename(second, 'Carol 6'))).toEqual(['RATE_LIMITED']);
  });

  it('are limited over graphql-ws too, and the socket stays usable', async () => {
    const alice = org.users.Alice!;
    const client = wsClientFor(perUser, alice.token);
    try {
      const refused = await execute(client, Rename, { input: { id: alice.id, displayName: 'Over WS' } });
      expect(refused.errors).toEqual([
        expect.objectContaining({ extensions: { code: 'RATE_LIMITED', retryAfter: expect.any(Number) } }),
      ]);
      expect(await execute(client, ViewerId, {})).toEqual({ data: { viewer: { id: alice.id } } });
    } finally {
      await client.dispose();
    }
  });
});

describe('plain HTTP routes', () => {
  it('are limited through guardRoute: 429 with Retry-After and a JSON reason', async () => {
    const target = await server({});
    target.app.router.add({
      name: 'test-guarded',
      method: 'GET',
      path: /^\/test\/guarded$/,
      handler: target.app.rateLimits.guardRoute(
        { name: 'test-guarded', limit: 2, windowMs: 30_000 },
        (_request, response) => sendJson(response, 200, { ok: true }),
      ),
    });
    const url = `${target.url}/test/guarded`;
    expect((await fetch(url)).status).toBe(200);
    expect((await fetch(url)).status).toBe(200);
    const refused = await fetch(url);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(29);
    expect(await refused.json()).toEqual({
      error: expect.stringMatching(/^Rate limit exceeded \(test-guarded: 2 per 30 s\); retry in \d+ s$/),
      code: 'RATE_LIMITED',
      retryAfter: Number(refused.headers.get('retry-after')),
    });
    const metrics = await (await fetch(`${target.url}/metrics`)).text();
    expect(metrics).toContain('chat_rate_limit_refusals_total{policy="test-guarded"} 1');
  });
});

describe('graphql-ws', () => {
  it('closes a user connection beyond WS_MAX_CONNECTIONS_PER_USER with 4429', async () => {
    const target = await server({ WS_MAX_CONNECTIONS_PER_USER: '2' });
    const org = await seedOrganization(target, { users: ['Dan', 'Erin'] });
    const dan = org.users.Dan!;
    const first = await connected(target, dan.token);
    const second = await connected(target, dan.token);
    const third = await connectionOutcome(target, dan.token);
    expect(third).toEqual({ closed: { code: 4429, reason: 'Too many connections for this user (limit 2)' } });
    // Another user is not counted against Dan.
    const erin = await connected(target, org.users.Erin!.token);
    // A closed connection gives its place back.
    await first.dispose();
    await waitFor(async () => 'connected' in (await connectionOutcome(target, dan.token, true)));
    await Promise.all([second, erin].map((client) => client.dispose()));
  });

  it('refuses an operation beyond WS_MAX_OPERATIONS_PER_CONNECTION and keeps the socket', async () => {
    const target = await server({ WS_MAX_OPERATIONS_PER_CONNECTION: '2' });
    const org = await seedOrganization(target, { users: ['Fay'] });
    const fay = org.users.Fay!;
    const client = wsClientFor(target, fay.token);
    // Until subscriptions exist, operations are held open by a lock on Fay's row: her renames wait for it.
    const database = new pg.Client({ connectionString: process.env.DATABASE_URL });
    await database.connect();
    try {
      await database.query('BEGIN');
      await database.query('SELECT 1 FROM users WHERE id = $1 FOR UPDATE', [fay.id]);
      const held = [1, 2].map((n) => execute(client, Rename, { input: { id: fay.id, displayName: `Fay ${n}` } }));
      const settled = Promise.race([
        Promise.all(held),
        new Promise((resolve) => setTimeout(() => resolve('pending'), 300)),
      ]);
      expect(await settled).toBe('pending');
      const refused = await execute(client, ViewerId, {});
      expect(refused.errors).toEqual([
        {
          message: 'Too many operations running on this connection (limit 2): complete one before starting another',
          extensions: { code: 'RATE_LIMITED', limit: 2 },
        },
      ]);
      await database.query('ROLLBACK');
      const renamed = await Promise.all(held);
      expect(renamed.map((result) => result.errors)).toEqual([undefined, undefined]);
      expect(await execute(client, ViewerId, {})).toEqual({ data: { viewer: { id: fay.id } } });
    } finally {
      await database.end();
      await client.dispose();
    }
  });
});

describe('subscriptions per connection', () => {
  it('refuses a subscription beyond the limit, keeps the socket, and gives the place back when one ends', async () => {
    const target = await server({ WS_MAX_OPERATIONS_PER_CONNECTION: '2' });
    const org = await seedOrganization(target, { users: ['Gil'] });
    const gil = org.users.Gil!;
    const channel = await createChannel(target, gil);
    const client = wsClient(target.wsUrl, gil.token);
    try {
      const first = subscribe(client, MessageEvents, { channelId: channel.id });
      const second = subscribe(client, MessageEvents, { channelId: channel.id });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const third = subscribe(client, MessageEvents, { channelId: channel.id });
      expect(JSON.stringify(await third.waitForError())).toContain('RATE_LIMITED');
      first.stop();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const fourth = subscribe(client, MessageEvents, { channelId: channel.id });
      // Subscriptions are not acknowledged: send until both open ones have received something.
      const prober = repeatUntilStopped(() => send(target, gil, channel.id, 'for the open subscriptions'), 50);
      try {
        await second.waitForCount(1);
        await fourth.waitForCount(1);
      } finally {
        await prober.stop();
      }
      expect(fourth.errors).toEqual([]);
      second.stop();
      fourth.stop();
    } finally {
      await client.dispose();
    }
  });
});

function wsClientFor(target: TestServer, token: string | undefined, on: Parameters<typeof createClient>[0]['on'] = {}) {
  return createClient({
    url: target.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
    // A refused connection is what some tests wait for; they see it through `on.closed`, not the console.
    onNonLazyError: () => undefined,
    on,
  });
}

/** How a fresh connection ends up: acknowledged, or closed by the server with a code and reason. */
function connectionOutcome(
  target: TestServer,
  token: string | undefined,
  disposeWhenConnected = false,
): Promise<{ connected: Client } | { closed: { code: number; reason: string } }> {
  return new Promise((resolve) => {
    const client: Client = wsClientFor(target, token, {
      connected: () => {
        if (disposeWhenConnected) void client.dispose();
        resolve({ connected: client });
      },
      closed: (event) => {
        const { code, reason } = event as { code: number; reason: string };
        resolve({ closed: { code, reason } });
      },
    });
  });
}

async function connected(target: TestServer, token: string | undefined): Promise<Client> {
  const outcome = await connectionOutcome(target, token);
  if (!('connected' in outcome)) throw new Error(`connection refused: ${JSON.stringify(outcome.closed)}`);
  return outcome.connected;
}

async function waitFor(condition: () => Promise<boolean>, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** One query or mutation over graphql-ws: its result, or its errors when refused before running. */
function execute<TResult, TVariables extends Record<string, unknown>>(
  client: Client,
  document: Parameters<typeof gql<TResult, TVariables>>[1],
  variables: TVariables,
): Promise<FormattedExecutionResult<TResult>> {
  return new Promise((resolve, reject) => {
    let result: FormattedExecutionResult<TResult> = {};
    client.subscribe<TResult>(
      { query: print(document), variables },
      {
        next: (value) => (result = value as FormattedExecutionResult<TResult>),
        error: (error) =>
          Array.isArray(error)
            ? resolve({ errors: error })
            : reject(error instanceof Error ? error : new Error(String(error))),
        complete: () => resolve(result),
      },
    );
  });
}
