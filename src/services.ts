import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import { SecretBox } from './lib/secrets.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics/metrics.js';
import { ChannelService } from './modules/channels/channels.service.js';
import { ClientAssignmentService } from './modules/client-links/assignments.service.js';
import { ClientLinkService } from './modules/client-links/links.service.js';
import { EventService } from './modules/events/events.service.js';
import { IntegrationService } from './modules/integrations/integrations.service.js';
import { MessageWriter } from './modules/messages/message-writer.js';
import { MessageService } from './modules/messages/messages.service.js';
import { OrganizationService } from './modules/organizations/organizations.service.js';
import { GraphApiClient } from './modules/outbox/graph-api.js';
import { connectMessagingToPlatforms } from './modules/outbox/messaging-connection.js';
import { OutboxService } from './modules/outbox/outbox.service.js';
import { OutboxWorker } from './modules/outbox/outbox-worker.js';
import { ReactionService } from './modules/reactions/reactions.service.js';
import { ReadStateService } from './modules/read-state/read-state.service.js';
import { UserDirectory } from './modules/users/user-directory.js';
import { UserService } from './modules/users/users.service.js';
import { WebhookDeliveryService } from './modules/webhooks/deliveries.service.js';
import { InboundMessaging } from './modules/webhooks/inbound-messaging.js';
import { InboundRouter } from './modules/webhooks/inbound-router.js';
import { WebhookProcessor } from './modules/webhooks/webhook-processor.js';
import type { EventBus } from './realtime/event-bus.js';
import { OrganizationHubs } from './realtime/organization-hub.js';

export interface BaseDeps {
  config: AppConfig;
  db: Database;
  bus: EventBus;
  logger: Logger;
  /** Where a service registers its own metrics (see metrics.ts), served at /metrics. */
  metrics: Metrics;
}

/** What every service is built from; the GraphQL layer, the webhook route and the CLI share one set. */
export interface ServiceDeps extends BaseDeps {
  /** Users by id, cached per instance and evicted by user-change events. */
  users: UserDirectory;
  /** Per-organization realtime: publishing, and the ordered event stream subscribers listen to. */
  hubs: OrganizationHubs;
  /** The sequenced, batching message writer. */
  writer: MessageWriter;
}

export function createServices(base: BaseDeps) {
  const deps: ServiceDeps = {
    ...base,
    users: new UserDirectory(base.db.prisma, base.logger),
    hubs: new OrganizationHubs({ bus: base.bus, pool: base.db.pool, logger: base.logger }),
    writer: new MessageWriter(base.db.pool, base.logger),
  };
  const channels = new ChannelService(deps);
  const messages = new MessageService(deps, channels);
  const reactions = new ReactionService(deps, messages);
  const readState = new ReadStateService(deps, channels);
  const secrets = new SecretBox(deps.config.encryptionKey, deps.config.encryptionPreviousKeys);
  const integrations = new IntegrationService(deps, secrets);
  const clientLinks = new ClientLinkService(deps);
  const webhookProcessor = new WebhookProcessor(deps, {
    router: new InboundRouter(deps, clientLinks),
    links: clientLinks,
    handler: new InboundMessaging(deps, messages, reactions, readState),
    sweepIntervalMs: deps.config.webhookSweepIntervalMs,
  });
  const outboxWorker = new OutboxWorker(deps, {
    graph: new GraphApiClient(deps.config.meta),
    integrations,
    maxAttempts: deps.config.outbox.maxAttempts,
    retryBaseMs: deps.config.outbox.retryBaseMs,
    pollIntervalMs: deps.config.outbox.pollIntervalMs,
    // Longer than any Graph API call may take, so a live worker never loses a row it is sending.
    leaseMs: deps.config.meta.timeoutMs * 2 + 10_000,
    onStatusChange: (change) =>
      deps.hubs.publish(change.organizationId, {
        type: 'status',
        channelId: change.channelId,
        userId: change.clientUserId,
        status: change.status,
        messageIds: [change.messageId],
        at: change.timestamp.toISOString(),
      }),
  });
  const outbox = new OutboxService(deps, outboxWorker);
  connectMessagingToPlatforms(deps, messages, outbox);
  return {
    deps,
    organizations: new OrganizationService(deps),
    users: new UserService(deps),
    channels,
    messages,
    reactions,
    readState,
    events: new EventService(deps),
    integrations,
    clientAssignments: new ClientAssignmentService(deps),
    clientLinks,
    webhookProcessor,
    webhookDeliveries: new WebhookDeliveryService(deps, webhookProcessor),
    outboxWorker,
    outbox,
  };
}

export type Services = ReturnType<typeof createServices>;
