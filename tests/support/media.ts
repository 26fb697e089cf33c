import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import pg from 'pg';
import { applyMigrations } from '../../src/db/migrations.js';
import { createLogger } from '../../src/logger.js';
import { crc32, deflateSync } from 'node:zlib';
import { graphql } from '../gql/index.js';
import { dataOf, gql } from './graphql.js';
import type { TestServer } from './server.js';
import type { TestUser } from './seed.js';

export const CreateUpload = graphql(`
  mutation CreateUpload($input: CreateUploadInput!) {
    createUpload(input: $input) {
      id
      uploadUrl
      uploadHeaders
      expiresAt
    }
  }
`);

export const SendAttachment = graphql(`
  mutation SendAttachment($input: SendMessageInput!) {
    sendMessage(input: $input) {
      id
      content
      messageType
      metadata
      attachment {
        id
        status
        url
        mimeType
        size
        fileName
        width
        height
      }
    }
  }
`);

export const MessageAttachment = graphql(`
  query MessageAttachment($id: ID!) {
    message(id: $id) {
      id
      attachment {
        id
        status
        url
        mimeType
        size
        fileName
        width
        height
        failureReason
      }
    }
  }
`);

/** A real PNG of the given size (one grey pixel row repeated), as image decoders and sniffers read it. */
export function pngBytes(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([length, body, crc]);
  };
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 0, 0, 0, 0], 8); // 8-bit greyscale
  const rows = Buffer.alloc((width + 1) * height, 0x80);
  for (let row = 0; row < height; row++) rows[row * (width + 1)] = 0; // filter: none
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** createUpload through the API. */
export async function createUpload(
  server: TestServer,
  user: TestUser,
  input: { fileName: string; mimeType: string; size: number },
) {
  return dataOf(await gql(server.graphqlUrl, CreateUpload, { input }, { token: user.token })).createUpload;
}

/** PUTs bytes to an upload link as a client would (fetch: Content-Length set). */
export async function putBytes(uploadUrl: string, bytes: Buffer, headers: Record<string, string> = {}) {
  const response = await fetch(uploadUrl, { method: 'PUT', body: new Uint8Array(bytes), headers });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** PUTs bytes chunked (no Content-Length), so only counting them while they stream can refuse too many. */
export function putChunked(uploadUrl: string, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(
      uploadUrl,
      { method: 'PUT', headers: { 'transfer-encoding': 'chunked' } },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (part: string) => (body += part));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, body }));
      },
    );
    // The server may answer and close before every chunk is written: that is the point.
    request.on('error', (error) => (request.destroyed ? undefined : reject(error)));
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

/** createUpload, then the PUT of its bytes: an upload ready for sendMessage. */
export async function upload(
  server: TestServer,
  user: TestUser,
  bytes: Buffer,
  info: { fileName: string; mimeType: string },
) {
  const ticket = await createUpload(server, user, { ...info, size: bytes.length });
  const put = await putBytes(ticket.uploadUrl, bytes, ticket.uploadHeaders as Record<string, string>);
  if (put.status !== 200) throw new Error(`upload PUT answered ${put.status}: ${JSON.stringify(put.body)}`);
  return { ticket, stored: put.body };
}

/**
 * A database of the file's own on the run's PostgreSQL, migrated: for the files that run the media download job,
 * which takes the due downloads of every organization in its database (see sender-lock.ts for the outbox's case).
 */
export async function ownDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const runUrl = new URL(process.env.DATABASE_URL!);
  const name = `media_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: runUrl.toString() });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(runUrl);
  url.pathname = `/${name}`;
  await applyMigrations(url.toString(), createLogger({ level: 'silent' }));
  return {
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: runUrl.toString() });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
