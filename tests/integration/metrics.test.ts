import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import type { FormattedExecutionResult } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';
import { dataOf, errorCodes, gql, wsClient } from '../support/graphql.js';
import { createChannel, liveMessageEvents, send } from '../support/messaging.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

const Viewer = graphql(`
  query MetricsViewer {
    viewer {
      id
    }
  }
`);

interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** The samples of one metric in a Prometheus text exposition. */
function samples(exposition: string, name: string): Sample[] {
  const found: Sample[] = [];
  for (const line of exposition.split('\n')) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const labels = Object.fromEntries(
      [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]),
    );
    found.push({ labels, value: Number(match[3]) });
  }
  return found;
}

/** The value of the sample whose labels include `labels` (undefined when there is none). */
const valueOf = (exposition: string, name: string, labels: Record<string, string> = {}) =>
  samples(exposition, name).find((sample) =>
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  )?.value;

type WsResult = FormattedExecutionResult<Record<string, unknown>, unknown>;

/** One query over graphql-ws: its last result, or its errors when refused before running. */
function overWebSocket(client: Client, query: string): Promise<WsResult> {
  return new Promise((resolve) => {
    let result: WsResult = {};
    client.subscribe(
      { query },
      {
        next: (value) => (result = value),
        error: (errors) => resolve({ errors: errors as never }),
        complete: () => resolve(result),
      },
    );
  });
}

async function scrape(server: TestServer, token?: string): Promise<string> {
  const response = await fetch(`${server.url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return response.text();
}

let server: TestServer;
let guarded: TestServer;
let org: TestOrganization;
const METRICS_TOKEN = 'metrics-token-for-the-test-0123';

beforeAll(async () => {
  [server, guarded] = await Promise.all([startServer(), startServer({ env: { METRICS_TOKEN } })]);
  org = await seedOrganization(server);
});
afterAll(() => Promise.all([server, guarded].map((started) => started?.stop())));

describe('/metrics', () => {
  it('counts HTTP requests, GraphQL operations and errors by code, with latencies', async () => {
    dataOf(await gql(server.graphqlUrl, Viewer, {}, { token: org.admin.token }));
    dataOf(await gql(server.graphqlUrl, Viewer, {}, { token: org.admin.token }));
    expect(errorCodes(await gql(server.graphqlUrl, Viewer, {}))).toEqual(['UNAUTHENTICATED']);
    const syntax = await fetch(server.graphqlUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ viewer {' }),
    });
    expect(syntax.status).toBe(200);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);

    const text = await scrape(server);
    expect(valueOf(text, 'chat_http_requests_total', { route: 'graphql', method: 'POST', status: '200' })).toBe(4);
    expect(valueOf(text, 'chat_http_requests_total', { route: 'healthz', method: 'GET', status: '200' })).toBe(1);
    expect(valueOf(text, 'chat_http_requests_total', { route: 'unmatched', method: 'GET', status: '404' })).toBe(1);
    expect(valueOf(text, 'chat_http_request_duration_seconds_count', { route: 'graphql', method: 'POST' })).toBe(4);
    expect(valueOf(text, 'chat_http_request_duration_seconds_bucket', { route: 'graphql', le: '+Inf' })).toBe(4);
    expect(valueOf(text, 'chat_graphql_operations_total', { operation: 'MetricsViewer', type: 'query' })).toBe(3);
    expect(valueOf(text, 'chat_graphql_operation_duration_seconds_count', { operation: 'MetricsViewer' })).toBe(3);
    expect(valueOf(text, 'chat_graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
    expect(valueOf(text, 'chat_graphql_errors_total', { code: 'GRAPHQL_PARSE_FAILED' })).toBe(1);
  });

  it('shows open sockets, running graphql-ws operations, the event bus and the process', async () => {
    const admin = wsClient(server.wsUrl, org.admin.token);
    const again = wsClient(server.wsUrl, org.admin.token);
    const anonymous = createClient({ url: server.wsUrl, webSocketImpl: WebSocket, retryAttempts: 0 });
    try {
      expect(await overWebSocket(admin, '{ viewer { id } }')).toEqual({ data: { viewer: { id: org.admin.id } } });
      expect(await overWebSocket(again, '{ viewer { id } }')).toEqual({ data: { viewer: { id: org.admin.id } } });
      // Refused at connection_init: the socket closes, no operation runs.
      const refused = (await overWebSocket(anonymous, '{ viewer { id } }')).errors as unknown as { code: number };
      expect(refused.code).toBe(4403);
      const text = await scrape(server);
      expect(valueOf(text, 'chat_websocket_connections')).toBe(2);
      expect(valueOf(text, 'chat_graphql_ws_operations')).toBe(0);
      expect(valueOf(text, 'chat_websocket_limit_refusals_total', { limit: 'unauthenticated' })).toBe(1);
      // From the HTTP request in the test above.
      expect(valueOf(text, 'chat_graphql_errors_total', { code: 'UNAUTHENTICATED' })).toBe(1);
      expect(valueOf(text, 'chat_event_bus_connected')).toBe(1);
      expect(valueOf(text, 'chat_event_bus_publish_failures_total')).toBe(0);
      expect(valueOf(text, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);
      expect(valueOf(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    } finally {
      await Promise.all([admin.dispose(), again.dispose(), anonymous.dispose()]);
    }
  });

  it("lets modules register their own metrics in the app's registry, apart from other apps", async () => {
    const deliveries = server.app.metrics.counter({
      name: 'chat_test_deliveries_total',
      help: 'A metric a module would register',
      labelNames: ['outcome'],
    });
    deliveries.inc({ outcome: 'stored' }, 2);
    // Asking again gives the same counter; the same name as another kind is a mistake.
    server.app.metrics
      .counter({ name: 'chat_test_deliveries_total', help: '', labelNames: ['outcome'] })
      .inc({ outcome: 'stored' });
    expect(() => server.app.metrics.gauge({ name: 'chat_test_deliveries_total', help: '' })).toThrow(/another kind/);
    expect(valueOf(await scrape(server), 'chat_test_deliveries_total', { outcome: 'stored' })).toBe(3);
    expect(valueOf(await scrape(guarded, METRICS_TOKEN), 'chat_test_deliveries_total')).toBeUndefined();
  });

  it('asks for the bearer token when METRICS_TOKEN is set', async () => {
    const missing = await fetch(`${guarded.url}/metrics`);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    expect(await missing.json()).toEqual({ error: 'A valid bearer token is required' });
    const wrong = await fetch(`${guarded.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } });
    expect(wrong.status).toBe(401);
    // The guarded app counts its own scrapes only: none of the other app's traffic.
    const text = await scrape(guarded, METRICS_TOKEN);
    expect(valueOf(text, 'chat_http_requests_total', { route: 'graphql' })).toBeUndefined();
    expect(valueOf(text, 'chat_http_requests_total', { route: 'metrics', status: '401' })).toBe(2);
  });
});

// Last: the traffic here would change the exact counts the tests above assert.
describe('/metrics after messaging traffic', () => {
  it('shows subscriptions, event-bus lag, webhook answers and the outbox depth', async () => {
    const seeded = await seedOrganization(server, { users: ['Alice', 'Bob'] });
    const channel = await createChannel(server, seeded.users.Alice!, { members: [seeded.users.Bob!] });
    const subscriber = await liveMessageEvents(server, {
      token: seeded.users.Bob!.token,
      channelId: channel.id,
      prober: seeded.admin,
    });
    try {
      await send(server, seeded.users.Alice!, channel.id, 'counted');
      await subscriber.waitForMessages(1);
      const unknownIntegration = await fetch(`${server.url}/webhooks/whatsapp/00000000-0000-4000-8000-000000000000`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect(unknownIntegration.status).toBe(404);
      const exposition = await scrape(server);
      expect(valueOf(exposition, 'chat_subscriptions_active')).toBeGreaterThanOrEqual(1);
      expect(valueOf(exposition, 'chat_event_bus_lag_seconds_count')).toBeGreaterThan(0);
      expect(
        valueOf(exposition, 'chat_webhook_deliveries_total', { platform: 'whatsapp', outcome: 'unknown_integration' }),
      ).toBeGreaterThanOrEqual(1);
      expect(valueOf(exposition, 'chat_outbox_pending')).toEqual(expect.any(Number));
    } finally {
      await subscriber.close();
    }
  });
});
