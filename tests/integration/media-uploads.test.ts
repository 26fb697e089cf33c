import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { useFixture } from '../support/fixture.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import {
  createUpload,
  MessageAttachment,
  pngBytes,
  putBytes,
  putChunked,
  SendAttachment,
  upload,
} from '../support/media.js';
import { createChannel } from '../support/messaging.js';
import { freePort } from '../support/process.js';
import type { TestUser } from '../support/seed.js';

const DeleteMessage = graphql(`
  mutation DeleteAttachmentMessage($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
      deleted
    }
  }
`);

const MAX_BYTES = 64 * 1024;
const storageDir = await mkdtemp(path.join(tmpdir(), 'media-uploads-'));
// Links are absolute (PUBLIC_URL), so the server listens where its links say.
const port = await freePort();
const fixture = useFixture({
  server: {
    env: {
      PORT: String(port),
      PUBLIC_URL: `http://127.0.0.1:${port}`,
      STORAGE_DIR: storageDir,
      MEDIA_MAX_BYTES: String(MAX_BYTES),
    },
  },
  organization: { users: ['Ana', 'Bo', 'Cy'] },
});

/** Every file under the storage directory (the bytes of this file's uploads). */
async function storedFiles(): Promise<string[]> {
  if (!existsSync(storageDir)) return [];
  return (await readdir(storageDir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

async function sendUpload(
  user = fixture.org().users.Ana!,
  channelId?: string,
  bytes = pngBytes(3, 2),
  info = { fileName: 'dot.png', mimeType: 'image/png' },
  messageType: 'IMAGE' | 'AUDIO' | 'FILE' = 'IMAGE',
) {
  const server = fixture.server();
  const channel = channelId ?? (await createChannel(server, user)).id;
  const { ticket } = await upload(server, user, bytes, info);
  const response = await gql(
    server.graphqlUrl,
    SendAttachment,
    { input: { channelId: channel, messageType, uploadId: ticket.id, content: 'a caption' } },
    { token: user.token },
  );
  return { channelId: channel, ticket, response };
}

describe('uploads', () => {
  it('createUpload, PUT, sendMessage: the attachment is stored, sniffed and measured, the content is its caption', async () => {
    const bytes = pngBytes(3, 2);
    const { ticket, response } = await sendUpload(undefined, undefined, bytes);
    expect(ticket.uploadUrl).toMatch(/\/uploads\/[0-9a-f-]{36}\?expires=\d+&signature=/);
    expect(ticket.uploadHeaders).toEqual({ 'content-type': 'image/png' });
    const message = dataOf(response).sendMessage;
    expect(message.content).toBe('a caption');
    expect(message.messageType).toBe('IMAGE');
    expect(message.attachment).toMatchObject({
      id: ticket.id,
      status: 'READY',
      mimeType: 'image/png',
      size: bytes.length,
      fileName: 'dot.png',
      width: 3,
      height: 2,
    });
    const download = await fetch(message.attachment!.url!);
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(bytes);
  });

  it('stores what the bytes are, not what the client declared: text sent as image/png is no image', async () => {
    const ana = fixture.org().users.Ana!;
    const text = Buffer.from('just some text, not a picture\n');
    const { response } = await sendUpload(ana, undefined, text, { fileName: 'fake.png', mimeType: 'image/png' });
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0]?.extensions?.field).toBe('input.uploadId');
    expect(response.errors?.[0]?.message).toMatch(/application\/octet-stream, not an image/);

    const asFile = await sendUpload(ana, undefined, text, { fileName: 'fake.png', mimeType: 'image/png' }, 'FILE');
    expect(dataOf(asFile.response).sendMessage.attachment).toMatchObject({
      mimeType: 'application/octet-stream',
      width: null,
    });
  });

  it('an upload is used once, by its uploader, before it expires; any other is BAD_USER_INPUT naming it', async () => {
    const server = fixture.server();
    const ana = fixture.org().users.Ana!;
    const bo = fixture.org().users.Bo!;
    const channel = await createChannel(server, ana, { members: [bo] });
    const { ticket, response } = await sendUpload(ana, channel.id);
    dataOf(response);
    const sendWith = (user: typeof ana, uploadId: string) =>
      gql(
        server.graphqlUrl,
        SendAttachment,
        { input: { channelId: channel.id, messageType: 'IMAGE', uploadId } },
        { token: user.token },
      );
    const refusal = async (user: typeof ana, uploadId: string) => {
      const answer = await sendWith(user, uploadId);
      expect(errorCodes(answer)).toEqual(['BAD_USER_INPUT']);
      expect(answer.errors?.[0]?.extensions?.field).toBe('input.uploadId');
      return answer.errors?.[0]?.message;
    };
    expect(await refusal(ana, ticket.id)).toMatch(/already used/);
    expect(await refusal(ana, '00000000-0000-4000-8000-000000000000')).toMatch(/no such upload/);

    const { ticket: anasOther } = await upload(server, ana, pngBytes(1, 1), {
      fileName: 'a.png',
      mimeType: 'image/png',
    });
    expect(await refusal(bo, anasOther.id)).toMatch(/no such upload/);

    const notYet = await createUpload(server, ana, { fileName: 'b.png', mimeType: 'image/png', size: 10 });
    expect(await refusal(ana, notYet.id)).toMatch(/not been received/);

    const { ticket: expiring } = await upload(server, ana, pngBytes(1, 1), {
      fileName: 'c.png',
      mimeType: 'image/png',
    });
    await server.app.db.prisma.upload.update({
      where: { id: expiring.id },
      data: { expiresAt: new Date(Date.now() - 1) },
    });
    expect(await refusal(ana, expiring.id)).toMatch(/expired/);

    // Concurrent sends of one upload: exactly one message gets it.
    const { ticket: contested } = await upload(server, ana, pngBytes(1, 1), {
      fileName: 'd.png',
      mimeType: 'image/png',
    });
    const answers = await Promise.all([sendWith(ana, contested.id), sendWith(ana, contested.id)]);
    expect(answers.filter((answer) => !answer.errors).length).toBe(1);
  });

  it('the metadata.url form still works, and an upload cannot be combined with it or sent as TEXT', async () => {
    const server = fixture.server();
    const ana = fixture.org().users.Ana!;
    const channel = await createChannel(server, ana);
    const hosted = await gql(
      server.graphqlUrl,
      SendAttachment,
      {
        input: {
          channelId: channel.id,
          messageType: 'IMAGE',
          metadata: { url: 'https://cdn.example.com/a.png', mimeType: 'image/png', size: 10 },
        },
      },
      { token: ana.token },
    );
    expect(dataOf(hosted).sendMessage.attachment).toMatchObject({
      status: 'READY',
      url: 'https://cdn.example.com/a.png',
      mimeType: 'image/png',
    });
    const { ticket } = await upload(server, ana, pngBytes(1, 1), { fileName: 'e.png', mimeType: 'image/png' });
    const asText = await gql(
      server.graphqlUrl,
      SendAttachment,
      { input: { channelId: channel.id, content: 'hi', uploadId: ticket.id } },
      { token: ana.token },
    );
    expect(errorCodes(asText)).toEqual(['BAD_USER_INPUT']);
    const both = await gql(
      server.graphqlUrl,
      SendAttachment,
      {
        input: {
          channelId: channel.id,
          messageType: 'IMAGE',
          uploadId: ticket.id,
          metadata: { url: 'https://cdn.example.com/a.png', mimeType: 'image/png', size: 10 },
        },
      },
      { token: ana.token },
    );
    expect(errorCodes(both)).toEqual(['BAD_USER_INPUT']);
  });
});

describe('limits while streaming', () => {
  it('refuses an upload declared over MEDIA_MAX_BYTES', async () => {
    const response = await gql(
      fixture.server().graphqlUrl,
      graphql(`
        mutation CreateTooLargeUpload($input: CreateUploadInput!) {
          createUpload(input: $input) {
            id
          }
        }
      `),
      { input: { fileName: 'big.bin', mimeType: 'application/octet-stream', size: MAX_BYTES + 1 } },
      { token: fixture.org().users.Ana!.token },
    );
    expect(errorCodes(response)).toEqual(['BAD_USER_INPUT']);
    expect(response.errors?.[0]?.extensions?.field).toBe('input.size');
  });

  it('413 for a body larger than declared, announced or streamed, and nothing is stored', async () => {
    const server = fixture.server();
    const ana = fixture.org().users.Ana!;
    const before = await storedFiles();

    const announced = await createUpload(server, ana, { fileName: 'a.bin', mimeType: 'application/pdf', size: 100 });
    expect((await putBytes(announced.uploadUrl, Buffer.alloc(200, 1))).status).toBe(413);

    const streamed = await createUpload(server, ana, { fileName: 'b.bin', mimeType: 'application/pdf', size: 1000 });
    const chunks = Array.from({ length: 8 }, () => Buffer.alloc(16 * 1024, 2));
    expect((await putChunked(streamed.uploadUrl, chunks)).status).toBe(413);

    const short = await createUpload(server, ana, { fileName: 'c.bin', mimeType: 'application/pdf', size: 1000 });
    expect((await putChunked(short.uploadUrl, [Buffer.alloc(10, 3)])).status).toBe(400);

    expect(await storedFiles()).toEqual(before);
    const rows = await server.app.db.prisma.upload.findMany({
      where: { id: { in: [announced.id, streamed.id, short.id] } },
    });
    expect(rows.map((row) => row.status)).toEqual(['PENDING', 'PENDING', 'PENDING']);
    // A refused upload can still be completed with the right bytes.
    expect((await putBytes(short.uploadUrl, Buffer.alloc(1000, 4))).status).toBe(200);
    expect((await putBytes(short.uploadUrl, Buffer.alloc(1000, 4))).status).toBe(409);
  });

  it('a tampered or expired upload link is refused before anything is read', async () => {
    const server = fixture.server();
    const ticket = await createUpload(server, fixture.org().users.Ana!, {
      fileName: 'a.txt',
      mimeType: 'text/plain',
      size: 5,
    });
    const tampered = ticket.uploadUrl.replace(/signature=./, (found) => `signature=${found.endsWith('A') ? 'B' : 'A'}`);
    expect((await putBytes(tampered, Buffer.from('hello'))).status).toBe(403);
    const later = ticket.uploadUrl.replace(/expires=(\d+)/, (_found, value) => `expires=${Number(value) + 60}`);
    expect((await putBytes(later, Buffer.from('hello'))).status).toBe(403);
    const otherUpload = ticket.uploadUrl.replace(/uploads\/[0-9a-f-]+/, 'uploads/00000000-0000-4000-8000-000000000000');
    expect((await putBytes(otherUpload, Buffer.from('hello'))).status).toBe(403);
  });
});

describe('downloads', () => {
  it('serve the bytes with their type, a safe disposition, no sniffing and ranges, without Authorization', async () => {
    const bytes = pngBytes(40, 30);
    const { response } = await sendUpload(undefined, undefined, bytes);
    const url = dataOf(response).sendMessage.attachment!.url!;
    const whole = await fetch(url);
    expect(whole.headers.get('content-type')).toBe('image/png');
    expect(whole.headers.get('content-disposition')).toBe(`inline; filename="dot.png"; filename*=UTF-8''dot.png`);
    expect(whole.headers.get('x-content-type-options')).toBe('nosniff');
    expect(whole.headers.get('content-security-policy')).toContain('sandbox');
    expect(whole.headers.get('accept-ranges')).toBe('bytes');
    expect(Number(whole.headers.get('content-length'))).toBe(bytes.length);
    await whole.arrayBuffer();

    const part = await fetch(url, { headers: { range: 'bytes=8-23' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 8-23/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(8, 24));

    const tail = await fetch(url, { headers: { range: 'bytes=-5' } });
    expect(Buffer.from(await tail.arrayBuffer())).toEqual(bytes.subarray(bytes.length - 5));
    const beyond = await fetch(url, { headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
  });

  it('never lets uploaded HTML or SVG run in the server origin: a download, sandboxed', async () => {
    const html = Buffer.from('<html><script>alert(document.cookie)</script></html>');
    const { response } = await sendUpload(
      undefined,
      undefined,
      html,
      { fileName: 'x.html', mimeType: 'text/html' },
      'FILE',
    );
    const attachment = dataOf(response).sendMessage.attachment!;
    expect(attachment.mimeType).toBe('text/html');
    const served = await fetch(attachment.url!);
    expect(served.headers.get('content-disposition')).toMatch(/^attachment; filename="x.html"/);
    expect(served.headers.get('content-security-policy')).toMatch(/default-src 'none'.*sandbox/);

    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>');
    const asSvg = await sendUpload(undefined, undefined, svg, { fileName: 'x.svg', mimeType: 'image/svg+xml' }, 'FILE');
    const svgAttachment = dataOf(asSvg.response).sendMessage.attachment!;
    const servedSvg = await fetch(svgAttachment.url!);
    expect(servedSvg.headers.get('content-disposition')).toMatch(/^attachment;/);
    expect(servedSvg.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('a tampered or expired link is refused', async () => {
    const server = fixture.server();
    const { response } = await sendUpload();
    const attachment = dataOf(response).sendMessage.attachment!;
    const tampered = attachment.url!.replace(/expires=(\d+)/, (_found, value) => `expires=${Number(value) + 1}`);
    expect((await fetch(tampered)).status).toBe(403);
    const ttlMs = server.config.media.urlTtlSeconds * 1000;
    const expired = server.app.services.mediaLinks.downloadUrl(attachment.id, Date.now() - 2 * ttlMs);
    const answer = await fetch(expired);
    expect(answer.status).toBe(403);
    expect(await answer.json()).toEqual({ error: 'The link expired' });
  });

  it('links are issued only to people who may read the message', async () => {
    const server = fixture.server();
    const [ana, bo, cy] = ['Ana', 'Bo', 'Cy'].map((name) => fixture.org().users[name]!) as [
      TestUser,
      TestUser,
      TestUser,
    ];
    const channel = await createChannel(server, ana, { channelType: 'PRIVATE', members: [bo] });
    const { response } = await sendUpload(ana, channel.id);
    const id = dataOf(response).sendMessage.id;
    const asMember = dataOf(await gql(server.graphqlUrl, MessageAttachment, { id }, { token: bo!.token }));
    expect(asMember.message?.attachment?.url).toMatch(/\/media\//);
    const asOutsider = await gql(server.graphqlUrl, MessageAttachment, { id }, { token: cy!.token });
    expect(asOutsider.data?.message?.attachment?.url ?? null).toBeNull();
  });

  it('deleting the message removes its stored bytes', async () => {
    const server = fixture.server();
    const ana = fixture.org().users.Ana!;
    const before = await storedFiles();
    const { response, ticket } = await sendUpload(ana);
    const message = dataOf(response).sendMessage;
    const added = (await storedFiles()).filter((file) => !before.includes(file));
    expect(added).toHaveLength(1);
    expect(added[0]).toContain(ticket.id);

    dataOf(await gql(server.graphqlUrl, DeleteMessage, { messageId: message.id }, { token: ana.token }));
    expect((await storedFiles()).filter((file) => !before.includes(file))).toEqual([]);
    expect((await fetch(message.attachment!.url!)).status).toBe(404);
    expect(await server.app.db.prisma.upload.findUnique({ where: { id: ticket.id } })).toBeNull();
  });

  it('the sweep removes uploads nobody used once they expired, bytes included', async () => {
    const server = fixture.server();
    const ana = fixture.org().users.Ana!;
    const { ticket } = await upload(server, ana, pngBytes(2, 2), { fileName: 'unused.png', mimeType: 'image/png' });
    const file = (await storedFiles()).find((name) => name.includes(ticket.id));
    expect(file).toBeDefined();
    await server.app.db.prisma.upload.update({
      where: { id: ticket.id },
      data: { expiresAt: new Date(Date.now() - 1) },
    });
    await server.app.services.uploads.sweep();
    expect(existsSync(file!)).toBe(false);
    expect(await server.app.db.prisma.upload.findUnique({ where: { id: ticket.id } })).toBeNull();
  });
});
