import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { graphql } from '../gql/index.js';
import { dataOf, gql, subscribe } from '../support/graphql.js';
import { createChannel, send } from '../support/messaging.js';
import { repeatUntilStopped } from '../support/repeat.js';
import { seedOrganization, type TestOrganization, type TestUser } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

// What a connection or subscription decided from its user when it opened (active, which role) must not
// outlive a change made on another instance: a deactivated user's sockets close and SSE streams end, and a
// role change re-evaluates what each open subscription may see.

const ChangeUser = graphql(`
  mutation SecurityChangeUser($input: UpdateUserInput!) {
    updateUser(input: $input) {
      id
      role
      isActive
    }
  }
`);

const ViewerMessages = graphql(`
  subscription SecurityViewerMessages {
    viewerEvents {
      __typename
      ... on MessageEvent {
        message {
          id
          channelId
          content
        }
      }
    }
  }
`);

/** Changes happen on `first`; the people watched are connected to `second`. */
let first: TestServer;
let second: TestServer;
let org: TestOrganization;
let lobby: { id: string };

beforeAll(async () => {
  [first, second] = await Promise.all([startServer({ redis: true }), startServer({ redis: true })]);
  org = await seedOrganization(first, { users: ['Deactivated', 'Streamed', 'Demoted', 'Promoted'] });
  lobby = await createChannel(first, org.admin, { name: 'lobby' });
});
afterAll(async () => {
  await Promise.all([first.stop(), second.stop()]);
});

const changeUser = async (user: TestUser, change: { role?: 'ADMIN' | 'USER'; isActive?: boolean }) =>
  dataOf(await gql(first.graphqlUrl, ChangeUser, { input: { id: user.id, ...change } }, { token: org.admin.token }));

/** A graphql-ws client on `second` that records how its socket closed. */
function watchedClient(user: TestUser) {
  const closes: number[] = [];
  const client = createClient({
    url: second.wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${user.token}` },
    retryAttempts: 0,
    lazy: false,
    // The close is what the test waits for, not a failure to print.
    onNonLazyError: () => undefined,
    on: { closed: (event) => closes.push((event as { code: number }).code) },
  });
  return { client, closes };
}

/** viewerEvents of `user` on `second`, demonstrably live (a probe sent through `first` arrived). */
async function liveViewerEvents(user: TestUser) {
  const { client, closes } = watchedClient(user);
  const events = subscribe(client, ViewerMessages);
  const prober = repeatUntilStopped(() => send(first, org.admin, lobby.id, '(probe)'), 30);
  await events.waitForCount(1).finally(prober.stop);
  const contents = () =>
    events.events.flatMap((event) =>
      event.viewerEvents.__typename === 'MessageEvent' ? [event.viewerEvents.message.content] : [],
    );
  return { client, closes, events, contents };
}

const within = async (ms: number, done: () => boolean) => {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
  return done();
};

describe('deactivation', () => {
  it("closes the user's graphql-ws sockets on every instance with 4403 within a second", async () => {
    const user = org.users.Deactivated!;
    const live = await liveViewerEvents(user);
    try {
      expect(live.closes).toEqual([]);
      await changeUser(user, { isActive: false });
      const changedAt = Date.now();
      expect(await within(1_000, () => live.closes.length > 0)).toBe(true);
      expect(Date.now() - changedAt).toBeLessThan(1_000);
      expect(live.closes).toEqual([4403]);
      // Nothing sent after the change reaches the user, and a new connection is refused.
      await send(first, org.admin, lobby.id, 'after deactivation');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(live.contents()).not.toContain('after deactivation');
    } finally {
      live.events.stop();
      await live.client.dispose();
    }
  });

  it('ends their server-sent event streams within a second', async () => {
    const user = org.users.Streamed!;
    const response = await fetch(second.graphqlUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${user.token}`,
      },
      body: JSON.stringify({
        query: 'subscription { viewerEvents { __typename ... on MessageEvent { message { content } } } }',
      }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.getReader();
    let text = '';
    let ended = false;
    const reading = (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += new TextDecoder().decode(value);
      }
      ended = true;
    })();
    const prober = repeatUntilStopped(() => send(first, org.admin, lobby.id, '(sse probe)'), 30);
    try {
      expect(await within(5_000, () => text.includes('(sse probe)'))).toBe(true);
    } finally {
      await prober.stop();
    }
    try {
      await changeUser(user, { isActive: false });
      expect(await within(1_000, () => ended)).toBe(true);
      await reading;
      expect(text).toContain('UNAUTHENTICATED');
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  });
});

describe('role changes', () => {
  it("stop an open subscription's events from a channel only the former role could see", async () => {
    const user = org.users.Demoted!;
    await changeUser(user, { role: 'ADMIN' });
    const adminsOnly = await createChannel(first, org.admin, { name: 'admins-only', channelType: 'PRIVATE' });
    const live = await liveViewerEvents(user);
    try {
      // As an admin, the user sees the private channel they are not a member of.
      await send(first, org.admin, adminsOnly.id, 'while admin');
      await live.events.waitFor(() => live.contents().includes('while admin'));

      await changeUser(user, { role: 'USER' });
      await send(first, org.admin, adminsOnly.id, 'after demotion');
      await send(first, org.admin, lobby.id, 'public after demotion');
      // The subscription goes on with the new role's view: public messages still arrive, the private one not.
      await live.events.waitFor(() => live.contents().includes('public after demotion'));
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(live.contents()).not.toContain('after demotion');
      expect(live.closes).toEqual([]);
    } finally {
      live.events.stop();
      await live.client.dispose();
    }
  });

  it('open the new role’s channels to an open subscription', async () => {
    const user = org.users.Promoted!;
    const adminsOnly = await createChannel(first, org.admin, { name: 'admins-only-2', channelType: 'PRIVATE' });
    const live = await liveViewerEvents(user);
    try {
      await send(first, org.admin, adminsOnly.id, 'before promotion');
      await changeUser(user, { role: 'ADMIN' });
      await send(first, org.admin, adminsOnly.id, 'after promotion');
      await live.events.waitFor(() => live.contents().includes('after promotion'));
      expect(live.contents()).not.toContain('before promotion');
    } finally {
      live.events.stop();
      await live.client.dispose();
    }
  });
});
