import type { Platform } from '../../../generated/prisma/enums.js';
import { storableText, textProblem } from '../../../lib/text.js';
import type { ParsedDelivery } from '../inbound-events.js';
import { parseInstagramDelivery } from './instagram.js';
import { parseWhatsAppDelivery } from './whatsapp.js';

/** A stored delivery's body as events, with whatever could not be understood as problems. */
export function parseDelivery(platform: Platform, rawBody: string): ParsedDelivery {
  let body: unknown;
  try {
    body = JSON.parse(rawBody, storable);
  } catch {
    return { events: [], problems: [{ path: '(delivery)', reason: 'body is not JSON' }] };
  }
  return platform === 'WHATSAPP' ? parseWhatsAppDelivery(body) : parseInstagramDelivery(body);
}

/**
 * Everything a customer sent is kept, so text PostgreSQL cannot store (U+0000, unpaired surrogates, which JSON
 * escapes can carry) is replaced by U+FFFD, in values and keys alike, rather than failing the whole delivery.
 */
function storable(_key: string, value: unknown): unknown {
  if (typeof value === 'string') return storableText(value);
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  if (!Object.keys(value).some((key) => textProblem(key))) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [storableText(key), item]));
}
