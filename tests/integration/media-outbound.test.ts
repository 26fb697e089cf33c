import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { customerWrites, openConversation } from '../support/conversations.js';
import { dataOf, errorCodes } from '../support/graphql.js';
import { pngBytes, upload } from '../support/media.js';
import { graphError } from '../support/fake-graph.js';
import { sendMessage, settledOutbound, startSendingWorld, type SendingWorld } from '../support/outbound.js';
import { freePort } from '../support/process.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { SENDER_LOCK_WAIT_MS } from '../support/sender-lock.js';

// Staff attachments in a client's channel go out through the outbox: to WhatsApp and Instagram by a signed link
// to the server's own copy, which Meta fetches; Meta's type and size rules are checked before anything is queued.

let world: SendingWorld;
let org: TestOrganization;

beforeAll(async () => {
  const port = await freePort();
  world = await startSendingWorld({ PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` });
  org = await seedOrganization(world.server);
}, SENDER_LOCK_WAIT_MS);
afterAll(async () => {
  await world?.stop();
});

const server = () => world.server;

async function conversationWithUpload(platform: 'WHATSAPP' | 'INSTAGRAM', bytes: Buffer, mimeType: string) {
  const conversation = await openConversation(server(), org, platform);
  await customerWrites(server(), conversation);
  const { ticket } = await upload(server(), org.admin, bytes, {
    fileName: `file-${randomBytes(2).toString('hex')}`,
    mimeType,
  });
  return { conversation, uploadId: ticket.id };
}

describe('outbound media', () => {
  it('goes to WhatsApp as a link Meta can fetch: the bytes, without a token', async () => {
    const bytes = pngBytes(8, 8);
    const { conversation, uploadId } = await conversationWithUpload('WHATSAPP', bytes, 'image/png');
    const message = dataOf(
      await sendMessage(server(), org.admin, {
        channelId: conversation.channelId,
        messageType: 'IMAGE',
        uploadId,
        content: 'your receipt',
      }),
    ).sendMessage;
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT' });
    const [request] = world.requestsTo(conversation.platformUserId!);
    const image = request!.body.image as { link: string; caption: string };
    expect(request!.body.type).toBe('image');
    expect(image.caption).toBe('your receipt');
    expect(image.link).toMatch(new RegExp(`^${server().config.publicUrl}/media/${uploadId}\\?`));
    const fetched = await fetch(image.link);
    expect(Buffer.from(await fetched.arrayBuffer())).toEqual(bytes);
  });

  it('goes to Instagram as an attachment by link, documents as PDF only', async () => {
    const pdf = Buffer.concat([Buffer.from('%PDF-1.4\n'), randomBytes(100)]);
    const { conversation, uploadId } = await conversationWithUpload('INSTAGRAM', pdf, 'application/pdf');
    const message = dataOf(
      await sendMessage(server(), org.admin, { channelId: conversation.channelId, messageType: 'FILE', uploadId }),
    ).sendMessage;
    expect(await settledOutbound(server(), message.id)).toMatchObject({ status: 'SENT' });
    const [request] = world.requestsTo(conversation.platformUserId!);
    expect(request!.body.message).toEqual({
      attachment: { type: 'file', payload: { url: expect.stringContaining(`/media/${uploadId}?`) } },
    });
  });

  it("refuses what Meta would refuse (type, size) with BAD_USER_INPUT before queueing, saying Meta's rule", async () => {
    const text = Buffer.from('plain text, not a PDF');
    const { conversation, uploadId } = await conversationWithUpload('INSTAGRAM', text, 'text/plain');
    const refused = await sendMessage(server(), org.admin, {
      channelId: conversation.channelId,
      messageType: 'FILE',
      uploadId,
    });
    expect(errorCodes(refused)).toEqual(['BAD_USER_INPUT']);
    expect(refused.errors?.[0]?.message).toBe('input.uploadId: Instagram takes a file only as PDF, not text/plain');

    // A PNG over WhatsApp's 5 MB for images.
    const large = Buffer.concat([pngBytes(4, 4), Buffer.alloc(5 * 1024 * 1024 + 1)]);
    const big = await conversationWithUpload('WHATSAPP', large, 'image/png');
    const tooLarge = await sendMessage(server(), org.admin, {
      channelId: big.conversation.channelId,
      messageType: 'IMAGE',
      uploadId: big.uploadId,
    });
    expect(errorCodes(tooLarge)).toEqual(['BAD_USER_INPUT']);
    expect(tooLarge.errors?.[0]?.message).toMatch(/WhatsApp takes an image of at most 5 MB; this one is 5\.0 MB/);
    // Refused, the upload is still the sender's to use, as a document.
    const asDocument = await sendMessage(server(), org.admin, {
      channelId: big.conversation.channelId,
      messageType: 'FILE',
      uploadId: big.uploadId,
    });
    expect(errorCodes(asDocument)).toEqual([]);

    // The older form, described in metadata, is held to the same rules.
    const gif = await sendMessage(server(), org.admin, {
      channelId: big.conversation.channelId,
      messageType: 'IMAGE',
      metadata: { url: 'https://cdn.example.com/a.gif', mimeType: 'image/gif', size: 100 },
    });
    expect(errorCodes(gif)).toEqual(['BAD_USER_INPUT']);
    expect(gif.errors?.[0]?.extensions?.field).toBe('input.metadata');
  });

  it("Meta's own refusal of the media ends FAILED with Meta's reason", async () => {
    const { conversation, uploadId } = await conversationWithUpload('WHATSAPP', pngBytes(3, 3), 'image/png');
    world.respondTo(conversation.platformUserId!, () => graphError(400, 131053, 'Media upload error'));
    const message = dataOf(
      await sendMessage(server(), org.admin, { channelId: conversation.channelId, messageType: 'IMAGE', uploadId }),
    ).sendMessage;
    expect(await settledOutbound(server(), message.id)).toMatchObject({
      status: 'FAILED',
      lastError: '131053: Media upload error',
    });
  });
});
