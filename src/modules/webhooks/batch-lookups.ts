import type { PlatformSender } from '../client-links/links.service.js';
import type { ClientLinkService } from '../client-links/links.service.js';
import type { InboundEvent } from './inbound-events.js';
import type { RoutedIntegration } from './inbound-handler.js';
import type { CustomerRoute, DeliveryIntegration, InboundRouter } from './inbound-router.js';

/** Sender lookups of a batch run this many at a time, leaving the rest of the pool to everyone else. */
const PREFETCH_LANES = 4;

const senderKey = (customer: PlatformSender) => `${customer.platformUserId ?? ''}\u0000${customer.scopedUserId ?? ''}`;

/**
 * Lookups shared by the events of one batch: many deliveries come from the same few senders. Only what stays
 * true for the batch is kept (a sender that is not routed yet may verify with a later message), and each
 * link's latest inbound time is written once, at the end.
 */
export class BatchLookups {
  private readonly integrations = new Map<string, Promise<RoutedIntegration | null>>();
  private readonly routes = new Map<string, CustomerRoute & { routed: true }>();
  private readonly inbound = new Map<string, { at: Date; scopedUserId: string | null }>();

  constructor(
    private readonly router: InboundRouter,
    private readonly links: ClientLinkService,
  ) {}

  integrationFor(
    urlIntegration: DeliveryIntegration,
    businessAccountId: string | null,
  ): Promise<RoutedIntegration | null> {
    const key = `${urlIntegration.id}\u0000${businessAccountId ?? ''}`;
    let found = this.integrations.get(key);
    if (!found) this.integrations.set(key, (found = this.router.integrationFor(urlIntegration, businessAccountId)));
    return found;
  }

  /**
   * Routes the batch's distinct senders up front, a few at a time, with the same lookups as one by one: the
   * ordered pass that follows then finds every linked sender here. (Senders who are not routed yet are asked
   * again in order, with their message, which may carry a verification code.)
   */
  async routeSenders(events: { integration: DeliveryIntegration; event: InboundEvent }[]): Promise<void> {
    const pending = new Map<string, () => Promise<unknown>>();
    for (const { integration: urlIntegration, event } of events) {
      if (!('customer' in event) || event.kind === 'echo') continue;
      const key = `${urlIntegration.id}\u0000${event.businessAccountId ?? ''}\u0000${senderKey(event.customer)}`;
      if (pending.has(key)) continue;
      pending.set(key, async () => {
        const integration = await this.integrationFor(urlIntegration, event.businessAccountId);
        if (integration) await this.routeCustomer(integration, event.customer, null);
      });
    }
    const work = [...pending.values()];
    const lane = async () => {
      for (let next = work.shift(); next; next = work.shift()) await next();
    };
    await Promise.all(Array.from({ length: Math.min(PREFETCH_LANES, work.length) }, lane));
  }

  async routeCustomer(
    integration: RoutedIntegration,
    customer: PlatformSender,
    text: string | null,
  ): Promise<CustomerRoute> {
    const key = `${integration.id}\u0000${senderKey(customer)}`;
    const known = this.routes.get(key);
    if (known) return { ...known, verifiedNow: false };
    const route = await this.router.routeCustomer(integration, customer, text);
    if (route.routed) this.routes.set(key, route);
    return route;
  }

  noteInbound(linkId: string, at: Date, scopedUserId: string | null): void {
    const previous = this.inbound.get(linkId);
    this.inbound.set(linkId, {
      at: previous && previous.at > at ? previous.at : at,
      scopedUserId: scopedUserId ?? previous?.scopedUserId ?? null,
    });
  }

  recordInbound(): Promise<void> {
    return this.links.recordInbound(
      [...this.inbound].map(([linkId, { at, scopedUserId }]) => ({ linkId, at, scopedUserId })),
    );
  }
}
