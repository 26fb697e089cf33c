import { createHash, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import S3rver from 's3rver';
import {
  channelMessages,
  deliver,
  instagramDelivery,
  openConversation,
  whatsAppDelivery,
  type Conversation,
} from '../support/conversations.js';
import { type FakeGraph, startFakeGraph } from '../support/fake-graph.js';
import { dataOf, gql } from '../support/graphql.js';
import { liveEvents, type LiveEvents } from '../support/live-events.js';
import { MessageAttachment, ownDatabase, pngBytes } from '../support/media.js';
import { freePort } from '../support/process.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';
import { waitFor } from '../support/webhooks.js';

// Media customers send from WhatsApp (a media id) and Instagram (a CDN URL), downloaded by the job into storage,
// from Meta's Graph API faked as a local HTTP server that serves media and enforces the Bearer token. The job
// takes the due downloads of its whole database, so this file has a database of its own.

let database: Awaited<ReturnType<typeof ownDatabase>>;
let fake: FakeGraph;
let server: TestServer;
/** A second instance on the same database and Redis, without a downloader: subscribers there see the job's work. */
let watcher: TestServer;
let org: TestOrganization;
let events: LiveEvents;
let env: Record<string, string>;

beforeAll(async () => {
  database = await ownDatabase();
  fake = await startFakeGraph();
  const port = await freePort();
  env = {
    DATABASE_URL: database.url,
    PORT: String(port),
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    STORAGE_DIR: await mkdtemp(path.join(tmpdir(), 'media-inbound-')),
    META_GRAPH_API_URL: `${fake.url}/v22.0`,
    META_INSTAGRAM_API_URL: `${fake.url}/ig/v22.0`,
    // The fake's media URLs are on 127.0.0.1; nothing else may be fetched.
    MEDIA_DOWNLOAD_HOSTS: '127.0.0.1',
    MEDIA_DOWNLOAD_WORKER_ENABLED: 'true',
    MEDIA_DOWNLOAD_MAX_ATTEMPTS: '3',
    MEDIA_DOWNLOAD_RETRY_BASE_MS: '30',
    MEDIA_DOWNLOAD_POLL_INTERVAL_MS: '100',
  };
  server = await startServer({ env });
  watcher = await startServer({ env: { ...env, PORT: '0', MEDIA_DOWNLOAD_WORKER_ENABLED: 'false' } });
  org = await seedOrganization(server);
  events = await liveEvents(watcher, org);
}, 60_000);

afterAll(async () => {
  await events?.close();
  await watcher?.stop();
  await server?.stop();
  await fake?.stop();
  await database?.drop();
});

const attachmentOf = async (messageId: string) =>
  dataOf(await gql(server.graphqlUrl, MessageAttachment, { id: messageId }, { token: org.admin.token })).message!
    .attachment;

/** The attachment once the job is done with it (READY or FAILED). */
const settledAttachment = (messageId: string) =>
  waitFor(
    async () => {
      const attachment = await attachmentOf(messageId);
      return attachment && attachment.status !== 'PENDING' ? attachment : null;
    },
    15_000,
    'the download to settle',
  );

/** A WhatsApp image from the conversation's customer, with a media id of its own; the stored message. */
async function whatsAppImage(conversation: Conversation, mediaId: string) {
  const body = whatsAppDelivery('wa_inbound_image.json', conversation, {
    replace: { '65463453': mediaId, 'wamid.xyzxyz': `wamid.${randomBytes(6).toString('hex')}` },
  });
  expect((await deliver(server, conversation.integration, body)).status).toBe('PROCESSED');
  const [message] = await channelMessages(server, conversation.channelId);
  return message!;
}

describe('WhatsApp media', () => {
  it('is stored at once with its download queued, then fetched with the Bearer token, checked, READY and announced on every instance', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const bytes = pngBytes(64, 48);
    const mediaId = `media-${randomBytes(4).toString('hex')}`;
    const token = conversation.integration.accessToken;
    // Meta says image/jpeg in the webhook; the bytes are a PNG.
    fake.serveMedia(mediaId, { bytes, mimeType: 'image/jpeg', token });
    const message = await whatsAppImage(conversation, mediaId);
    const row = await server.app.db.prisma.upload.findUniqueOrThrow({ where: { messageId: message.id } });
    expect(row).toMatchObject({ sourceMediaId: mediaId, platformIntegrationId: conversation.integration.id });

    const attachment = await settledAttachment(message.id);
    expect(attachment).toMatchObject({
      status: 'READY',
      fileName: 'image.png',
      mimeType: 'image/png',
      size: bytes.length,
      width: 64,
      height: 48,
    });
    const served = await fetch(attachment.url!);
    expect(Buffer.from(await served.arrayBuffer())).toEqual(bytes);

    const mediaRequests = fake.requests.filter((request) => request.path.includes(mediaId));
    expect(mediaRequests.map((request) => [request.path.split('?')[0], request.authorization])).toEqual([
      [`/v22.0/${mediaId}`, `Bearer ${token}`],
      [`/media-bytes/${mediaId}`, `Bearer ${token}`],
    ]);
    const seen = await events.settled(conversation.channelId, 2);
    expect(seen.map((event) => event.type === 'message' && event.kind)).toEqual(['CREATED', 'UPDATED']);
  });

  // Voice notes, audio files and documents: each fixture's media id, served as the bytes of its kind.
  const kinds: [string, string, Buffer, string][] = [
    [
      'wa_inbound_audio_voice.json',
      'AUDIO',
      Buffer.concat([Buffer.from('OggS'), Buffer.alloc(24), Buffer.from('OpusHead'), Buffer.alloc(200)]),
      'audio/ogg; codecs=opus',
    ],
    [
      'wa_inbound_audio_file.json',
      'AUDIO',
      Buffer.concat([Buffer.from('OggS'), Buffer.alloc(24), Buffer.from('OpusHead'), Buffer.alloc(500)]),
      'audio/ogg; codecs=opus',
    ],
    [
      'wa_inbound_document.json',
      'FILE',
      Buffer.concat([Buffer.from('%PDF-1.4\n'), Buffer.alloc(300)]),
      'application/pdf',
    ],
    ['wa_inbound_image_with_url.json', 'IMAGE', pngBytes(7, 3), 'image/png'],
  ];
  it.each(kinds)('%s: %s media is downloaded the same way', async (fixture, messageType, bytes, mimeType) => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const mediaId = `media-${randomBytes(4).toString('hex')}`;
    fake.serveMedia(mediaId, { bytes, mimeType, token: conversation.integration.accessToken });
    const body = whatsAppDelivery(fixture, conversation, {
      replace: { '1234567890987654321': mediaId, '65463453': mediaId },
    });
    expect((await deliver(server, conversation.integration, body)).status).toBe('PROCESSED');
    const [message] = await channelMessages(server, conversation.channelId);
    expect(message!.messageType).toBe(messageType);
    const attachment = await settledAttachment(message!.id);
    expect(attachment).toMatchObject({ status: 'READY', mimeType, size: bytes.length });
    expect(Buffer.from(await (await fetch(attachment.url!)).arrayBuffer())).toEqual(bytes);
  });

  it('a failure is retried with backoff; a download that keeps failing ends FAILED with the reason, the message kept', async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const token = conversation.integration.accessToken;
    const flaky = `media-${randomBytes(4).toString('hex')}`;
    fake.serveMedia(flaky, { bytes: pngBytes(2, 2), mimeType: 'image/png', token, failFirst: 2 });
    const recovered = await whatsAppImage(conversation, flaky);
    expect((await settledAttachment(recovered.id)).status).toBe('READY');

    const other = await openConversation(server, org, 'WHATSAPP');
    const broken = `media-${randomBytes(4).toString('hex')}`;
    fake.serveMedia(broken, {
      bytes: pngBytes(2, 2),
      mimeType: 'image/png',
      token: other.integration.accessToken,
      failFirst: 100,
    });
    const lost = await whatsAppImage(other, broken);
    const attachment = await settledAttachment(lost.id);
    expect(attachment).toMatchObject({ status: 'FAILED', url: null, failureReason: 'HTTP 500: 1 Temporary failure' });
    const row = await server.app.db.prisma.upload.findUniqueOrThrow({ where: { messageId: lost.id } });
    expect(row.attempts).toBe(3);
    expect(await server.app.services.messages.byId(org.id, lost.id)).toMatchObject({ messageType: 'IMAGE' });
  });

  it("refuses bytes that do not match Meta's sha256, and a wrong token is Meta's refusal, not retried", async () => {
    const conversation = await openConversation(server, org, 'WHATSAPP');
    const mediaId = `media-${randomBytes(4).toString('hex')}`;
    fake.serveMedia(mediaId, {
      bytes: pngBytes(2, 2),
      mimeType: 'image/png',
      token: conversation.integration.accessToken,
      sha256: createHash('sha256').update('something else').digest('hex'),
    });
    const corrupted = await whatsAppImage(conversation, mediaId);
    expect(await settledAttachment(corrupted.id)).toMatchObject({
      status: 'FAILED',
      failureReason: "the bytes do not match Meta's sha256",
    });

    const other = await openConversation(server, org, 'WHATSAPP');
    const guarded = `media-${randomBytes(4).toString('hex')}`;
    fake.serveMedia(guarded, { bytes: pngBytes(2, 2), mimeType: 'image/png', token: 'another-token' });
    const refused = await whatsAppImage(other, guarded);
    expect(await settledAttachment(refused.id)).toMatchObject({
      status: 'FAILED',
      failureReason: 'HTTP 401: 190 Invalid OAuth access token',
    });
    expect((await server.app.db.prisma.upload.findUniqueOrThrow({ where: { messageId: refused.id } })).attempts).toBe(
      1,
    );
  });
});

describe('Instagram media', () => {
  it('is downloaded from its CDN URL (no token sent along)', async () => {
    const conversation = await openConversation(server, org, 'INSTAGRAM');
    const id = `ig-${randomBytes(4).toString('hex')}`;
    const bytes = pngBytes(10, 20);
    // Served only to a request without a token: the integration's token is for Meta's API, never for a CDN.
    fake.serveMedia(id, { bytes, mimeType: 'image/png', token: null });
    const body = instagramDelivery('ig_inbound_image_attachment.json', conversation, {
      url: `${fake.url}/media-bytes/${id}`,
    });
    expect((await deliver(server, conversation.integration, body)).status).toBe('PROCESSED');
    const [message] = await channelMessages(server, conversation.channelId);
    const attachment = await settledAttachment(message!.id);
    expect(attachment).toMatchObject({ status: 'READY', width: 10, height: 20 });
    expect(fake.requests.filter((request) => request.path.includes(id)).map((r) => r.authorization)).toEqual([
      undefined,
    ]);
  });

  it('a URL outside MEDIA_DOWNLOAD_HOSTS is never fetched, nor redirected to: FAILED, naming the host', async () => {
    let fetched = 0;
    const inside = createServer((_request, response) => {
      fetched += 1;
      response.end('secret');
    });
    await new Promise<void>((resolve) => inside.listen(0, '127.0.0.1', resolve));
    const insidePort = (inside.address() as AddressInfo).port;
    // An allowed host that sends the download on to the inside one.
    const redirector = createServer((_request, response) =>
      response.writeHead(302, { location: `http://localhost:${insidePort}/internal-admin` }).end(),
    );
    await new Promise<void>((resolve) => redirector.listen(0, '127.0.0.1', resolve));
    try {
      const urls = [
        `http://localhost:${insidePort}/internal-admin`,
        `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/media`,
      ];
      for (const url of urls) {
        const conversation = await openConversation(server, org, 'INSTAGRAM');
        const body = instagramDelivery('ig_inbound_image_attachment.json', conversation, { url });
        expect((await deliver(server, conversation.integration, body)).status).toBe('PROCESSED');
        const [message] = await channelMessages(server, conversation.channelId);
        expect(await settledAttachment(message!.id)).toMatchObject({
          status: 'FAILED',
          failureReason: 'localhost is not in MEDIA_DOWNLOAD_HOSTS',
        });
      }
      expect(fetched).toBe(0);
    } finally {
      await new Promise((resolve) => inside.close(resolve));
      await new Promise((resolve) => redirector.close(resolve));
    }
  });
});

describe('storage outage and restart', () => {
  it('media waits PENDING while storage is down (no attempt spent), and a restarted server finishes it', async () => {
    const s3Port = await freePort();
    const s3Env = {
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: `http://127.0.0.1:${s3Port}`,
      S3_BUCKET: 'media',
      S3_ACCESS_KEY_ID: 'S3RVER',
      S3_SECRET_ACCESS_KEY: 'S3RVER',
      S3_FORCE_PATH_STYLE: 'true',
    };
    // This file's server keeps downloading too: stopped for this test, so the instances here are the only ones.
    await server.stop();
    const first = await startServer({ env: { ...env, ...s3Env } });
    let second: TestServer | undefined;
    let s3: S3rver | undefined;
    try {
      const conversation = await openConversation(first, org, 'WHATSAPP');
      const mediaId = `media-${randomBytes(4).toString('hex')}`;
      const bytes = pngBytes(5, 5);
      fake.serveMedia(mediaId, { bytes, mimeType: 'image/png', token: conversation.integration.accessToken });
      const body = whatsAppDelivery('wa_inbound_image.json', conversation, {
        replace: { '65463453': mediaId, 'wamid.xyzxyz': `wamid.${randomBytes(6).toString('hex')}` },
      });
      expect((await deliver(first, conversation.integration, body)).status).toBe('PROCESSED');
      const [message] = await channelMessages(first, conversation.channelId);
      const waiting = await waitFor(
        async () => {
          const row = await first.app.db.prisma.upload.findUnique({ where: { messageId: message!.id } });
          return row?.failureReason?.startsWith('storage unavailable') ? row : null;
        },
        15_000,
        'the download to wait for storage',
      );
      expect(waiting).toMatchObject({ status: 'PENDING', attempts: 0 });
      await first.stop();

      s3 = new S3rver({
        address: '127.0.0.1',
        port: s3Port,
        silent: true,
        directory: await mkdtemp(path.join(tmpdir(), 's3rver-')),
        configureBuckets: [{ name: 'media' }],
      });
      await s3.run();
      second = await startServer({ env: { ...env, ...s3Env } });
      const ready = await waitFor(
        async () => {
          const row = await second!.app.db.prisma.upload.findUnique({ where: { messageId: message!.id } });
          return row?.status === 'READY' ? row : null;
        },
        15_000,
        'the download to finish after the restart',
      );
      expect(ready.size).toBe(bytes.length);
    } finally {
      await second?.stop();
      await first.stop();
      await s3?.close();
      server = await startServer({ env });
    }
  });
});
