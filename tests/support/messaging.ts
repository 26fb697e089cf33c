import { CreateChannel, MessageEvents, SendMessage } from './documents.js';
import { dataOf, gql, subscribe, wsClient } from './graphql.js';
import type { TestServer } from './server.js';
import type { TestUser } from './seed.js';
import { repeatUntilStopped } from './repeat.js';

/** A channel created through the API by `owner`, with `members` added. */
export async function createChannel(
  server: TestServer,
  owner: TestUser,
  options: { name?: string; channelType?: 'PUBLIC' | 'PRIVATE'; members?: TestUser[] } = {},
) {
  const data = dataOf(
    await gql(
      server.graphqlUrl,
      CreateChannel,
      {
        input: {
          name: options.name ?? `channel-${Math.random().toString(36).slice(2, 8)}`,
          channelType: options.channelType ?? 'PUBLIC',
          memberIds: (options.members ?? []).map((member) => member.id),
        },
      },
      { token: owner.token },
    ),
  );
  return data.createChannel;
}

/** Sends a text message through the API and returns it. */
export async function send(
  server: TestServer,
  author: TestUser,
  channelId: string,
  content: string,
  threadId?: string,
) {
  const data = dataOf(
    await gql(server.graphqlUrl, SendMessage, { input: { channelId, content, threadId } }, { token: author.token }),
  );
  return data.sendMessage;
}

export const PROBE = '(probe)';

/**
 * Subscribes to a channel's message events. Without `after`, it also sends probe messages (as `prober`) until
 * one arrives, since graphql-ws does not acknowledge that a subscription is in place; `messages()` and
 * `waitForMessages()` leave the probes out.
 */
export async function liveMessageEvents(
  server: TestServer,
  options: { token: string; channelId: string; after?: string; prober: TestUser },
) {
  const client = wsClient(server.wsUrl, options.token);
  const events = subscribe(client, MessageEvents, { channelId: options.channelId, after: options.after });
  if (!options.after) {
    const prober = repeatUntilStopped(() => send(server, options.prober, options.channelId, PROBE), 30);
    try {
      await events.waitForCount(1);
    } finally {
      await prober.stop();
    }
    // Events arrive in order: once a last probe is in, no earlier one is still on its way.
    const last = await send(server, options.prober, options.channelId, PROBE);
    await events.waitFor((received) => received.some((event) => event.messageEvents.message.id === last.id));
  }
  const messages = () => events.events.filter((event) => event.messageEvents.message.content !== PROBE);
  const waitForMessages = async (count: number, timeoutMs?: number) => {
    await events.waitFor(() => messages().length >= count, timeoutMs);
    return messages();
  };
  return { client, events, messages, waitForMessages, close: async () => (events.stop(), await client.dispose()) };
}
