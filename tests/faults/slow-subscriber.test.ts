import { describe, expect, it } from '@jest/globals';
import { useFixture } from '../support/fixture.js';
import WebSocket from 'ws';
import { createChannel, liveMessageEvents } from '../support/messaging.js';

const { server, org } = useFixture({ organization: { users: ['Alice', 'Bob', 'Sloth'] } });

/** A graphql-ws client written by hand, so that the test can stop it reading its socket. */
async function stalledSubscriber(token: string, channelId: string) {
  const socket = new WebSocket(server().wsUrl, 'graphql-transport-ws');
  const received: { type: string; payload?: unknown }[] = [];
  socket.on('message', (data) => received.push(JSON.parse(String(data)) as { type: string }));
  await new Promise((resolve) => socket.once('open', resolve));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (received.some((message) => message.type === 'connection_ack')) {
        clearInterval(check);
        resolve();
      }
    }, 10);
  });
  socket.send(
    JSON.stringify({
      id: 'slow',
      type: 'subscribe',
      payload: {
        query: 'subscription($c: ID!) { messageEvents(channelId: $c) { kind message { id content } } }',
        variables: { c: channelId },
      },
    }),
  );
  return {
    received,
    /** Stops reading: the server's writes pile up in the network buffers, then in the server(). */
    stall: () => (socket as unknown as { _socket: { pause(): void } })._socket.pause(),
    resume: () => (socket as unknown as { _socket: { resume(): void } })._socket.resume(),
    close: () => socket.close(),
  };
}

describe('a subscriber that stops reading', () => {
  it('is cut off with an error after a bounded backlog, and does not delay the others', async () => {
    const channel = await createChannel(server(), org().users.Alice!, {
      members: [org().users.Bob!, org().users.Sloth!],
    });
    const healthy = await liveMessageEvents(server(), {
      token: org().users.Bob!.token,
      channelId: channel.id,
      prober: org().admin,
    });
    const slow = await stalledSubscriber(org().users.Sloth!.token, channel.id);
    await new Promise((resolve) => setTimeout(resolve, 200));
    slow.stall();

    // More than the kernel buffers on both ends take (several MB on loopback) plus the server's high-water mark
    // and the subscription's queue: only then is a stalled subscriber's backlog the server's to bound.
    const total = 3_000;
    const padding = 'x'.repeat(4_000);
    const started = Date.now();
    const { sendMessage } = server().app.services;
    for (let batch = 0; batch < total / 100; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, (_, index) =>
          sendMessage.execute(org().users.Alice!.session, {
            channelId: channel.id,
            content: `${batch * 100 + index} ${padding}`,
          }),
        ),
      );
    }
    const sentIn = Date.now() - started;
    try {
      // The healthy subscriber gets everything, and about as fast as it was sent.
      await healthy.waitForMessages(total, 30_000);
      const caughtUpIn = Date.now() - started;
      expect(caughtUpIn).toBeLessThan(sentIn + 5_000);

      // The stalled one was dropped with a reason once its backlog passed the limit.
      slow.resume();
      await new Promise<void>((resolve, reject) => {
        const deadline = setTimeout(
          () => reject(new Error(`no overflow error; got ${slow.received.length} messages`)),
          20_000,
        );
        const check = setInterval(() => {
          if (slow.received.some((message) => message.type === 'error' || message.type === 'complete')) {
            clearInterval(check);
            clearTimeout(deadline);
            resolve();
          }
        }, 20);
      });
      const error = slow.received.find((message) => message.type === 'error');
      expect(JSON.stringify(error)).toContain('SUBSCRIPTION_OVERFLOW');
      const delivered = slow.received.filter((message) => message.type === 'next').length;
      expect(delivered).toBeLessThan(total);
    } finally {
      slow.close();
      await healthy.close();
    }
  }, 90_000);
});
