import { randomInt } from 'node:crypto';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A loopback address of the test's own (127.x.y.z): Linux accepts any of them as a source address, so a test can
 * act as a client of its own for per-address limits that other test files, all on 127.0.0.1, never touch.
 */
export const randomLoopbackAddress = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;

/**
 * One request on a connection of its own, from `localAddress`. `body` is sent whole; with `holdBody` only the
 * headers go out (announcing `content-length` bytes that never follow), as a client stalling its body would.
 * Resolves with the answer, or 'no answer' when none came within `timeoutMs`.
 */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    holdBody?: number;
    localAddress?: string;
    timeoutMs?: number;
  } = {},
): Promise<RawAnswer | 'no answer'> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...options.headers };
    if (options.holdBody !== undefined) headers['content-length'] = String(options.holdBody);
    else if (options.body !== undefined) headers['content-length'] = String(Buffer.byteLength(options.body));
    const request = httpRequest(url, {
      method: options.method ?? 'GET',
      headers,
      localAddress: options.localAddress,
      agent: false,
    });
    const timer = setTimeout(() => {
      request.destroy();
      resolve('no answer');
    }, options.timeoutMs ?? 5_000);
    request.on('response', (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => {
        clearTimeout(timer);
        request.destroy();
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body });
      });
    });
    // The server may answer and close while the body is still unsent: that answer is what counts.
    request.on('error', (error) => {
      if (request.destroyed && !request.writableFinished && options.holdBody !== undefined) return;
      clearTimeout(timer);
      reject(error);
    });
    if (options.holdBody !== undefined) request.flushHeaders();
    else request.end(options.body);
  });
}

/**
 * Sends a request's head at once and then its body one byte every 200 ms, as a slow-loris client does, until the
 * server answers or the socket closes. Resolves with the raw answer (status line, headers and body as text) and
 * when it came; fails when none came within 6 s.
 */
export async function trickleRequest(
  url: string,
  options: { headers?: Record<string, string>; body: string; localAddress?: string },
): Promise<{ status: number; text: string; afterMs: number }> {
  const answer = await trickle(url, { ...options, intervalMs: 200, timeoutMs: 6_000 });
  if (answer === 'no answer') throw new Error('the server waited for the body past its timeout');
  return answer;
}

function trickle(
  url: string,
  options: {
    headers?: Record<string, string>;
    body: string;
    localAddress?: string;
    intervalMs: number;
    timeoutMs: number;
  },
): Promise<{ status: number; text: string; afterMs: number } | 'no answer'> {
  const target = new URL(url);
  const startedAt = Date.now();
  return new Promise((resolve) => {
    const socket = connect({ port: Number(target.port), host: target.hostname, localAddress: options.localAddress });
    const head = [
      `POST ${target.pathname}${target.search} HTTP/1.1`,
      `host: ${target.host}`,
      ...('transfer-encoding' in (options.headers ?? {}) ? [] : [`content-length: ${Buffer.byteLength(options.body)}`]),
      ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
      '',
      '',
    ].join('\r\n');
    let received = '';
    let sent = 0;
    let settled = false;
    const finish = (answer: { status: number; text: string; afterMs: number } | 'no answer') => {
      if (settled) return;
      settled = true;
      clearInterval(dripping);
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const answered = () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1]);
      return Number.isNaN(status) ? undefined : status;
    };
    // A whole answer: its head, and as many bytes of body as its content-length says.
    const complete = () => {
      const end = received.indexOf('\r\n\r\n');
      const length = /\r\ncontent-length: (\d+)/i.exec(received.slice(0, end))?.[1];
      return end >= 0 && length !== undefined && Buffer.byteLength(received.slice(end + 4)) >= Number(length);
    };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (complete()) finish({ status: answered()!, text: received, afterMs: Date.now() - startedAt });
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const status = answered();
      finish(status === undefined ? 'no answer' : { status, text: received, afterMs: Date.now() - startedAt });
    });
    socket.write(head);
    const dripping = setInterval(() => {
      if (sent < options.body.length && socket.writable) socket.write(options.body[sent++]!);
    }, options.intervalMs);
    const timer = setTimeout(() => {
      const status = answered();
      finish(status === undefined ? 'no answer' : { status, text: received, afterMs: Date.now() - startedAt });
    }, options.timeoutMs);
  });
}
