import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from '@jest/globals';
import { clientAddress } from '../../src/http/client-address.js';

// The two fields clientAddress reads, as Node's http server fills them.
const request = (peer: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress: peer },
    headers: forwardedFor ? { 'x-forwarded-for': forwardedFor } : {},
  }) as IncomingMessage;

describe('clientAddress', () => {
  it('is the socket peer without trusted proxies, whatever X-Forwarded-For says', () => {
    expect(clientAddress(request('203.0.113.7', '198.51.100.1'), 0)).toBe('203.0.113.7');
    expect(clientAddress(request('::ffff:203.0.113.7'), 0)).toBe('203.0.113.7');
    expect(clientAddress(request('2001:DB8::1'), 0)).toBe('2001:db8::1');
  });

  it('is the entry the outermost trusted proxy saw, not what the client wrote before it', () => {
    // client forged "1.1.1.1"; the real client 198.51.100.9 reached proxy 10.0.0.1, which reached us.
    expect(clientAddress(request('10.0.0.2', '1.1.1.1, 198.51.100.9, 10.0.0.1'), 2)).toBe('198.51.100.9');
    expect(clientAddress(request('10.0.0.1', '1.1.1.1, 198.51.100.9'), 1)).toBe('198.51.100.9');
  });

  it('takes the leftmost entry of a chain shorter than the proxies, and the peer for an entry that is not an address', () => {
    expect(clientAddress(request('10.0.0.1'), 1)).toBe('10.0.0.1');
    expect(clientAddress(request('10.0.0.1', 'not-an-ip'), 1)).toBe('10.0.0.1');
    expect(clientAddress(request('10.0.0.1', '198.51.100.9'), 3)).toBe('198.51.100.9');
  });
});
