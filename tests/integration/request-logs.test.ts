import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '../../src/logger.js';
import { graphql } from '../gql/index.js';
import { SendMessage } from '../support/documents.js';
import { dataOf, gql, subscribe, wsClient } from '../support/graphql.js';
import { channelMessages, openConversation, webhookUrl, whatsAppDelivery } from '../support/conversations.js';
import { liveEvents } from '../support/live-events.js';
import { createChannel, liveMessageEvents, PROBE, send, untilLive } from '../support/messaging.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { postWebhook } from '../support/webhooks.js';

const Viewer = graphql(`
  query LoggedViewer {
    viewer {
      id
    }
  }
`);

/** Every line the app logs, as written (JSON) and parsed. */
const written: string[] = [];
const entries = () => written.map((line) => JSON.parse(line) as Record<string, unknown> & { msg?: string });

async function eventually<T>(find: () => T | undefined, timeoutMs = 2_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error(`not logged in time; got:\n${written.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const ChannelHistory = graphql(`
  query LoggedHistory($channelId: ID!) {
    messages(channelId: $channelId) {
      edges {
        node {
          id
        }
      }
    }
  }
`);

const ReactionsView = graphql(`
  subscription LoggedReactionsView($channelId: ID!) {
    messageEvents(channelId: $channelId) {
      kind
      message {
        id
        content
        reactions {
          emoji
        }
      }
    }
  }
`);

let server: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void written.push(line) } });
  server = await startServer({ logger });
  org = await seedOrganization(server, { users: ['Alice', 'Bob'] });
});
afterAll(() => server?.stop());

describe('request logs', () => {
  it("carry the request's id on lines written while GraphQL executes, and on the access line", async () => {
    const requestId = `log-test-${randomBytes(4).toString('hex')}`;
    dataOf(
      await gql(server.graphqlUrl, Viewer, {}, { token: org.admin.token, headers: { 'x-request-id': requestId } }),
    );
    const operation = await eventually(() =>
      entries().find((entry) => entry.msg === 'graphql operation' && entry.requestId === requestId),
    );
    expect(operation).toMatchObject({ operation: 'LoggedViewer', type: 'query', level: 20 });
    const access = await eventually(() =>
      entries().find((entry) => entry.msg === 'request completed' && entry.requestId === requestId),
    );
    expect(access).toMatchObject({
      level: 30,
      req: { method: 'POST', path: '/graphql', remoteAddress: '127.0.0.1' },
      res: { statusCode: 200 },
    });
  });

  it('follow a message from the request that sent it to its delivery to subscribers', async () => {
    const channel = await createChannel(server, org.users.Alice!, { members: [org.users.Bob!] });
    const subscriber = await liveMessageEvents(server, {
      token: org.users.Bob!.token,
      channelId: channel.id,
      prober: org.admin,
    });
    try {
      const requestId = `follow-${randomBytes(4).toString('hex')}`;
      const sent = dataOf(
        await gql(
          server.graphqlUrl,
          SendMessage,
          { input: { channelId: channel.id, content: 'follow me' } },
          { token: org.users.Alice!.token, headers: { 'x-request-id': requestId } },
        ),
      ).sendMessage;
      const delivered = await eventually(() =>
        entries().find((entry) => entry.msg === 'message event delivered' && entry.messageId === sent.id),
      );
      expect(delivered).toMatchObject({ requestId, kind: 'CREATED', listeners: expect.any(Number) });
      await subscriber.waitForMessages(1);
    } finally {
      await subscriber.close();
    }
  });

  it('follow a customer message from the webhook request that brought it to its delivery to subscribers', async () => {
    const subscriber = await liveEvents(server, org);
    try {
      const conversation = await openConversation(server, org, 'WHATSAPP');
      const requestId = `webhook-${randomBytes(4).toString('hex')}`;
      const body = whatsAppDelivery('wa_inbound_text.json', conversation);
      const answer = await postWebhook(webhookUrl(server, conversation.integration), body, {
        secret: conversation.integration.appSecret,
        headers: { 'x-request-id': requestId },
      });
      expect(answer.status).toBe(200);
      const delivered = await eventually(() =>
        entries().find((entry) => entry.msg === 'message event delivered' && entry.requestId === requestId),
      );
      const stored = await channelMessages(server, conversation.channelId);
      expect(stored.map((message) => message.content)).toEqual(['Body Text']);
      expect(delivered).toMatchObject({ kind: 'CREATED', messageId: stored[0]!.id });
    } finally {
      await subscriber.close();
    }
  });

  it('redact the Authorization header, cookies and signatures, and leave query strings out', async () => {
    const requestId = `log-test-${randomBytes(4).toString('hex')}`;
    const cookie = `session=${randomBytes(8).toString('hex')}`;
    const signature = `sha256=${randomBytes(32).toString('hex')}`;
    const secretInQuery = randomBytes(8).toString('hex');
    const response = await fetch(`${server.graphqlUrl}?query=%7Bviewer%7Bid%7D%7D&token=${secretInQuery}`, {
      headers: {
        authorization: `Bearer ${org.admin.token}`,
        cookie,
        'x-hub-signature-256': signature,
        'x-request-id': requestId,
        accept: 'application/json',
      },
    });
    expect(response.status).toBe(200);
    const access = await eventually(() =>
      entries().find((entry) => entry.msg === 'request completed' && entry.requestId === requestId),
    );
    expect(access).toMatchObject({
      req: {
        path: '/graphql',
        headers: { authorization: '[redacted]', cookie: '[redacted]', 'x-hub-signature-256': '[redacted]' },
      },
    });
    const everything = written.join('');
    for (const secret of [org.admin.token, cookie, signature, secretInQuery]) expect(everything).not.toContain(secret);
  });

  it('name the request in which an unexpected error happened, which the client sees masked', async () => {
    const channel = await createChannel(server, org.users.Alice!);
    const { messages } = server.app.services;
    const history = messages.history.bind(messages);
    // A failure of the server's own (a bug, say), which no input can cause on purpose.
    messages.history = () => Promise.reject(new Error('boom: SELECT secret FROM somewhere'));
    try {
      const requestId = `failing-${randomBytes(4).toString('hex')}`;
      const over = async (answer: Promise<unknown>, requestIdIs: (id: unknown) => boolean) => {
        expect(JSON.stringify(await answer)).toMatch(/"message":"Unexpected error\.?".*"code":"INTERNAL_SERVER_ERROR"/);
        const logged = await eventually(() =>
          entries().find((entry) => entry.msg === 'unexpected error' && requestIdIs(entry.requestId)),
        );
        expect(logged).toMatchObject({ level: 50, err: { message: 'boom: SELECT secret FROM somewhere' } });
        // Once: logged where the request is known, not again by the masker.
        const lines = entries().filter((entry) => entry.msg === 'unexpected error');
        expect(lines.filter((entry) => entry.requestId === logged.requestId)).toHaveLength(1);
        expect(lines.filter((entry) => entry.requestId === undefined)).toHaveLength(0);
      };
      await over(
        gql(
          server.graphqlUrl,
          ChannelHistory,
          { channelId: channel.id },
          {
            token: org.users.Alice!.token,
            headers: { 'x-request-id': requestId },
          },
        ),
        (id) => id === requestId,
      );
      const client = wsClient(server.wsUrl, org.users.Alice!.token);
      try {
        const failing = subscribe(client, ChannelHistory, { channelId: channel.id });
        await over(failing.waitForError(), (id) => String(id).startsWith('ws-'));
      } finally {
        await client.dispose();
      }
    } finally {
      messages.history = history;
    }
  });

  it('log an unexpected error in an event that subscribers share once, and show it to each of them masked', async () => {
    const [alice, bob] = [org.users.Alice!, org.users.Bob!];
    const channel = await createChannel(server, alice, { members: [bob] });
    const clients = [alice, bob].map((user) => wsClient(server.wsUrl, user.token));
    const { pool } = server.app.db;
    const query = pool.query.bind(pool);
    try {
      const views = clients.map((client) => subscribe(client, ReactionsView, { channelId: channel.id }));
      await untilLive(views, () => send(server, alice, channel.id, PROBE));
      const doomed = await server.app.services.sendMessage.execute(alice.session, {
        channelId: channel.id,
        content: 'doomed',
      });
      await Promise.all(views.map((view) => view.waitFor((events) => JSON.stringify(events).includes(doomed.id))));
      // A failure of the server's own while the edited message's reactions are read for its subscribers.
      pool.query = ((...args: Parameters<typeof query>) => {
        const [text, values] = args as unknown as [unknown, unknown[] | undefined];
        if (
          typeof text === 'string' &&
          text.includes('FROM message_reactions') &&
          JSON.stringify(values).includes(doomed.id)
        )
          return Promise.reject(new Error('reactions went boom: SELECT secret FROM somewhere'));
        return query(...args);
      }) as typeof pool.query;
      await server.app.services.messages.edit(alice.session, { messageId: doomed.id, content: 'doomed, edited' });
      const failures = await Promise.all(
        views.map((view) => view.waitFor(() => view.errors.length > 0).then(() => view.errors)),
      );
      for (const errors of failures) {
        expect(JSON.stringify(errors)).toMatch(/"message":"Unexpected error\.?".*"code":"INTERNAL_SERVER_ERROR"/);
        expect(JSON.stringify(errors)).not.toContain('went boom');
      }
      // One execution served both subscribers: it was logged once, with the operation of one of them.
      const lines = entries().filter(
        (entry) => entry.msg === 'unexpected error' && JSON.stringify(entry).includes('reactions went boom'),
      );
      expect(lines).toHaveLength(1);
      expect(String(lines[0]!.requestId)).toMatch(/^ws-/);
    } finally {
      pool.query = query;
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it('carry the graphql-ws operation id on lines written while its operation executes', async () => {
    const client = wsClient(server.wsUrl, org.admin.token);
    try {
      await subscribe(client, Viewer).waitForCount(1);
      const operation = await eventually(() =>
        entries().find(
          (entry) =>
            entry.msg === 'graphql operation' &&
            entry.operation === 'LoggedViewer' &&
            String(entry.requestId).startsWith('ws-'),
        ),
      );
      expect(operation).toMatchObject({ operation: 'LoggedViewer', type: 'query' });
      expect(written.join('')).not.toContain(org.admin.token);
    } finally {
      await client.dispose();
    }
  });
});
