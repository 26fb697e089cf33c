import type { GraphQLFormattedError } from 'graphql';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

/** An untyped GraphQL request, for tables of operations where one typed document per row would be noise. */
export async function rawGql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
  token?: string,
): Promise<{ status: number; data?: Record<string, unknown> | null; errors?: GraphQLFormattedError[] }> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, ...((await response.json()) as object) };
}

/** The first result of a subscription over graphql-ws (an event, or the errors that ended it). */
export async function firstSubscriptionResult(
  wsUrl: string,
  query: string,
  variables: Record<string, unknown>,
  token: string,
  timeoutMs = 3_000,
): Promise<{ data?: unknown; errors?: readonly GraphQLFormattedError[] } | 'no event'> {
  const client = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve('no event'), timeoutMs);
      client.subscribe(
        { query, variables },
        {
          next: (result) => {
            clearTimeout(timer);
            resolve(result);
          },
          error: (error) => {
            clearTimeout(timer);
            resolve({
              errors: Array.isArray(error) ? error : [{ message: String((error as Error).message ?? error) }],
            });
          },
          complete: () => undefined,
        },
      );
    });
  } finally {
    await client.dispose();
  }
}
