import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { graphql } from '../gql/index.js';
import { dataOf, errorCodes, gql } from '../support/graphql.js';
import { createUpload, pngBytes, putBytes, putChunked, SendAttachment, upload } from '../support/media.js';
import { createChannel } from '../support/messaging.js';
import { freePort } from '../support/process.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { seedOrganization, type TestOrganization } from '../support/seed.js';
import { startServer, type TestServer } from '../support/server.js';

const DeleteMessage = graphql(`
  mutation DeleteS3AttachmentMessage($messageId: ID!) {
    deleteMessage(messageId: $messageId) {
      id
    }
  }
`);

/** A server on a port chosen first, so that its links (PUBLIC_URL) point at it. */
async function serverOn(env: Record<string, string>): Promise<TestServer> {
  const port = await freePort();
  return startServer({ env: { ...env, PORT: String(port), PUBLIC_URL: `http://127.0.0.1:${port}` } });
}

let s3: TestS3;
let server: TestServer;
let org: TestOrganization;

beforeAll(async () => {
  s3 = await startS3();
  server = await serverOn(s3.env);
  org = await seedOrganization(server, { users: ['Ana'] });
});

afterAll(async () => {
  await server?.stop();
  await s3?.stop();
});

describe('the s3 storage driver, against a real S3-protocol server', () => {
  it('stores an upload as one object, serves it whole and by range, and deletes it with its message', async () => {
    const ana = org.users.Ana!;
    const bytes = pngBytes(300, 200);
    const channel = await createChannel(server, ana);
    const { ticket } = await upload(server, ana, bytes, { fileName: 'photo.png', mimeType: 'image/png' });
    expect((await s3.keys()).filter((key) => key.includes(ticket.id))).toHaveLength(1);

    const message = dataOf(
      await gql(
        server.graphqlUrl,
        SendAttachment,
        { input: { channelId: channel.id, messageType: 'IMAGE', uploadId: ticket.id } },
        { token: ana.token },
      ),
    ).sendMessage;
    expect(message.attachment).toMatchObject({ status: 'READY', mimeType: 'image/png', width: 300, height: 200 });

    const whole = await fetch(message.attachment!.url!);
    expect(whole.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(message.attachment!.url!, { headers: { range: 'bytes=100-199' } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(100, 200));

    dataOf(await gql(server.graphqlUrl, DeleteMessage, { messageId: message.id }, { token: ana.token }));
    expect((await s3.keys()).filter((key) => key.includes(ticket.id))).toEqual([]);
  });

  it('an upload over its declared size leaves no object behind', async () => {
    const ana = org.users.Ana!;
    const before = await s3.keys();
    const ticket = await createUpload(server, ana, { fileName: 'a.bin', mimeType: 'application/pdf', size: 1000 });
    const answer = await putChunked(
      ticket.uploadUrl,
      Array.from({ length: 4 }, () => Buffer.alloc(64 * 1024, 1)),
    );
    expect(answer.status).toBe(413);
    expect(await s3.keys()).toEqual(before);
  });

  it('with S3_PRESIGNED_DOWNLOADS, a download redirects to a presigned GET of the store, same type, disposition and ranges', async () => {
    const direct = await serverOn({ ...s3.env, S3_PRESIGNED_DOWNLOADS: 'true' });
    try {
      const directOrg = await seedOrganization(direct, { users: ['Cy'] });
      const cy = directOrg.users.Cy!;
      const bytes = pngBytes(30, 10);
      const channel = await createChannel(direct, cy);
      const { ticket } = await upload(direct, cy, bytes, { fileName: 'chart.png', mimeType: 'image/png' });
      const message = dataOf(
        await gql(
          direct.graphqlUrl,
          SendAttachment,
          { input: { channelId: channel.id, messageType: 'IMAGE', uploadId: ticket.id } },
          { token: cy.token },
        ),
      ).sendMessage;
      const redirect = await fetch(message.attachment!.url!, { redirect: 'manual' });
      expect(redirect.status).toBe(302);
      const location = redirect.headers.get('location')!;
      expect(location.startsWith(`${s3.endpoint}/${s3.bucket}/`)).toBe(true);
      expect(location).toContain('X-Amz-Signature=');

      const served = await fetch(location);
      expect(served.status).toBe(200);
      expect(served.headers.get('content-type')).toBe('image/png');
      expect(served.headers.get('content-disposition')).toBe(
        `inline; filename="chart.png"; filename*=UTF-8''chart.png`,
      );
      expect(Buffer.from(await served.arrayBuffer())).toEqual(bytes);
      const part = await fetch(location, { headers: { range: 'bytes=0-7' } });
      expect(part.status).toBe(206);
      expect(Buffer.from(await part.arrayBuffer())).toEqual(bytes.subarray(0, 8));
    } finally {
      await direct.stop();
    }
  });

  it('a store that does not answer: SERVICE_UNAVAILABLE (503), never a 500, and nothing half-done', async () => {
    const deadPort = await freePort();
    const cut = await serverOn({ ...s3.env, S3_ENDPOINT: `http://127.0.0.1:${deadPort}` });
    try {
      const cutOrg = await seedOrganization(cut, { users: ['Bo'] });
      const bo = cutOrg.users.Bo!;
      const ticket = await createUpload(cut, bo, { fileName: 'a.txt', mimeType: 'text/plain', size: 5 });
      const put = await putBytes(ticket.uploadUrl, Buffer.from('hello'));
      expect(put.status).toBe(503);
      const row = await cut.app.db.prisma.upload.findUniqueOrThrow({ where: { id: ticket.id } });
      expect(row.status).toBe('PENDING');
      const channel = await createChannel(cut, bo);
      const send = await gql(
        cut.graphqlUrl,
        SendAttachment,
        { input: { channelId: channel.id, messageType: 'FILE', uploadId: ticket.id } },
        { token: bo.token },
      );
      expect(errorCodes(send)).toEqual(['BAD_USER_INPUT']);
    } finally {
      await cut.stop();
    }
  });
});
