import type { Plugin } from 'graphql-yoga';

/**
 * The server-sent event streams (subscriptions over SSE) that /graphql has open, so that a graceful stop can end
 * them at once rather than wait for its timeout: each stream is handed out through one this server can close.
 * Ending it finishes the HTTP response cleanly, without a `complete` event (the subscription did not complete:
 * the client reconnects, to another instance, and resumes from its last cursor, as after a WebSocket's 1001),
 * and cancels yoga's stream underneath, which ends the subscription.
 */
export class EventStreams {
  private readonly open = new Set<() => void>();

  readonly plugin: Plugin = {
    onResponse: ({ response, setResponse, fetchAPI }) => {
      const source = response.body;
      if (!source || !response.headers.get('content-type')?.startsWith('text/event-stream')) return;
      const reader = source.getReader();
      let closed = false;
      let end = () => undefined as void;
      const stream = new fetchAPI.ReadableStream<Uint8Array>({
        start: (controller) => {
          end = () => {
            if (closed) return;
            closed = true;
            this.open.delete(end);
            controller.close();
            reader.cancel().catch(() => undefined);
          };
          this.open.add(end);
        },
        pull: async (controller) => {
          const { done, value } = await reader.read();
          if (closed) return;
          if (done) end();
          else controller.enqueue(value);
        },
        cancel: (reason) => {
          closed = true;
          this.open.delete(end);
          return reader.cancel(reason);
        },
      });
      setResponse(new fetchAPI.Response(stream, { status: response.status, headers: response.headers }));
    },
  };

  /** Ends every open stream (a graceful stop). */
  endAll(): void {
    for (const end of [...this.open]) end();
  }
}
