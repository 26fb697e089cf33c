import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * The client's IP address, for per-IP rate limits. Behind `trustedProxyHops` reverse proxies, each appends the
 * address it received the request from to X-Forwarded-For, so the client is the entry that many places from the
 * end (the socket peer being the last proxy); entries further left were written by the client and prove nothing.
 * With no trusted proxy the socket peer is the client and X-Forwarded-For is ignored.
 */
export function clientAddress(request: IncomingMessage, trustedProxyHops: number): string {
  const peer = normalize(request.socket.remoteAddress) ?? 'unknown';
  if (trustedProxyHops === 0) return peer;
  const forwarded = [request.headers['x-forwarded-for'] ?? []]
    .flat()
    .flatMap((header) => header.split(','))
    .map((entry) => entry.trim());
  const chain = [...forwarded, peer];
  const candidate = chain[Math.max(chain.length - 1 - trustedProxyHops, 0)];
  return normalize(candidate) ?? peer;
}

/** An IP address as one spelling (IPv4-mapped IPv6 as plain IPv4); undefined for anything that is not one. */
function normalize(address: string | undefined): string | undefined {
  if (address === undefined) return undefined;
  const plain = address.startsWith('::ffff:') && isIP(address.slice(7)) === 4 ? address.slice(7) : address;
  return isIP(plain) ? plain.toLowerCase() : undefined;
}
