import { graphql } from '../gql/index.js';
import type { SendMessageInput } from '../gql/graphql.js';
import {
  type FakeGraph,
  type GraphReply,
  type GraphRequest,
  graphSuccess,
  startFakeGraph,
  type TemplateListing,
  templateReply,
} from './fake-graph.js';
import { gql } from './graphql.js';
import { seedOrganization, type TestOrganization, type TestUser } from './seed.js';
import { holdSenderLock } from './sender-lock.js';
import { startServer, type TestServer } from './server.js';
import { waitFor } from './webhooks.js';

// A server whose outbox sender delivers to a fake Graph API of the test's own (the only fake in the tests),
// for the test files that follow staff messages out to Meta and back. The fake answers like Meta's Send API,
// or as the test decides per recipient.

export const SendToClient = graphql(`
  mutation SendToClient($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      content
      threadId
    }
  }
`);

export type Responder = (request: GraphRequest, nthToRecipient: number) => GraphReply;

/** Who a Send API request is addressed to: WhatsApp's `to` (or `recipient`), Instagram's `recipient.id`. */
export function recipientOf(request: GraphRequest): string {
  const { to, recipient } = request.body;
  if (typeof to === 'string') return to;
  if (typeof recipient === 'string') return recipient;
  return (recipient as { id?: string } | undefined)?.id ?? '';
}

export interface SendingWorld {
  server: TestServer;
  fake: FakeGraph;
  /** The sender's settings, for another instance (or a worker built by the test) to use. */
  env: Record<string, string>;
  /** How the fake answers requests to a recipient (default: success with a new id). */
  respondTo(recipient: string, responder: Responder): void;
  /** What the fake lists as a WhatsApp Business account's templates (or answers instead). */
  serveTemplates(accountId: string, listing: TemplateListing): void;
  requestsTo(recipient: string): GraphRequest[];
  stop(): Promise<void>;
}

/** Takes the sender lock (see sender-lock.ts), starts the fake Graph API and a server sending to it. */
export async function startSendingWorld(extraEnv: Record<string, string> = {}): Promise<SendingWorld> {
  const lock = await holdSenderLock();
  try {
    return await startWith(lock, extraEnv);
  } catch (error) {
    await lock.release();
    throw error;
  }
}

async function startWith(lock: { release(): Promise<void> }, extraEnv: Record<string, string>): Promise<SendingWorld> {
  const fake = await startFakeGraph();
  const responders = new Map<string, Responder>();
  const templateListings = new Map<string, TemplateListing>();
  const requestsTo = (recipient: string) => fake.requests.filter((request) => recipientOf(request) === recipient);
  fake.respond((request, index) => {
    const templates = templateReply(request, templateListings);
    if (templates) return templates;
    const recipient = recipientOf(request);
    const responder = responders.get(recipient);
    return responder ? responder(request, requestsTo(recipient).length - 1) : graphSuccess(request, index);
  });
  const env = {
    META_GRAPH_API_URL: `${fake.url}/v22.0`,
    META_INSTAGRAM_API_URL: `${fake.url}/ig/v22.0`,
    OUTBOX_WORKER_ENABLED: 'true',
    OUTBOX_MAX_ATTEMPTS: '3',
    OUTBOX_RETRY_BASE_MS: '30',
    OUTBOX_POLL_INTERVAL_MS: '100',
    ...extraEnv,
  };
  const server = await startServer({ env });
  return {
    server,
    fake,
    env,
    respondTo: (recipient, responder) => responders.set(recipient, responder),
    serveTemplates: (accountId, listing) => templateListings.set(accountId, listing),
    requestsTo,
    stop: async () => {
      await server.stop();
      await fake.stop();
      await lock.release();
    },
  };
}

/** sendMessage over GraphQL, as a chat client does; the response as it came (errors included). */
export const sendMessage = (server: TestServer, author: TestUser, input: SendMessageInput) =>
  gql(server.graphqlUrl, SendToClient, { input }, { token: author.token });

/** The outbox row of a message once the sender is done with it (SENT or FAILED). */
export const settledOutbound = (server: TestServer, messageId: string) =>
  waitFor(
    async () => {
      const [row] = await server.app.db.prisma.outboundMessage.findMany({ where: { messageId } });
      return row && row.status !== 'PENDING' ? row : null;
    },
    10_000,
    `the outbox row of ${messageId} to settle`,
  );

export interface PacedSenders {
  world: SendingWorld;
  /** A second instance on the same database, Redis and fake Meta: both claim from the same due rows. */
  secondSender: TestServer;
  org: TestOrganization;
  stop(): Promise<void>;
}

/**
 * Two sending instances pacing sends to Meta at the rates given (`WHATSAPP_SENDS_PER_SECOND` and the like),
 * together (through Redis).
 */
export async function startPacedSenders(rates: Record<string, string>): Promise<PacedSenders> {
  const world = await startSendingWorld({
    ...rates,
    // Paced rows are due again long before a poll: the senders must wake for them.
    OUTBOX_POLL_INTERVAL_MS: '60000',
  });
  const secondSender = await startServer({ env: world.env });
  const org = await seedOrganization(world.server);
  return {
    world,
    secondSender,
    org,
    async stop() {
      await secondSender.stop();
      await world.stop();
    },
  };
}

/** The most sends that arrived within any `windowMs` (a window that may start at any send). */
export function mostWithin(times: number[], windowMs: number): number {
  const sorted = [...times].sort((a, b) => a - b);
  return Math.max(
    0,
    ...sorted.map((start) => sorted.filter((time) => time >= start && time < start + windowMs).length),
  );
}
