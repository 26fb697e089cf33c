import type { Platform } from '../../../generated/prisma/enums.js';
import type { ParsedDelivery } from '../inbound-events.js';
import { parseInstagramDelivery } from './instagram.js';
import { parseWhatsAppDelivery } from './whatsapp.js';

/** A stored delivery's body as events, with whatever could not be understood as problems. */
export function parseDelivery(platform: Platform, rawBody: string): ParsedDelivery {
  let body: unknown;
  try {
    body = JSON.parse(rawBody);
  } catch {
    return { events: [], problems: [{ path: '(delivery)', reason: 'body is not JSON' }] };
  }
  return platform === 'WHATSAPP' ? parseWhatsAppDelivery(body) : parseInstagramDelivery(body);
}
