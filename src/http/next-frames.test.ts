import { describe, expect, it, jest } from '@jest/globals';
import { type ExecutionResult, GraphQLError } from 'graphql';
import { BoundedQueue } from '../realtime/bounded-queue.js';
import { NextFrames, ResultJson } from './next-frames.js';

/** A socket that keeps what is sent on it; `written` runs the send callbacks (the kernel taking the bytes). */
function socket(bufferedAmount = 0) {
  const frames: string[] = [];
  const callbacks: (() => void)[] = [];
  return {
    frames,
    bufferedAmount,
    send(frame: string, written?: () => void) {
      frames.push(frame);
      if (written) callbacks.push(written);
    },
    written: () => callbacks.splice(0).forEach((callback) => callback()),
  };
}

/** An iterator over `results` that records how many were taken. */
function resultsOf(results: ExecutionResult[]) {
  let taken = 0;
  let returned = false;
  const iterator: AsyncIterator<ExecutionResult> = {
    next: async () =>
      taken < results.length && !returned
        ? { value: results[taken++]!, done: false }
        : { value: undefined, done: true },
    return: async () => {
      returned = true;
      return { value: undefined, done: true };
    },
  };
  return { iterator, taken: () => taken, returned: () => returned };
}

const format = () => {
  const counted: unknown[] = [];
  const json = new ResultJson({
    forClient: (result) => ({ ...result, errors: result.errors?.map((error) => ({ message: error.message })) }),
    countErrors: (errors) => counted.push(...(errors ?? [])),
  });
  return { json, counted };
};

describe('next frames', () => {
  it('sends each result as a graphql-ws next message, serializing a result that subscribers share once', async () => {
    const forClient = jest.fn((result: ExecutionResult) => ({ data: result.data }));
    const json = new ResultJson({ forClient, countErrors: () => undefined });
    const shared: ExecutionResult = { data: { messageEvents: { id: 'm1', content: 'hello' } } };
    const own: ExecutionResult = { data: { messageEvents: { id: 'm2', content: 'only yours' } } };
    const sockets = [socket(), socket(), socket()];
    // Subscribers of one event are handed its result one after another, as a stream hub does.
    const streams = sockets.map((_, index) => resultsOf(index === 2 ? [shared, own] : [shared]));
    await Promise.all(
      streams.map((stream, index) => new NextFrames(stream.iterator, sockets[index]!, `op-${index}`, json).next()),
    );
    expect(forClient.mock.calls.map(([result]) => result)).toEqual([shared, own]);
    expect(sockets.map((target) => target.frames.map((frame) => JSON.parse(frame) as unknown))).toEqual([
      [{ id: 'op-0', type: 'next', payload: shared }],
      [{ id: 'op-1', type: 'next', payload: shared }],
      [
        { id: 'op-2', type: 'next', payload: shared },
        { id: 'op-2', type: 'next', payload: own },
      ],
    ]);
  });

  it('makes the JSON of a result once for the subscribers that get it in a row', () => {
    const forClient = jest.fn((result: ExecutionResult) => ({ data: result.data }));
    const json = new ResultJson({ forClient, countErrors: () => undefined });
    const first: ExecutionResult = { data: { n: 1 } };
    const second: ExecutionResult = { data: { n: 2 } };
    expect([json.of(first), json.of(first), json.of(first), json.of(second), json.of(second)]).toEqual([
      '{"data":{"n":1}}',
      '{"data":{"n":1}}',
      '{"data":{"n":1}}',
      '{"data":{"n":2}}',
      '{"data":{"n":2}}',
    ]);
    expect(forClient).toHaveBeenCalledTimes(2);
  });

  it('sends errors formatted for the client and counts them for each subscriber that gets them', async () => {
    const { json, counted } = format();
    const failed: ExecutionResult = { data: null, errors: [new GraphQLError('Unexpected error.')] };
    const sockets = [socket(), socket()];
    await Promise.all(
      sockets.map((target, index) => new NextFrames(resultsOf([failed]).iterator, target, `e${index}`, json).next()),
    );
    expect(JSON.parse(sockets[1]!.frames[0]!)).toEqual({
      id: 'e1',
      type: 'next',
      payload: { data: null, errors: [{ message: 'Unexpected error.' }] },
    });
    expect(counted).toHaveLength(2);
  });

  it('ends when the results end, and stops taking results once returned', async () => {
    const { json } = format();
    const results = resultsOf([{ data: { n: 1 } }, { data: { n: 2 } }]);
    const frames = new NextFrames(results.iterator, socket(), 'a', json);
    await expect(frames.return()).resolves.toEqual({ value: undefined, done: true });
    await expect(frames.next()).resolves.toEqual({ value: undefined, done: true });
    expect(results.returned()).toBe(true);
    expect(results.taken()).toBe(0);
  });

  it('takes no further result while a socket that stopped reading holds more than its high-water mark', async () => {
    const { json } = format();
    const slow = socket(1024 * 1024);
    const results = resultsOf([{ data: { n: 1 } }, { data: { n: 2 } }, { data: { n: 3 } }]);
    const ended = new NextFrames(results.iterator, slow, 's', json).next();
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The first frame is sent, and nothing more is taken until it has been written.
    expect(slow.frames).toHaveLength(1);
    expect(results.taken()).toBe(1);
    slow.written();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(results.taken()).toBe(2);
    slow.bufferedAmount = 0;
    slow.written();
    await expect(ended).resolves.toEqual({ value: undefined, done: true });
    expect(slow.frames).toHaveLength(3);
  });

  it('pulls the results of a stream that can be pulled, sending each as it comes, with no next() per result', async () => {
    const { json } = format();
    const target = socket();
    const results = new BoundedQueue<ExecutionResult>(
      10,
      () => undefined,
      () => new Error('overflow'),
    );
    const next = jest.spyOn(results, 'next');
    const ended = new NextFrames(results, target, 'p', json).next();
    results.push({ data: { n: 1 } });
    results.push({ data: { n: 2 } });
    // Sent in the push itself: no promise stood between the event and its frame.
    expect(target.frames.map((frame) => (JSON.parse(frame) as { payload: unknown }).payload)).toEqual([
      { data: { n: 1 } },
      { data: { n: 2 } },
    ]);
    await results.return();
    await expect(ended).resolves.toEqual({ value: undefined, done: true });
    expect(next).not.toHaveBeenCalled();
  });
});
