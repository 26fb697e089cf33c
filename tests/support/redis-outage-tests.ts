import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Messages } from './documents.js';
import { dataOf, gql } from './graphql.js';
import { createChannel, liveMessageEvents, send } from './messaging.js';
import { waitFor } from './process.js';
import { seedOrganization, type TestOrganization } from './seed.js';
import { startServer, type TestServer } from './server.js';

/** The Redis whose outage a test plays: a server of its own, or the shard of a cluster. */
export interface RedisOutage {
  /** The Redis settings of both instances, read when they start. */
  env(): Record<string, string | undefined>;
  /** Takes away the Redis (or the cluster's shard) that carries the organization's events. */
  stop(organizationId: string): Promise<void>;
  /** Brings it back where it was. */
  restart(): Promise<void>;
}

/**
 * Redis going away and coming back under two instances while clients send: run with a Redis of its own
 * (faults/redis-outage.test.ts) and with one node of a Redis Cluster (redis-cluster.test.ts).
 */
export function describeRedisOutage(title: string, outage: RedisOutage): void {
  describe(title, () => {
    let first: TestServer;
    let second: TestServer;
    let org: TestOrganization;

    beforeAll(async () => {
      const env = outage.env();
      [first, second] = await Promise.all([startServer({ env }), startServer({ env })]);
      org = await seedOrganization(first, { users: ['Alice', 'Bob'] });
    });
    afterAll(async () => {
      await Promise.all([first.stop(), second.stop()]);
    });

    const readiness = async (server: TestServer) => {
      const response = await fetch(`${server.url}/readyz`);
      return { status: response.status, body: (await response.json()) as { checks: Record<string, string> } };
    };

    it(`keeps mutations working, reports it in /readyz, and subscribers and backfills miss nothing`, async () => {
      const channel = await createChannel(first, org.users.Alice!, { members: [org.users.Bob!] });
      const subscriber = await liveMessageEvents(first, {
        token: org.users.Bob!.token,
        channelId: channel.id,
        prober: org.admin,
      });
      try {
        const lastSeen = subscriber.events.events.at(-1)!.messageEvents.cursor;
        await outage.stop(org.id);
        await waitFor(
          async () => ((await readiness(first)).status === 503 ? true : undefined),
          10_000,
          () => 'readiness to report Redis down',
        );
        expect((await readiness(first)).body.checks.redis).toBe('unreachable');

        // Sent through the other instance while Redis is down: every mutation still succeeds.
        const sent = [];
        for (let index = 0; index < 10; index++)
          sent.push(await send(second, org.users.Alice!, channel.id, `during outage ${index}`));

        await outage.restart();
        await waitFor(
          async () => ((await readiness(first)).status === 200 ? true : undefined),
          20_000,
          () => 'readiness after Redis is back',
        );

        const received = await subscriber.waitForMessages(10, 20_000);
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(subscriber.messages().map((event) => event.messageEvents.message.id)).toEqual(
          sent.map((message) => message.id),
        );
        expect(received).toHaveLength(10);

        // A client that lost its socket and backfills from its last cursor gets exactly the same messages.
        const backfill = dataOf(
          await gql(
            first.graphqlUrl,
            Messages,
            { channelId: channel.id, first: 50, after: lastSeen },
            { token: org.users.Bob!.token },
          ),
        );
        expect(backfill.messages.edges.map((edge) => edge.node.id)).toEqual(sent.map((message) => message.id));

        // Live delivery through Redis works again.
        const after = await send(second, org.users.Alice!, channel.id, 'after the outage');
        const all = await subscriber.waitForMessages(11, 10_000);
        expect(all.at(-1)!.messageEvents.message.id).toBe(after.id);
      } finally {
        await subscriber.close();
      }
    }, 90_000);
  });
}
