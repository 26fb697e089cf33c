import { randomBytes } from 'node:crypto';
import { graphql } from '../gql/index.js';
import { subscribe, wsClient } from './graphql.js';
import type { TestOrganization } from './seed.js';
import type { TestServer } from './server.js';
import { repeatUntilStopped } from './repeat.js';

// What a chat client of the organization's admin sees over graphql-ws: every message, reaction and status
// event of every channel, on one `viewerEvents` subscription. Tests compare a channel's events with what its
// rows say happened, exactly: a missing event and a duplicate both fail.

const LiveViewerEvents = graphql(`
  subscription LiveViewerEvents {
    viewerEvents {
      __typename
      ... on MessageEvent {
        messageKind: kind
        message {
          id
          channelId
          content
          messageType
          deleted
          threadId
          author {
            id
          }
        }
      }
      ... on ReactionEvent {
        reactionKind: kind
        channelId
        messageId
        emoji
        user {
          id
        }
      }
      ... on MessageStatusEvent {
        channelId
        messageId
        status
        user {
          id
        }
      }
    }
  }
`);

/** An event reduced to what tests compare. */
export type SeenEvent =
  | { type: 'message'; kind: string; messageId: string; content: string | null; authorId: string }
  | { type: 'reaction'; kind: string; messageId: string; emoji: string; userId: string }
  | { type: 'status'; messageId: string; status: string; userId: string };

/** How long to keep listening after the expected events arrived, for a duplicate to show up. */
const QUIET_MS = 400;

export type LiveEvents = Awaited<ReturnType<typeof liveEvents>>;

/**
 * Subscribes as the organization's admin. graphql-ws does not acknowledge a subscription, so the admin
 * writes probe messages into a staff channel of its own until one arrives; from then on the subscription is
 * live. The probe channel has no clients, so probes never go out to a platform.
 */
export async function liveEvents(server: TestServer, org: TestOrganization) {
  const probeChannel = await server.app.services.channels.create(org.admin.session, {
    name: `probes-${randomBytes(3).toString('hex')}`,
    channelType: 'PRIVATE',
  });
  const client = wsClient(server.wsUrl, org.admin.token);
  const subscription = subscribe(client, LiveViewerEvents, {});
  const prober = repeatUntilStopped(
    () =>
      server.app.services.sendMessage.execute(org.admin.session, { channelId: probeChannel.id, content: '(probe)' }),
    50,
  );
  try {
    await subscription.waitForCount(1, 10_000);
  } finally {
    await prober.stop();
  }

  const ofChannel = (channelId: string): SeenEvent[] =>
    subscription.events.flatMap(({ viewerEvents: event }): SeenEvent[] => {
      switch (event.__typename) {
        case 'MessageEvent':
          return event.message.channelId === channelId
            ? [
                {
                  type: 'message',
                  kind: event.messageKind,
                  messageId: event.message.id,
                  content: event.message.content ?? null,
                  authorId: event.message.author.id,
                },
              ]
            : [];
        case 'ReactionEvent':
          return event.channelId === channelId
            ? [
                {
                  type: 'reaction',
                  kind: event.reactionKind,
                  messageId: event.messageId,
                  emoji: event.emoji,
                  userId: event.user.id,
                },
              ]
            : [];
        case 'MessageStatusEvent':
          return event.channelId === channelId
            ? [{ type: 'status', messageId: event.messageId, status: event.status, userId: event.user.id }]
            : [];
        default:
          return [];
      }
    });

  return {
    ofChannel,
    /**
     * The channel's events once there are at least `count` of them and nothing more arrived for a while, so
     * that comparing them with the expected list also catches duplicates.
     */
    async settled(channelId: string, count: number, timeoutMs = 10_000): Promise<SeenEvent[]> {
      await subscription.waitFor(() => ofChannel(channelId).length >= count, timeoutMs);
      for (;;) {
        const before = ofChannel(channelId).length;
        await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
        if (ofChannel(channelId).length === before) return ofChannel(channelId);
      }
    },
    errors: subscription.errors,
    close: async () => {
      subscription.stop();
      await client.dispose();
    },
  };
}
