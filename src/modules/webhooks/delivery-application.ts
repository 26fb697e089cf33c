import type { Platform } from '../../generated/prisma/enums.js';
import type { Logger } from '../../logger.js';
import type { ClientLinkService, PlatformSender } from '../client-links/links.service.js';
import { BatchLookups } from './batch-lookups.js';
import {
  type DeliveryError,
  type DeliveryOutcome,
  failedEvent,
  failsDelivery,
  foreignAccount,
  platformErrors,
  unknownTarget,
  unroutable,
} from './delivery-outcome.js';
import type { DeliveryRow } from './delivery-store.js';
import type { InboundEvent, InboundMessage, InboundPlatformErrors } from './inbound-events.js';
import type { InboundEventHandler, RoutedMessage } from './inbound-handler.js';
import type { DeliveryIntegration, InboundRouter } from './inbound-router.js';
import { parseDelivery } from './parsing/parse-delivery.js';

export interface DeliveryApplicationDeps {
  router: InboundRouter;
  links: ClientLinkService;
  /** Applies routed events (the messaging module's InboundMessaging). */
  handler: InboundEventHandler;
  logger: Logger;
}

/**
 * What a batch of stored deliveries means, applied: each is parsed, each of its events routed (link -> client ->
 * assigned channel; our own send for statuses) and handed to the InboundEventHandler, in Meta's order, with
 * lookups shared across the batch and consecutive messages stored in one write.
 */
export class DeliveryApplication {
  constructor(private readonly deps: DeliveryApplicationDeps) {}

  /**
   * Applies the batch's events in order. Consecutive messages wait in a run that is stored in one write just
   * before any other kind of event (which may refer to them) and at the end.
   */
  async apply(
    deliveries: DeliveryRow[],
    requestIds: Map<string, string | undefined>,
  ): Promise<{ delivery: DeliveryRow; outcome: DeliveryOutcome; verified: PlatformSender[] }[]> {
    const batch = new BatchLookups(this.deps.router, this.deps.links);
    const errors = new Map<string, DeliveryError[]>(deliveries.map((delivery) => [delivery.id, []]));
    const verified = new Map<string, PlatformSender[]>(deliveries.map((delivery) => [delivery.id, []]));
    const run: { routed: RoutedMessage; deliveryId: string; path: string }[] = [];
    const storeRun = async () => {
      if (run.length === 0) return;
      const messages = run.splice(0);
      const failures = await this.deps.handler.messages(messages.map((pending) => pending.routed));
      failures.forEach((failure, index) => {
        if (!failure) return;
        const { deliveryId, path } = messages[index]!;
        this.deps.logger.error({ err: failure, deliveryId, path }, 'inbound message failed');
        errors.get(deliveryId)!.push(failedEvent(path));
      });
    };
    const parsed = deliveries.map((delivery) => {
      const integration: DeliveryIntegration = {
        id: delivery.platform_integration_id,
        organizationId: delivery.organization_id,
        platform: delivery.platform.toUpperCase() as Platform,
        platformAccountId: delivery.platform_account_id,
      };
      return { delivery, integration, ...parseDelivery(integration.platform, delivery.raw_body) };
    });
    await batch.routeSenders(
      parsed.flatMap(({ integration, events }) => events.map((event) => ({ integration, event }))),
    );
    for (const { delivery, integration, events, problems } of parsed) {
      errors.get(delivery.id)!.push(...problems.map((problem): DeliveryError => ({ kind: 'shape', ...problem })));
      for (const event of events) {
        try {
          if (event.kind === 'message') {
            const prepared = await this.prepareMessage(
              event,
              integration,
              delivery.id,
              verified.get(delivery.id)!,
              batch,
            );
            if ('error' in prepared) errors.get(delivery.id)!.push(prepared.error);
            else {
              const routed = { ...prepared.routed, requestId: requestIds.get(delivery.id) };
              run.push({ routed, deliveryId: delivery.id, path: event.path });
            }
            continue;
          }
          if (event.kind === 'platform-errors') {
            errors.get(delivery.id)!.push(...platformErrors(event));
            continue;
          }
          await storeRun();
          const error = await this.applyEvent(event, integration, delivery.id, verified.get(delivery.id)!, batch);
          if (error) errors.get(delivery.id)!.push(error);
        } catch (error) {
          this.deps.logger.error({ err: error, deliveryId: delivery.id, path: event.path }, 'inbound event failed');
          errors.get(delivery.id)!.push(failedEvent(event.path));
        }
      }
    }
    await storeRun();
    await batch.recordInbound();
    return deliveries.map((delivery) => {
      const found = errors.get(delivery.id)!;
      return {
        delivery,
        outcome: { status: found.some(failsDelivery) ? 'FAILED' : 'PROCESSED', errors: found },
        verified: verified.get(delivery.id)!,
      };
    });
  }

  /** Routes a customer's message; the message itself is stored with the rest of its run. */
  private async prepareMessage(
    event: InboundMessage,
    urlIntegration: DeliveryIntegration,
    deliveryId: string,
    verified: PlatformSender[],
    batch: BatchLookups,
  ): Promise<{ routed: RoutedMessage } | { error: DeliveryError }> {
    const integration = await batch.integrationFor(urlIntegration, event.businessAccountId);
    if (!integration) return { error: foreignAccount(event) };
    const route = await batch.routeCustomer(integration, event.customer, event.content);
    if (!route.routed) return { error: unroutable(event, route.reason) };
    if (route.verifiedNow) verified.push(event.customer);
    batch.noteInbound(route.linkId, event.timestamp, event.customer.scopedUserId);
    const replyToMessageId = event.replyToExternalId
      ? await this.deps.router.messageIdFor(integration, event.replyToExternalId)
      : null;
    return { routed: { integration, deliveryId, ...routeOf(route), event, replyToMessageId } };
  }

  /** Any event but a customer's message (those go through prepareMessage and a run). */
  private async applyEvent(
    event: Exclude<InboundEvent, InboundMessage | InboundPlatformErrors>,
    urlIntegration: DeliveryIntegration,
    deliveryId: string,
    verified: PlatformSender[],
    batch: BatchLookups,
  ): Promise<DeliveryError | null> {
    const { router, handler } = this.deps;
    const integration = await batch.integrationFor(urlIntegration, event.businessAccountId);
    if (!integration) return foreignAccount(event);
    const base = { integration, deliveryId };

    if (event.kind === 'status') {
      // Statuses of messages this server did not send (or no longer knows) are not ours to track.
      const send = await router.sendOf(integration, event.externalMessageId);
      if (send) await handler.status({ ...base, event, ...send });
      return null;
    }
    if (event.kind === 'template-status') {
      await handler.templateStatus({ ...base, event });
      return null;
    }
    if (event.kind === 'echo') {
      if (await router.isOwnSend(integration, event.externalMessageId)) return null;
      const route = await batch.routeCustomer(integration, event.customer, null);
      // The business wrote to someone who is not a client here: not a conversation of this server.
      if (!route.routed) return null;
      await handler.echo({ ...base, ...routeOf(route), event });
      return null;
    }

    const route = await batch.routeCustomer(integration, event.customer, null);
    if (!route.routed) return unroutable(event, route.reason);
    if (route.verifiedNow) verified.push(event.customer);
    const routed = { ...base, ...routeOf(route) };
    switch (event.kind) {
      case 'reaction': {
        batch.noteInbound(route.linkId, event.timestamp, event.customer.scopedUserId);
        const targetMessageId = await router.messageIdFor(integration, event.targetExternalId);
        if (!targetMessageId) return unknownTarget(event.path, event.targetExternalId);
        await handler.reaction({ ...routed, event, targetMessageId });
        return null;
      }
      case 'deletion': {
        const targetMessageId = await router.messageIdFor(integration, event.targetExternalId);
        if (!targetMessageId) return unknownTarget(event.path, event.targetExternalId);
        await handler.deletion({ ...routed, event, targetMessageId });
        return null;
      }
      case 'edit':
        // Applied even before the original is known: the edit then stores it as edited (see InboundMessaging).
        batch.noteInbound(route.linkId, event.timestamp, event.customer.scopedUserId);
        await handler.edit({ ...routed, event });
        return null;
      case 'number-change':
        await handler.numberChange({ ...routed, event });
        return null;
      case 'seen': {
        // Read receipts of messages sent outside this server are not ours to track.
        const targetMessageId = await router.messageIdFor(integration, event.targetExternalId);
        if (targetMessageId) await handler.seen({ ...routed, event, targetMessageId });
        return null;
      }
    }
  }
}

function routeOf(route: { linkId: string; clientUserId: string; channelId: string }) {
  return { linkId: route.linkId, clientUserId: route.clientUserId, channelId: route.channelId };
}
