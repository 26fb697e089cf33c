import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type GraphQLFormattedError, print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

export interface GraphQLResponse<T> {
  status: number;
  data?: T | null;
  errors?: GraphQLFormattedError[];
}

/** POSTs a typed document to /graphql, as a client would. */
export async function gql<TResult, TVariables>(
  url: string,
  document: TypedDocumentNode<TResult, TVariables>,
  variables?: TVariables,
  options: { token?: string; headers?: Record<string, string> } = {},
): Promise<GraphQLResponse<TResult>> {
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: JSON.stringify({ query: print(document), variables }),
  });
  const body = (await response.json()) as Omit<GraphQLResponse<TResult>, 'status'>;
  return { status: response.status, ...body };
}

/** The data of a response that must have succeeded; a failure shows its errors. */
export function dataOf<T>(response: GraphQLResponse<T>): T {
  if (response.errors?.length || !response.data) {
    throw new Error(`GraphQL request failed (${response.status}): ${JSON.stringify(response.errors)}`);
  }
  return response.data;
}

/** The error codes of a response, in order. */
export const errorCodes = (response: { errors?: readonly GraphQLFormattedError[] }) =>
  (response.errors ?? []).map((error) => error.extensions?.code);

export function wsClient(wsUrl: string, token?: string): Client {
  return createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: token ? { authorization: `Bearer ${token}` } : {},
    retryAttempts: 0,
    lazy: false,
  });
}

export interface Subscription<T> {
  readonly events: T[];
  readonly errors: unknown[];
  /** Resolves once `count` events have arrived (or rejects after the timeout, showing what did arrive). */
  waitForCount(count: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves once the events received so far satisfy `predicate`. */
  waitFor(predicate: (events: T[]) => boolean, timeoutMs?: number): Promise<T[]>;
  /** Resolves when the subscription fails or completes with an error. */
  waitForError(timeoutMs?: number): Promise<unknown>;
  stop(): void;
}

/** Subscribes over graphql-ws and collects every event. */
export function subscribe<TResult, TVariables extends Record<string, unknown>>(
  client: Client,
  document: TypedDocumentNode<TResult, TVariables>,
  variables?: TVariables,
): Subscription<TResult> {
  const events: TResult[] = [];
  const errors: unknown[] = [];
  const waiters = new Set<() => void>();
  const notify = () => waiters.forEach((waiter) => waiter());
  const stop = client.subscribe<TResult>(
    { query: print(document), variables },
    {
      next: (result) => {
        if (result.errors?.length) errors.push(result.errors);
        else if (result.data) events.push(result.data);
        notify();
      },
      error: (error) => {
        errors.push(error);
        notify();
      },
      complete: notify,
    },
  );
  const waitUntil = (done: () => boolean, timeoutMs: number, describe: () => string) =>
    new Promise<void>((resolve, reject) => {
      if (done()) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out: ${describe()}`));
      }, timeoutMs);
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
    });
  return {
    events,
    errors,
    async waitForCount(count, timeoutMs = 5_000) {
      await waitUntil(
        () => events.length >= count,
        timeoutMs,
        () =>
          `expected ${count} events, got ${events.length}: ${JSON.stringify(events)} errors ${JSON.stringify(errors)}`,
      );
      return events;
    },
    async waitFor(predicate, timeoutMs = 5_000) {
      await waitUntil(
        () => predicate(events),
        timeoutMs,
        () =>
          `condition not met by ${events.length} events: ${JSON.stringify(events)} errors ${JSON.stringify(errors)}`,
      );
      return events;
    },
    async waitForError(timeoutMs = 5_000) {
      await waitUntil(
        () => errors.length > 0,
        timeoutMs,
        () => `expected an error, got events ${JSON.stringify(events)}`,
      );
      return errors[0];
    },
    stop,
  };
}
