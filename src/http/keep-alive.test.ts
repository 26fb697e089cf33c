import { afterEach, describe, expect, it } from '@jest/globals';
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { WebSocket, WebSocketServer } from 'ws';
import { keepAlive } from './keep-alive.js';

const INTERVAL_MS = 960;

async function startServer() {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const heartbeat = keepAlive(server.clients, INTERVAL_MS);
  server.on('connection', (socket) => heartbeat.watch(socket));
  const { port } = server.address() as AddressInfo;
  return { server, port, heartbeat };
}

/** A peer that completes the WebSocket handshake and then ignores every frame: it never answers a ping. */
async function silentPeer(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.write(
    'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await once(socket, 'data');
  return socket;
}

describe('keepAlive', () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));

  it('pings each socket once per interval, spread over the interval, and keeps the ones that answer', async () => {
    const { server, port, heartbeat } = await startServer();
    const clients = Array.from({ length: 48 }, () => new WebSocket(`ws://127.0.0.1:${port}`));
    cleanups.push(() => {
      heartbeat.stop();
      clients.forEach((client) => client.terminate());
      server.close();
    });
    await Promise.all(clients.map((client) => once(client, 'open')));
    const pings = clients.map(() => [] as number[]);
    clients.forEach((client, index) => client.on('ping', () => pings[index]!.push(performance.now())));

    await new Promise((resolve) => setTimeout(resolve, INTERVAL_MS * 2.6));

    // Two or three pings each in 2.6 intervals: once per interval, not once per step.
    for (const times of pings) expect(times.length).toBeGreaterThanOrEqual(2);
    for (const times of pings) expect(times.length).toBeLessThanOrEqual(3);
    // The first pings of the 48 sockets came over most of an interval, not all in one turn.
    const firsts = pings.map((times) => times[0]!);
    expect(Math.max(...firsts) - Math.min(...firsts)).toBeGreaterThan(INTERVAL_MS / 2);
    // Each socket's pings are about an interval apart.
    for (const times of pings)
      for (let index = 1; index < times.length; index++)
        expect(times[index]! - times[index - 1]!).toBeGreaterThan(INTERVAL_MS * 0.75);
    expect(clients.every((client) => client.readyState === WebSocket.OPEN)).toBe(true);
  });

  it('drops a socket that does not answer its ping', async () => {
    const { server, port, heartbeat } = await startServer();
    const answering = new WebSocket(`ws://127.0.0.1:${port}`);
    await once(answering, 'open');
    let pingsAnswered = 0;
    answering.on('ping', () => (pingsAnswered += 1));
    const silent = await silentPeer(port);
    cleanups.push(() => {
      heartbeat.stop();
      answering.terminate();
      silent.destroy();
      server.close();
    });
    const closedAt = once(silent, 'close').then(() => performance.now());
    const started = performance.now();

    // Pinged within an interval, dropped once the ping is half an interval old and it comes round again.
    const closedAfter = (await closedAt) - started;
    expect(closedAfter).toBeLessThan(INTERVAL_MS * 2.5);
    expect(closedAfter).toBeGreaterThan(INTERVAL_MS / 2);
    // Two sockets are a round of two steps; the next round still waits for the interval.
    expect(pingsAnswered).toBeLessThanOrEqual(Math.ceil(closedAfter / INTERVAL_MS) + 1);
    expect(answering.readyState).toBe(WebSocket.OPEN);
  });
});
