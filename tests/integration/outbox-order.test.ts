import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { type Conversation, customerWrites, openConversation } from '../support/conversations.js';
import { type GraphReply, type GraphRequest, graphError, graphSuccess } from '../support/fake-graph.js';
import { dataOf } from '../support/graphql.js';
import { sendMessage, type SendingWorld, settledOutbound, startSendingWorld } from '../support/outbound.js';
import { createIntegration } from '../support/platform.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/webhooks.js';

// A client receives staff replies in the order staff wrote them: per recipient only the oldest pending reply is
// sent, one at a time across instances, and one that waits (Meta's pair limit here) holds the later ones back,
// while one that failed for good does not. Two sending instances share the database and the fake Graph API, and
// poll only once a minute: a recipient's next reply is claimed as soon as the one before is recorded.

const MESSAGE_DELAY_MS = 30;
const PAIR_LIMITED = graphError(400, 131056, '(#131056) (Business Account, Consumer Account) pair rate limit hit');

let world: SendingWorld;
let secondSender: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  world = await startSendingWorld({ OUTBOX_POLL_INTERVAL_MS: '60000' });
  secondSender = await startServer({ env: world.env });
  org = await seedOrganization(world.server);
}, SENDER_LOCK_WAIT_MS);
afterAll(async () => {
  await secondSender?.stop();
  await world?.stop();
});

const server = () => world.server;
const textOf = (request: GraphRequest) => (request.body.text as { body: string }).body;
const sentTexts = (conversation: Conversation) => world.requestsTo(conversation.platformUserId!).map(textOf);
/** Meta takes a while to answer each send, so that sends to one recipient at once would overlap. */
const slowMeta = (conversation: Conversation, refuse: (text: string, nth: number) => GraphReply | null = () => null) =>
  world.respondTo(conversation.platformUserId!, (request, nth) => ({
    ...(refuse(textOf(request), nth) ?? graphSuccess(request, nth)),
    delayMs: MESSAGE_DELAY_MS,
  }));
/** Staff replies written one after the other, through both instances in turn; returns them in written order. */
const staffWrites = async (conversation: Conversation, contents: string[]) => {
  const written = [];
  for (const [index, content] of contents.entries())
    written.push(
      dataOf(
        await sendMessage(index % 2 === 0 ? server() : secondSender, org.admin, {
          channelId: conversation.channelId,
          content,
        }),
      ).sendMessage,
    );
  return written;
};
const open = async (integration?: Conversation['integration']) => {
  const conversation = await openConversation(server(), org, 'WHATSAPP', integration ? { integration } : {});
  await customerWrites(server(), conversation);
  return conversation;
};

it('sends ten replies written at once through two instances in the order they were created, each once and one at a time', async () => {
  const conversation = await open();
  slowMeta(conversation);
  const contents = Array.from({ length: 10 }, (_, index) => `reply ${index + 1}`);
  // All written at once, half through each instance: the database's creation order is the order to keep.
  const written = await Promise.all(
    contents.map(
      async (content, index) =>
        dataOf(
          await sendMessage(index % 2 === 0 ? server() : secondSender, org.admin, {
            channelId: conversation.channelId,
            content,
          }),
        ).sendMessage,
    ),
  );
  const rows = await Promise.all(written.map((message) => settledOutbound(server(), message.id)));
  expect(rows.map((row) => [row.status, row.attempts])).toEqual(rows.map(() => ['SENT', 1]));

  const created = await server().app.db.prisma.message.findMany({
    where: { id: { in: written.map((message) => message.id) } },
    orderBy: { createdSeq: 'asc' },
  });
  expect(sentTexts(conversation)).toEqual(created.map((message) => message.content));
  // Never two at once: each send reached Meta only after Meta had answered the one before.
  const arrivals = world.requestsTo(conversation.platformUserId!).map((request) => world.fake.arrivalOf(request));
  for (let index = 1; index < arrivals.length; index++)
    expect(arrivals[index]! - arrivals[index - 1]!).toBeGreaterThanOrEqual(MESSAGE_DELAY_MS - 5);
}, 30_000);

it("holds a recipient's later replies back while Meta's pair limit makes the first wait, then sends them all in order", async () => {
  const conversation = await open();
  slowMeta(conversation, (text, nth) => (text === 'held 1' && nth === 0 ? PAIR_LIMITED : null));
  const contents = ['held 1', 'held 2', 'held 3', 'held 4'];
  const written = await staffWrites(conversation, contents);
  const rows = [];
  for (const message of written) rows.push(await settledOutbound(server(), message.id));

  // The pair limit is not counted against the reply: one attempt each, and nothing FAILED.
  expect(rows.map((row) => [row.status, row.attempts])).toEqual(rows.map(() => ['SENT', 1]));
  // The refused try, then everything in order: nothing overtook the reply that waited.
  expect(sentTexts(conversation)).toEqual(['held 1', ...contents]);
}, 30_000);

it('a reply that Meta refuses for good does not hold back the ones after it', async () => {
  const conversation = await open();
  slowMeta(conversation, (text) => (text === 'doomed 2' ? graphError(400, 131026, 'Message undeliverable') : null));
  const contents = ['doomed 1', 'doomed 2', 'doomed 3', 'doomed 4'];
  const written = await staffWrites(conversation, contents);
  const rows = [];
  for (const message of written) rows.push(await settledOutbound(server(), message.id));

  expect(rows.map((row) => row.status)).toEqual(['SENT', 'FAILED', 'SENT', 'SENT']);
  expect(rows[1]).toMatchObject({ attempts: 1, lastError: '131026: Message undeliverable' });
  expect(sentTexts(conversation)).toEqual(contents);
  expect(
    await server().app.db.prisma.messageUserStatus.findUnique({
      where: { messageId_userId: { messageId: written[1]!.id, userId: conversation.client.id } },
    }),
  ).toMatchObject({ status: 'FAILED', errorCode: '131026' });
}, 30_000);

it("other recipients are not held back by one recipient's waiting reply, on the same phone number", async () => {
  const integration = await createIntegration(server(), org, 'WHATSAPP', { platformAccountId: `${Date.now()}` });
  const waiting = await open(integration);
  const others = [await open(integration), await open(integration)];
  slowMeta(waiting, (text, nth) => (text === 'wait 1' && nth === 0 ? PAIR_LIMITED : null));
  for (const other of others) slowMeta(other);

  const held = await staffWrites(waiting, ['wait 1', 'wait 2']);
  await waitFor(async () => world.requestsTo(waiting.platformUserId!).length > 0, 5_000, 'the first try');
  // Written after the waiting recipient's replies: yet all sent while its first waits for the pair limit.
  const otherReplies = (
    await Promise.all(others.map((other) => staffWrites(other, ['other 1', 'other 2', 'other 3'])))
  ).flat();
  for (const message of otherReplies)
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT' });
  expect(sentTexts(waiting)).toEqual(['wait 1']);
  for (const other of others) expect(sentTexts(other)).toEqual(['other 1', 'other 2', 'other 3']);

  for (const message of held) expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT' });
  expect(sentTexts(waiting)).toEqual(['wait 1', 'wait 1', 'wait 2']);
}, 30_000);
