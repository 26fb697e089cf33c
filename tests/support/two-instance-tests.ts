import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MessageEvents, RemoveMember, SendMessage } from './documents.js';
import { dataOf, errorCodes, gql, subscribe, wsClient } from './graphql.js';
import { createChannel, send } from './messaging.js';
import { seedOrganization, type TestOrganization } from './seed.js';
import { startServer, type TestServer } from './server.js';
import { repeatUntilStopped } from './repeat.js';

/**
 * The tests of two server instances on the same PostgreSQL and Redis, as behind a load balancer: run on the run's
 * Redis (multi-instance.test.ts) and on a Redis Cluster (redis-cluster.test.ts). `redisEnv` gives the Redis
 * settings of both instances, read when they start.
 */
export function describeTwoInstances(title: string, redisEnv: () => Record<string, string | undefined> = () => ({})) {
  let first: TestServer;
  let second: TestServer;
  let org: TestOrganization;

  describe(title, () => {
    beforeAll(async () => {
      const env = redisEnv();
      [first, second] = await Promise.all([startServer({ redis: true, env }), startServer({ redis: true, env })]);
      org = await seedOrganization(first, { users: ['Alice', 'Bob'] });
    });
    afterAll(async () => {
      await Promise.all([first.stop(), second.stop()]);
    });

    async function subscribedOn(server: TestServer, channelId: string) {
      const client = wsClient(server.wsUrl, org.users.Bob!.token);
      const events = subscribe(client, MessageEvents, { channelId });
      // Probe through the other instance until the subscription demonstrably receives.
      const other = server === first ? second : first;
      const prober = repeatUntilStopped(() => send(other, org.admin, channelId, '(probe)'), 30);
      await events.waitForCount(1).finally(prober.stop);
      await new Promise((resolve) => setTimeout(resolve, 100));
      return { client, events };
    }

    it('a subscriber on one receives, in order and once, what is sent through the other', async () => {
      const channel = await createChannel(first, org.users.Alice!, { members: [org.users.Bob!] });
      const { client, events } = await subscribedOn(first, channel.id);
      try {
        const probes = events.events.length;
        const sent = [];
        for (let index = 0; index < 20; index++)
          sent.push(await send(second, org.users.Alice!, channel.id, `via second ${index}`));
        const received = await events.waitForCount(probes + 20);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(events.events).toHaveLength(probes + 20);
        expect(received.slice(probes).map((event) => event.messageEvents.message.id)).toEqual(sent.map((m) => m.id));
      } finally {
        events.stop();
        await client.dispose();
      }
    });

    it('keeps one order when both instances write at once, for subscribers on either', async () => {
      const channel = await createChannel(first, org.users.Alice!, { members: [org.users.Bob!] });
      const onFirst = await subscribedOn(first, channel.id);
      const onSecond = await subscribedOn(second, channel.id);
      try {
        const sent = await Promise.all(
          Array.from({ length: 60 }, (_, index) =>
            send(
              index % 2 ? first : second,
              index % 3 ? org.users.Alice! : org.users.Bob!,
              channel.id,
              `concurrent ${index}`,
            ),
          ),
        );
        const wanted = new Set(sent.map((message) => message.id));
        const ofInterest = (subscription: typeof onFirst) =>
          subscription.events.events.map((event) => event.messageEvents.message.id).filter((id) => wanted.has(id));
        await onFirst.events.waitFor(() => ofInterest(onFirst).length >= 60, 10_000);
        await onSecond.events.waitFor(() => ofInterest(onSecond).length >= 60, 10_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(ofInterest(onFirst)).toHaveLength(60);
        expect(new Set(ofInterest(onFirst)).size).toBe(60);
        // Both instances deliver the one order the database assigned.
        expect(ofInterest(onSecond)).toEqual(ofInterest(onFirst));
        const cursors = onFirst.events.events.map((event) =>
          Buffer.from(event.messageEvents.cursor, 'base64url').toString(),
        );
        const sequence = cursors.map((cursor) => BigInt(cursor.split(':')[1]!));
        expect(sequence).toEqual([...sequence].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      } finally {
        for (const subscription of [onFirst, onSecond]) {
          subscription.events.stop();
          await subscription.client.dispose();
        }
      }
    });

    it('puts events that arrive out of order back in sequence order', async () => {
      const channel = await createChannel(first, org.users.Alice!, { members: [org.users.Bob!] });
      const { client, events } = await subscribedOn(first, channel.id);
      try {
        const probes = events.events.length;
        const draft = (content: string) => ({
          channelId: channel.id,
          userId: org.users.Alice!.id,
          content,
          messageType: 'TEXT' as const,
          metadata: null,
          threadId: null,
          messageSource: 'INTERNAL' as const,
        });
        const { writer, stream } = second.app.services;
        const { message: earlier } = await writer.insert(org.id, draft('earlier'));
        const { message: later } = await writer.insert(org.id, draft('later'));
        // The later event overtakes the earlier one on the bus (two publishers, one slower).
        void stream.publish(org.id, { type: 'message', kind: 'CREATED', seq: BigInt(later.eventSeq), message: later });
        await new Promise((resolve) => setTimeout(resolve, 30));
        void stream.publish(org.id, {
          type: 'message',
          kind: 'CREATED',
          seq: BigInt(earlier.eventSeq),
          message: earlier,
        });
        const received = await events.waitForCount(probes + 2);
        expect(received.slice(probes).map((event) => event.messageEvents.message.content)).toEqual([
          'earlier',
          'later',
        ]);
      } finally {
        events.stop();
        await client.dispose();
      }
    });

    it('delivers a message whose event was lost (committed, never published) in its place', async () => {
      const channel = await createChannel(first, org.users.Alice!, { members: [org.users.Bob!] });
      const { client, events } = await subscribedOn(first, channel.id);
      try {
        const probes = events.events.length;
        // As if the sending instance died between its commit and its publish.
        const { message: silent } = await second.app.services.writer.insert(org.id, {
          channelId: channel.id,
          userId: org.users.Alice!.id,
          content: 'never announced',
          messageType: 'TEXT',
          metadata: null,
          threadId: null,
          messageSource: 'INTERNAL',
        });
        const announced = await send(second, org.users.Alice!, channel.id, 'announced');
        const received = await events.waitForCount(probes + 2, 5_000);
        expect(received.slice(probes).map((event) => event.messageEvents.message.id)).toEqual([
          silent.id,
          announced.id,
        ]);

        // And when nothing follows, the periodic check finds it on its own.
        const { message: lonely } = await second.app.services.writer.insert(org.id, {
          channelId: channel.id,
          userId: org.users.Alice!.id,
          content: 'lost and alone',
          messageType: 'TEXT',
          metadata: null,
          threadId: null,
          messageSource: 'INTERNAL',
        });
        const later = await events.waitForCount(probes + 3, 5_000);
        expect(later.at(-1)!.messageEvents.message.id).toBe(lonely.id);
      } finally {
        events.stop();
        await client.dispose();
      }
    });

    it('refuses a member removed through one instance on the other at once, although it just accepted them', async () => {
      const channel = await createChannel(first, org.users.Alice!, {
        channelType: 'PRIVATE',
        members: [org.users.Bob!],
      });
      // The second instance has now checked, and remembers, that Bob may post here.
      await send(second, org.users.Bob!, channel.id, 'accepted by the second instance');
      await new Promise((resolve) => setTimeout(resolve, 100));
      await send(second, org.users.Bob!, channel.id, 'accepted again, from what it remembers');
      dataOf(
        await gql(
          first.graphqlUrl,
          RemoveMember,
          { input: { channelId: channel.id, userId: org.users.Bob!.id } },
          { token: org.users.Alice!.token },
        ),
      );
      // The removal reaches the second instance through Redis: within moments, never after the cache's TTL.
      const refusedAfter = Date.now();
      let codes: unknown[] = [];
      while (Date.now() - refusedAfter < 2_000) {
        const attempt = await gql(
          second.graphqlUrl,
          SendMessage,
          { input: { channelId: channel.id, content: 'no longer a member' } },
          { token: org.users.Bob!.token },
        );
        codes = errorCodes(attempt);
        if (codes.length > 0) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      expect(codes).toEqual(['NOT_FOUND']);
    });

    it('an instance that only takes sends for an organization receives none of its message traffic', async () => {
      const quiet = await seedOrganization(first, { users: ['Carol'] });
      const channel = await createChannel(first, quiet.users.Carol!);
      await send(second, quiet.users.Carol!, channel.id, 'through the second instance');
      const busDeliveries = async () => {
        const text = await fetch(`${second.url}/metrics`).then((response) => response.text());
        return Number(/^chat_event_bus_lag_seconds_count (\d+)/m.exec(text)?.[1]);
      };
      const before = await busDeliveries();
      for (let index = 0; index < 20; index++) {
        await send(index % 2 ? first : second, quiet.users.Carol!, channel.id, `message ${index}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
      // Other tests' traffic may reach it, but not one delivery per message of this organization.
      expect((await busDeliveries()) - before).toBeLessThan(20);
    });
  });
}
