import { randomFillSync } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { projectRoot } from '../../src/lib/project-root.js';
import { postGraphQL } from '../lib/graphql-client.js';
import { diesWithBench, type ServerProcess } from '../lib/server-process.js';
import type { BenchUser } from '../lib/setup.js';
import { percentile } from '../lib/stats.js';

export const MEDIA_BYTES = 10 * 1024 * 1024;
export const CONCURRENT_UPLOADS = 20;
const ROUNDS = 8;

export interface MediaResults {
  upload: { p50: number; p99: number };
  download: { p50: number; p99: number };
  rawUpload: { p50: number; p99: number };
  rawDownload: { p50: number; p99: number };
  rss: { beforeMb: number; peakMb: number };
}

const timed = async (run: () => Promise<unknown>) => {
  const started = performance.now();
  await run();
  return performance.now() - started;
};

const summary = (times: number[]) => ({ p50: percentile(times, 50), p99: percentile(times, 99) });

const CREATE_UPLOAD = `mutation($input: CreateUploadInput!) { createUpload(input: $input) { id uploadUrl } }`;
const SEND = `mutation($input: SendMessageInput!) { sendMessage(input: $input) { attachment { url } } }`;

async function createUpload(graphqlUrl: string, user: BenchUser) {
  const data = (await postGraphQL(
    graphqlUrl,
    JSON.stringify({
      query: CREATE_UPLOAD,
      variables: { input: { fileName: 'bench.bin', mimeType: 'application/octet-stream', size: MEDIA_BYTES } },
    }),
    user.token,
  )) as { createUpload: { id: string; uploadUrl: string } };
  return data.createUpload;
}

async function put(url: string, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
  const response = await fetch(url, {
    method: 'PUT',
    body: bytes,
    headers: { 'content-type': 'application/octet-stream' },
  });
  if (!response.ok) throw new Error(`PUT ${url} answered ${response.status}`);
  await response.arrayBuffer();
}

async function get(url: string): Promise<void> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url} answered ${response.status}`);
  const length = (await response.arrayBuffer()).byteLength;
  if (length !== MEDIA_BYTES) throw new Error(`GET ${url} gave ${length} bytes`);
}

/**
 * The ceiling: the same 10 MB copied through a plain Node HTTP server on the same machine, in its own process like
 * the real server (bench/raw-copy-server.ts): PUT streamed to a file, GET streamed from it.
 */
async function rawCopyServer(port: number): Promise<{ url: string; close(): Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), 'bench-raw-media-'));
  const child = spawn(
    process.execPath,
    [
      path.join(projectRoot, 'node_modules', 'tsx', 'dist', 'cli.mjs'),
      path.join(projectRoot, 'bench', 'raw-copy-server.ts'),
    ],
    { env: { ...process.env, PORT: String(port), COPY_DIR: dir }, stdio: 'inherit' },
  );
  diesWithBench(child);
  const url = `http://127.0.0.1:${port}`;
  for (
    let attempt = 0;
    !(await fetch(`${url}/ready`).then(
      (r) => r.ok,
      () => false,
    ));
    attempt++
  ) {
    if (attempt > 100) throw new Error('raw copy server did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url: `${url}/copy`,
    close: async () => {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * 10 MB uploads (createUpload, then the PUT) and downloads (the attachment's signed link) one at a time, beside the
 * raw copy; then the server's RSS while 20 clients upload 10 MB each at once, which stays flat when the bytes
 * stream rather than being buffered (buffered, they alone would be 200 MB).
 */
export async function benchMedia(
  server: ServerProcess,
  user: BenchUser,
  channelId: string,
  rawPort: number,
): Promise<MediaResults> {
  const graphqlUrl = `${server.url}/graphql`;
  const residentMb = async () => (await server.rss()) / 1024 / 1024;
  const bytes = randomFillSync(new Uint8Array(MEDIA_BYTES));
  const raw = await rawCopyServer(rawPort);
  const uploads: number[] = [];
  const downloads: number[] = [];
  const rawUploads: number[] = [];
  const rawDownloads: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const ticket = await createUpload(graphqlUrl, user);
      uploads.push(await timed(() => put(ticket.uploadUrl, bytes)));
      const sent = (await postGraphQL(
        graphqlUrl,
        JSON.stringify({ query: SEND, variables: { input: { channelId, messageType: 'FILE', uploadId: ticket.id } } }),
        user.token,
      )) as { sendMessage: { attachment: { url: string } } };
      downloads.push(await timed(() => get(sent.sendMessage.attachment.url)));
      rawUploads.push(await timed(() => put(raw.url, bytes)));
      rawDownloads.push(await timed(() => get(raw.url)));
    }

    const beforeMb = await residentMb();
    const tickets = await Promise.all(Array.from({ length: CONCURRENT_UPLOADS }, () => createUpload(graphqlUrl, user)));
    const samples: number[] = [beforeMb];
    let uploading = true;
    const sampler = (async () => {
      while (uploading) {
        samples.push(await residentMb());
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    })();
    await Promise.all(tickets.map((ticket) => put(ticket.uploadUrl, bytes)));
    uploading = false;
    await sampler;
    samples.push(await residentMb());
    return {
      upload: summary(uploads),
      download: summary(downloads),
      rawUpload: summary(rawUploads),
      rawDownload: summary(rawDownloads),
      rss: { beforeMb, peakMb: Math.max(...samples) },
    };
  } finally {
    await raw.close();
  }
}
