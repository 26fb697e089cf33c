import type { PlatformSender } from '../client-links/links.service.js';
import type { InboundEvent, InboundPlatformErrors } from './inbound-events.js';

/** Why part of a delivery did not take effect; stored in webhook_deliveries.errors for admins. */
export interface DeliveryError {
  path: string;
  /** `platform`: an error Meta reported (about a change or a message); the delivery itself was applied. */
  kind: 'shape' | 'unroutable' | 'unknown-target' | 'failed' | 'platform';
  reason: string;
  /** Who sent it, for unroutable events: when they are linked later, their deliveries are replayed. */
  customer?: PlatformSender;
}

export interface DeliveryOutcome {
  status: 'PROCESSED' | 'FAILED';
  errors: DeliveryError[];
}

export function unknownTarget(path: string, externalId: string): DeliveryError {
  return { kind: 'unknown-target', path, reason: `no known message has id ${externalId}` };
}

export function foreignAccount(event: InboundEvent): DeliveryError {
  return {
    kind: 'unroutable',
    path: event.path,
    reason: `phone_number_id ${event.businessAccountId} belongs to no active integration of this organization`,
  };
}

export function unroutable(event: InboundEvent & { customer: PlatformSender }, reason: string): DeliveryError {
  const { platformUserId, scopedUserId } = event.customer;
  return { kind: 'unroutable', path: event.path, reason, customer: { platformUserId, scopedUserId } };
}

/** Meta's own errors, kept for admins; they do not make the delivery FAILED. */
export function platformErrors(event: InboundPlatformErrors): DeliveryError[] {
  return event.errors.map((error) => ({
    kind: 'platform',
    path: event.path,
    reason: [`${error.code}: ${error.title}`, error.message, error.details]
      .filter((part, index, parts) => part && parts.indexOf(part) === index)
      .join(' — '),
  }));
}

/** Whether a delivery's errors mean that part of it did not take effect. */
export const failsDelivery = (error: DeliveryError) => error.kind !== 'platform';

export function failedEvent(path: string): DeliveryError {
  return { kind: 'failed', path, reason: 'could not be applied (see the server log); replay to retry' };
}
