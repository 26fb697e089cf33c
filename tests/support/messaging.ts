import { CreateChannel, MessageEvents, SendMessage } from './documents.js';
import { dataOf, gql, subscribe, type Subscription, wsClient } from './graphql.js';
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
 * Returns once every subscription is live (graphql-ws does not say when one is): `probe` sends a message the
 * subscriptions see, again and again until each has received an event, then once more; events arrive in order, so
 * once each has that last one, no probe is still on its way to any of them.
 */
export async function untilLive<T>(
  subscriptions: Subscription<T>[],
  probe: () => Promise<{ id: string }>,
): Promise<void> {
  const prober = repeatUntilStopped(probe, 30);
  try {
    await Promise.all(subscriptions.map((subscription) => subscription.waitForCount(1)));
  } finally {
    await prober.stop();
  }
  const last = await probe();
  await Promise.all(
    subscriptions.map((subscription) => subscription.waitFor((events) => JSON.stringify(events).includes(last.id))),
  );
}

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
  if (!options.after) await untilLive([events], () => send(server, options.prober, options.channelId, PROBE));
  const messages = () => events.events.filter((event) => event.messageEvents.message.content !== PROBE);
  const waitForMessages = async (count: number, timeoutMs?: number) => {
    await events.waitFor(() => messages().length >= count, timeoutMs);
    return messages();
  };
  return { client, events, messages, waitForMessages, close: async () => (events.stop(), await client.dispose()) };
}
