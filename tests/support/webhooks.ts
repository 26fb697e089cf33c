import { createHmac } from 'node:crypto';
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/logger.js';

export const signatureOf = (secret: string, body: string | Buffer) =>
  `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

/** POSTs a body to a webhook URL as Meta does: signed with the app secret unless a signature is given. */
export async function postWebhook(
  url: string,
  body: string | Buffer,
  options: { secret?: string; signature?: string | null; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string }> {
  const signature =
    options.signature !== undefined ? options.signature : options.secret ? signatureOf(options.secret, body) : null;
  const response = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(signature ? { 'x-hub-signature-256': signature } : {}),
      ...options.headers,
    },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: response.status, text: await response.text() };
}

/** Polls until `check` returns something truthy (or fails after the timeout with the last value). */
export async function waitFor<T>(
  check: () => Promise<T>,
  timeoutMs = 5_000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last value: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** A logger whose JSON lines the test can read. */
export function capturingLogger(level = 'info'): { logger: Logger; lines: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  return {
    logger: createLogger({ level, destination }),
    lines: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
