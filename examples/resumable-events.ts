import { type Client, createClient } from 'graphql-ws';

// A chat client's one subscription, resumed after the last cursor it saw on every reconnect: every event of every
// kind arrives once, in order, however often the socket drops. graphql-ws sends the same subscribe payload again
// on each reconnect, so keeping the latest cursor in that payload is all it takes.

const VIEWER_EVENTS = `subscription Events($after: String) {
  viewerEvents(after: $after) {
    __typename
    ... on MessageEvent { cursor messageKind: kind message { id channelId content deleted } }
    ... on ReactionEvent { cursor reactionKind: kind messageId emoji user { id } }
    ... on MessageStatusEvent { cursor messageId status user { id } }
    ... on ChannelEvent { cursor channelKind: kind channelId channel { name } }
    ... on TypingEvent { channelId typing user { id } }
    ... on PresenceEvent { presence user { id } }
  }
}`;

export interface ViewerEvent {
  __typename: string;
  cursor?: string;
  [field: string]: unknown;
}

export interface ResumableEvents {
  client: Client;
  stop(): void;
}

export function resumableEvents(options: {
  url: string | (() => string);
  /** Read on every (re)connection, so a refreshed access token is used. */
  accessToken: () => string;
  onEvent: (event: ViewerEvent) => void;
  /** The cursor to start from, e.g. the last one kept from an earlier run (null: live from now). */
  after?: string | null;
  /** When the server says the events after the cursor are no longer kept: refetch state (then live from now). */
  onExpired?: () => void;
  webSocketImpl?: unknown;
}): ResumableEvents {
  const payload = { query: VIEWER_EVENTS, variables: { after: options.after ?? null } };
  const client = createClient({
    url: options.url,
    webSocketImpl: options.webSocketImpl,
    connectionParams: () => ({ authorization: `Bearer ${options.accessToken()}` }),
    retryAttempts: Infinity,
    shouldRetry: () => true,
    // Jittered backoff, capped at 10 s.
    retryWait: (retries) =>
      new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 250 * 2 ** retries) * (0.5 + Math.random()))),
  });
  let stopped = false;
  let unsubscribe = () => {};
  // The server ended the subscription: too far behind (SUBSCRIPTION_OVERFLOW) or a passing outage
  // (SERVICE_UNAVAILABLE) resume from the same cursor; an expired cursor starts afresh after a refetch.
  const recover = (errors: readonly { extensions?: { code?: unknown } }[]) => {
    if (stopped) return;
    const codes = errors.map((error) => error.extensions?.code);
    if (codes.includes('UNAUTHENTICATED')) return;
    if (codes.includes('CURSOR_EXPIRED')) {
      payload.variables.after = null;
      options.onExpired?.();
    }
    setTimeout(subscribe, 1_000);
  };
  const subscribe = () => {
    unsubscribe = client.subscribe<{ viewerEvents: ViewerEvent }>(payload, {
      next: ({ data, errors }) => {
        if (errors?.length) return recover(errors);
        if (!data) return;
        // Resume after this event on the next reconnect (typing and presence are not replayed: no cursor).
        if (data.viewerEvents.cursor) payload.variables.after = data.viewerEvents.cursor;
        options.onEvent(data.viewerEvents);
      },
      error: (errors) => recover(Array.isArray(errors) ? errors : []),
      complete: () => undefined,
    });
  };
  subscribe();
  return {
    client,
    stop: () => {
      stopped = true;
      unsubscribe();
      // dispose() waits for a connection under way; one that was waiting to retry is abandoned with a rejection
      // ("All Subscriptions Gone"), which must not become an unhandled rejection that ends the process.
      Promise.resolve(client.dispose()).catch(() => undefined);
    },
  };
}
