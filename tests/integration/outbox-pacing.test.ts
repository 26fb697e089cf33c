import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { customerWrites, openConversation } from '../support/conversations.js';
import { createIntegration } from '../support/platform.js';
import { dataOf } from '../support/graphql.js';
import { mostWithin, type PacedSenders, sendMessage, settledOutbound, startPacedSenders } from '../support/outbound.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';

// Meta's throughput per WhatsApp phone number (WHATSAPP_SENDS_PER_SECOND), here 2 per second, held by two
// sending instances together (through Redis): a send waits for its turn, or, when that is further than a
// second away, goes back to pending until then, uncounted and not failed; a second phone number is paced on
// its own. Meta is the fake Graph API, which notes when each send arrived. The busy number's sends go to three
// customers: one customer's replies go one at a time, in order, and never queue for turns among themselves.
// Instagram's audio (INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND), here 2 per second too, is paced per account apart
// from its text.

const SENDS_PER_SECOND = 2;

let senders: PacedSenders;
beforeAll(
  async () =>
    (senders = await startPacedSenders({
      WHATSAPP_SENDS_PER_SECOND: String(SENDS_PER_SECOND),
      INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND: String(SENDS_PER_SECOND),
    })),
  SENDER_LOCK_WAIT_MS,
);
afterAll(() => senders?.stop());

it('sends no faster than WHATSAPP_SENDS_PER_SECOND to one phone number, without counting or failing the waits, and paces each number on its own', async () => {
  const busyNumber = await createIntegration(senders.world.server, senders.org, 'WHATSAPP', {
    platformAccountId: `${Date.now()}`,
  });
  const busyCustomers = [];
  for (let index = 0; index < 3; index++)
    busyCustomers.push(
      await openConversation(senders.world.server, senders.org, 'WHATSAPP', { integration: busyNumber }),
    );
  const other = await openConversation(senders.world.server, senders.org, 'WHATSAPP');
  const warmUp = await openConversation(senders.world.server, senders.org, 'WHATSAPP');
  for (const busy of busyCustomers) await customerWrites(senders.world.server, busy);
  await customerWrites(senders.world.server, other);
  await customerWrites(senders.world.server, warmUp);

  // Written to both instances in turn: each wakes its own sender, and both claim from the same due rows.
  let written = 0;
  const staffSends = async (channelId: string, content: string) =>
    dataOf(
      await sendMessage(written++ % 2 === 0 ? senders.world.server : senders.secondSender, senders.org.admin, {
        channelId,
        content,
      }),
    ).sendMessage;
  // Each sender's first send opens its connection to Meta, which takes longer than the sends after it: not here.
  for (const content of ['warm 1', 'warm 2', 'warm 3', 'warm 4'])
    await settledOutbound(senders.world.server, (await staffSends(warmUp.channelId, content)).id);
  const busyContents = Array.from({ length: 6 }, (_, index) => `paced ${index + 1}`);
  const busyMessages: { id: string }[] = [];
  for (const [index, content] of busyContents.entries())
    busyMessages.push(await staffSends(busyCustomers[index % busyCustomers.length]!.channelId, content));
  const otherMessages = [await staffSends(other.channelId, 'other 1'), await staffSends(other.channelId, 'other 2')];

  // Some sends had to go back to pending for a while (their turn was more than a second away): seen meanwhile.
  const pacedSeen = new Set<string>();
  const watching = setInterval(
    () =>
      void senders.world.server.app.db.prisma.outboundMessage
        .findMany({ where: { messageId: { in: busyMessages.map((message) => message.id) }, status: 'PENDING' } })
        .then((pending) => {
          for (const row of pending) if (row.lastError?.startsWith('paced:')) pacedSeen.add(row.id);
        }),
    20,
  );
  const rows = await Promise.all(
    [...busyMessages, ...otherMessages].map((message) => settledOutbound(senders.world.server, message.id)),
  ).finally(() => clearInterval(watching));
  expect(pacedSeen.size).toBeGreaterThan(0);
  // Every wait went back to pending uncounted: one attempt each, and nothing FAILED.
  expect(rows.map((row) => [row.status, row.attempts])).toEqual(rows.map(() => ['SENT', 1]));

  const busySends = busyCustomers.flatMap((busy) => senders.world.requestsTo(busy.platformUserId!));
  const otherSends = senders.world.requestsTo(other.platformUserId!);
  // Each message went to Meta exactly once.
  expect(busySends.map((request) => (request.body.text as { body: string }).body).sort()).toEqual(busyContents);
  expect(otherSends).toHaveLength(2);
  expect(busySends.every((request) => request.path === `/v22.0/${busyNumber.platformAccountId}/messages`)).toBe(true);

  const busyTimes = busySends.map((request) => senders.world.fake.arrivalOf(request)).sort((a, b) => a - b);
  expect(mostWithin(busyTimes, 1_000)).toBe(SENDS_PER_SECOND);
  // Six sends at two per second take more than two seconds: the limit was reached, not merely not exceeded.
  expect(busyTimes.at(-1)! - busyTimes[0]!).toBeGreaterThanOrEqual(2_000);
  // The other number's two sends were queued after all six, yet went before the fourth of them could: its
  // throughput is its own (one shared budget would have put them after the six).
  expect(Math.max(...otherSends.map((request) => senders.world.fake.arrivalOf(request)))).toBeLessThan(busyTimes[3]!);
}, 30_000);

it("sends an Instagram account's audio no faster than INSTAGRAM_AUDIO_VIDEO_SENDS_PER_SECOND, and its text beside it", async () => {
  const account = await createIntegration(senders.world.server, senders.org, 'INSTAGRAM');
  const listeners = [];
  for (let index = 0; index < 3; index++)
    listeners.push(await openConversation(senders.world.server, senders.org, 'INSTAGRAM', { integration: account }));
  const reader = await openConversation(senders.world.server, senders.org, 'INSTAGRAM', { integration: account });
  for (const conversation of [...listeners, reader]) await customerWrites(senders.world.server, conversation);

  let written = 0;
  const staffSends = async (
    channelId: string,
    input: { content?: string; messageType?: 'AUDIO'; metadata?: unknown },
  ) =>
    dataOf(
      await sendMessage(written++ % 2 === 0 ? senders.world.server : senders.secondSender, senders.org.admin, {
        channelId,
        ...input,
      }),
    ).sendMessage;
  const voiceNotes = [];
  for (let index = 0; index < 5; index++)
    voiceNotes.push(
      await staffSends(listeners[index % listeners.length]!.channelId, {
        messageType: 'AUDIO',
        metadata: { url: `https://cdn.example.com/note-${index}.m4a`, mimeType: 'audio/mp4', size: 1_000 },
      }),
    );
  const texts = [
    await staffSends(reader.channelId, { content: 'text 1' }),
    await staffSends(reader.channelId, { content: 'text 2' }),
  ];

  const rows = await Promise.all(
    [...voiceNotes, ...texts].map((message) => settledOutbound(senders.world.server, message.id)),
  );
  // Waits are neither attempts nor failures.
  expect(rows.map((row) => [row.status, row.attempts])).toEqual(rows.map(() => ['SENT', 1]));
  const audioSends = listeners.flatMap((listener) => senders.world.requestsTo(listener.platformUserId!));
  expect(audioSends.map((request) => request.body.message)).toHaveLength(voiceNotes.length);
  const audioTimes = audioSends.map((request) => senders.world.fake.arrivalOf(request)).sort((a, b) => a - b);
  expect(mostWithin(audioTimes, 1_000)).toBe(SENDS_PER_SECOND);
  expect(audioTimes.at(-1)! - audioTimes[0]!).toBeGreaterThanOrEqual(2_000);
  // The account's text has a budget of its own (300 per second): queued after the audio, it went before most of it.
  const textTimes = senders.world
    .requestsTo(reader.platformUserId!)
    .map((request) => senders.world.fake.arrivalOf(request));
  expect(textTimes).toHaveLength(2);
  expect(Math.max(...textTimes)).toBeLessThan(audioTimes[3]!);
}, 30_000);
