import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config.js';
import { randomLoopbackAddress } from '../support/raw-http.js';
import { TEST_JWT_SECRET, type TestServer } from '../support/server.js';

// graphql-ws as an outsider and as a misbehaving client would use it.

const PER_ADDRESS = 5;

/** A raw graphql-transport-ws socket, from `localAddress`, with every frame and the close code it ends with. */
function openSocket(server: TestServer, localAddress?: string) {
  const socket = new WebSocket(server.wsUrl, 'graphql-transport-ws', { localAddress });
  const frames: { type: string }[] = [];
  socket.on('message', (data) => frames.push(JSON.parse(String(data)) as { type: string }));
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
  const opened = new Promise<boolean>((resolve) => {
    socket.once('open', () => resolve(true));
    socket.once('close', () => resolve(false));
  });
  const send = (message: object) => socket.send(JSON.stringify(message));
  const acknowledged = async (timeoutMs = 3_000) => {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && socket.readyState === WebSocket.OPEN) {
      if (frames.some((frame) => frame.type === 'connection_ack')) return true;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return frames.some((frame) => frame.type === 'connection_ack');
  };
  return { socket, frames, closed, opened, send, acknowledged };
}

const within = <T>(promise: Promise<T>, ms: number, what: string) =>
  Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)),
  ]);

const { server, org } = useFixture({
  server: { env: { WS_MAX_CONNECTIONS_PER_IP: String(PER_ADDRESS) } },
  organization: { users: ['Alice'] },
});

describe('connection_init', () => {
  it('without a valid token is refused with 4403, and nothing is acknowledged', async () => {
    const expired = await new SignJWT({ sub: org().admin.id, exp: Math.floor(Date.now() / 1000) - 60 })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(TEST_JWT_SECRET));
    for (const payload of [
      undefined,
      {},
      { authorization: 'Bearer not.a.token' },
      { authorization: `Bearer ${expired}` },
    ]) {
      const connection = openSocket(server());
      await connection.opened;
      connection.send({ type: 'connection_init', ...(payload ? { payload } : {}) });
      expect(await within(connection.closed, 3_000, `close after ${JSON.stringify(payload)}`)).toBe(4403);
      expect(connection.frames).toEqual([]);
    }
  });

  it('with a valid token is acknowledged', async () => {
    const connection = openSocket(server());
    await connection.opened;
    connection.send({ type: 'connection_init', payload: { authorization: `Bearer ${org().users.Alice!.token}` } });
    expect(await connection.acknowledged()).toBe(true);
    connection.socket.close();
  });
});

describe('sockets per address', () => {
  it('are capped at WS_MAX_CONNECTIONS_PER_IP, acknowledged or not; another address is unaffected', async () => {
    const address = randomLoopbackAddress();
    const held = Array.from({ length: PER_ADDRESS }, () => openSocket(server(), address));
    try {
      expect(await Promise.all(held.map((connection) => connection.opened))).toEqual(held.map(() => true));
      const extra = openSocket(server(), address);
      expect(await within(extra.closed, 3_000, 'the socket over the cap to close')).toBe(4429);

      const elsewhere = openSocket(server(), randomLoopbackAddress());
      await elsewhere.opened;
      elsewhere.send({ type: 'connection_init', payload: { authorization: `Bearer ${org().users.Alice!.token}` } });
      expect(await elsewhere.acknowledged()).toBe(true);
      elsewhere.socket.close();

      // A place given back is free again.
      held.pop()!.socket.close();
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = openSocket(server(), address);
      await again.opened;
      again.send({ type: 'connection_init', payload: { authorization: `Bearer ${org().users.Alice!.token}` } });
      expect(await again.acknowledged()).toBe(true);
      again.socket.close();
    } finally {
      held.forEach((connection) => connection.socket.terminate());
    }
  });

  it('have a cap by default', () => {
    expect(loadConfig({}).webSocket.maxConnectionsPerIp).toBeGreaterThan(0);
  });
});

describe('a client sending a frame only servers send', () => {
  it.each(['next', 'error', 'connection_ack'])('(%s) is closed with 4400 Bad Request', async (type) => {
    const connection = openSocket(server());
    await connection.opened;
    connection.send({ type: 'connection_init', payload: { authorization: `Bearer ${org().users.Alice!.token}` } });
    expect(await connection.acknowledged()).toBe(true);
    const payload = type === 'error' ? [{ message: 'x' }] : type === 'next' ? { data: {} } : undefined;
    connection.send({ type, ...(type === 'connection_ack' ? {} : { id: '1' }), ...(payload ? { payload } : {}) });
    expect(await within(connection.closed, 3_000, 'close')).toBe(4400);
  });
});
