import type { Infrastructure } from './infrastructure.js';
import { clientAddress } from './http/client-address.js';
import { WorkerLoop } from './lib/worker-loop.js';
import { RateLimits } from './limits/rate-limits.js';
import { AccountLinkService } from './modules/accounts/account-links.service.js';
import { AccountService } from './modules/accounts/accounts.service.js';
import { pruneExpiredCredentials } from './modules/accounts/credential-pruning.js';
import { Mailer } from './modules/accounts/mailer.js';
import { SingleSignOn } from './modules/accounts/single-sign-on.js';
import { PasswordHasher } from './modules/accounts/password-hasher.js';
import { SessionService } from './modules/accounts/sessions.service.js';
import { MediaDownloader } from './modules/media/media-downloader.js';
import { MediaLinks } from './modules/media/media-links.js';
import { UploadService } from './modules/media/uploads.service.js';
import { SecretBox } from './lib/secrets.js';
import { ChannelService } from './modules/channels/channels.service.js';
import { ClientAssignmentService } from './modules/client-links/assignments.service.js';
import { ClientLinkService } from './modules/client-links/links.service.js';
import { ConversationService } from './modules/conversations/conversations.service.js';
import { pruneLog } from './modules/events/event-log.js';
import { EventService } from './modules/events/events.service.js';
import { OrganizationStream } from './modules/events/organization-stream.js';
import { organizationEventSource } from './modules/events/organization-event-source.js';
import { IntegrationService } from './modules/integrations/integrations.service.js';
import { MentionResolver } from './modules/messages/mentions.js';
import { MessageWriter } from './modules/messages/message-writer.js';
import { MessageEvents } from './modules/messages/message-events.js';
import { MessageService } from './modules/messages/messages.service.js';
import { SequenceCursors } from './modules/messages/sequence-cursor.js';
import { SendMessage } from './modules/messages/send-message.js';
import { OrganizationService } from './modules/organizations/organizations.service.js';
import { GraphApiClient } from './modules/outbox/graph-api.js';
import { CustomerServiceWindow } from './modules/outbox/customer-window.js';
import { OutboxService } from './modules/outbox/outbox.service.js';
import { OutboxWorker } from './modules/outbox/outbox-worker.js';
import { SendPacing } from './modules/outbox/send-pacing.js';
import { PresenceService } from './modules/presence/presence.service.js';
import { ReactionService } from './modules/reactions/reactions.service.js';
import { TemplateService } from './modules/templates/templates.service.js';
import { ReadStateService } from './modules/read-state/read-state.service.js';
import { SearchService } from './modules/search/search.service.js';
import { StatusEvents } from './modules/read-state/status-events.js';
import { TypingService } from './modules/typing/typing.service.js';
import { UserDirectory } from './modules/users/user-directory.js';
import { UserService } from './modules/users/users.service.js';
import { WebhookDeliveryService } from './modules/webhooks/deliveries.service.js';
import { InboundMessaging } from './modules/webhooks/inbound-messaging.js';
import { InboundRouter } from './modules/webhooks/inbound-router.js';
import { WebhookProcessor } from './modules/webhooks/webhook-processor.js';
import {
  INTEGRATION_CHANGES_TOPIC,
  type IntegrationChangedEvent,
  USER_CHANGES_TOPIC,
  type UserChangedEvent,
} from './realtime/topics.js';

/** Event-log rows pruned per statement: a long backlog is removed a batch at a time. */
const PRUNE_BATCH = 5_000;

/**
 * The composition root: every service, built from exactly what it uses. The GraphQL layer, the webhook route
 * and the CLI share one set; `start` and `stop` run the instance's background work (the webhook processor, the
 * outbox sender, the bus listeners that keep per-instance caches current) for buildApp.
 */
export function createServices({ config, db, bus, limiter, presenceStore, logger, metrics, storage }: Infrastructure) {
  const directory = new UserDirectory(db.prisma, logger);
  const rateLimits = new RateLimits({
    limiter,
    metrics,
    logger,
    clientAddressOf: (request) => clientAddress(request, config.trustedProxyHops),
  });
  const sessions = new SessionService({
    db,
    bus,
    users: directory,
    jwt: config.jwt,
    accessTokenTtlSeconds: config.accounts.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: config.accounts.refreshTokenTtlSeconds,
  });
  const accounts = new AccountService({ db, sessions, hasher: new PasswordHasher(), rateLimits, config, logger });
  const mailer = config.smtp ? new Mailer(config.smtp) : undefined;
  const accountLinks = new AccountLinkService({ db, sessions, accounts, rateLimits, mailer, logger, config });
  const singleSignOn = config.oidc
    ? new SingleSignOn({
        db,
        sessions,
        box: new SecretBox(config.encryptionKey, config.encryptionPreviousKeys),
        oidc: config.oidc,
      })
    : undefined;
  const stream = new OrganizationStream({
    bus,
    logger,
    sourceOf: (organizationId) => organizationEventSource(db.pool, organizationId),
  });
  const statuses = new StatusEvents(stream);
  const cursors = new SequenceCursors({ current: config.encryptionKey, previous: config.encryptionPreviousKeys });
  const integrations = new IntegrationService(
    { db, bus, config },
    new SecretBox(config.encryptionKey, config.encryptionPreviousKeys),
  );
  const graph = new GraphApiClient(config.meta);
  const sendPacing = new SendPacing({ limiter, logger }, config.outbox.sendRates);
  const mediaLinks = new MediaLinks(config.encryptionKey, config.publicUrl, config.media.urlTtlSeconds);
  const outboxWorker = new OutboxWorker(
    { db, logger, metrics },
    {
      graph,
      integrations,
      maxAttempts: config.outbox.maxAttempts,
      pacing: sendPacing,
      retryBaseMs: config.outbox.retryBaseMs,
      pollIntervalMs: config.outbox.pollIntervalMs,
      // Longer than any Graph API call may take, so a live worker never loses a row it is sending.
      leaseMs: config.meta.timeoutMs * 2 + 10_000,
      statuses,
      stream,
      mediaLinkOf: (uploadId) => mediaLinks.downloadUrl(uploadId),
    },
  );
  const outbox = new OutboxService(outboxWorker);
  const writer = new MessageWriter(db.pool, logger, outbox, new MentionResolver(db.pool));
  const messageEvents = new MessageEvents(stream);
  const customerWindow = new CustomerServiceWindow({ db });

  const uploads = new UploadService({ db, storage, links: mediaLinks, config: config.media, logger });
  const uploadSweep = new WorkerLoop({
    name: 'upload-sweep',
    runOnce: () => uploads.sweep(),
    pollIntervalMs: 600_000,
    logger,
  });

  const channels = new ChannelService({ db, stream });
  const conversations = new ConversationService({ db, stream, channels });
  const messages = new MessageService({ db, writer, events: messageEvents, users: directory, cursors, uploads });
  const sendMessage = new SendMessage({
    channels,
    messages,
    customerWindow,
    writer,
    events: messageEvents,
    conversations,
    uploads,
  });
  const reactions = new ReactionService({ db, stream }, messages);
  const templates = new TemplateService({ db, graph, integrations, channels, sendMessage });
  const readState = new ReadStateService({ db, statuses }, channels);
  const clientLinks = new ClientLinkService({ db });
  const mediaDownloader = new MediaDownloader({
    db,
    storage,
    accessTokenOf: (integration) => integrations.accessTokenOf(integration),
    announce: (organizationId, messageId) => messages.touch(organizationId, messageId),
    graphApiUrl: config.meta.graphApiUrl,
    timeoutMs: config.meta.timeoutMs,
    media: config.media,
    logger,
  });
  const webhookProcessor = new WebhookProcessor(
    { db, logger },
    {
      router: new InboundRouter({ db }, clientLinks),
      links: clientLinks,
      handler: new InboundMessaging(
        {
          db,
          media: {
            expectPlatformMedia: (stored) => uploads.expectPlatformMedia(stored),
            wake: () => mediaDownloader.wake(),
          },
        },
        messages,
        reactions,
        readState,
        conversations,
        templates,
        clientLinks,
      ),
      sweepIntervalMs: config.webhookSweepIntervalMs,
    },
  );

  const presence = new PresenceService({
    store: presenceStore,
    stream,
    db,
    logger,
    heartbeatMs: Math.max(250, Math.floor(config.presence.timeoutMs / 3)),
    awayAfterMs: config.presence.awayAfterMs,
  });
  const typing = new TypingService({ channels, stream });
  const eventLogRetention = new WorkerLoop({
    name: 'event-log-retention',
    runOnce: async () =>
      (await pruneLog(db.pool, new Date(Date.now() - config.eventRetentionDays * 86_400_000), PRUNE_BATCH)) ===
      PRUNE_BATCH,
    pollIntervalMs: 3_600_000,
    logger,
  });

  const credentialPruning = new WorkerLoop({
    name: 'credential-pruning',
    runOnce: () => pruneExpiredCredentials(db.pool, PRUNE_BATCH),
    pollIntervalMs: 3_600_000,
    logger,
  });

  const stopListening: (() => void)[] = [];
  return {
    organizations: new OrganizationService({ db }),
    users: new UserService({ db, bus, users: directory, stream }),
    /** Rate limits shared by GraphQL, the plain routes (`guardRoute`) and sign-in, in Redis when configured. */
    rateLimits,
    sessions,
    accounts,
    /** Invitations and password resets. */
    accountLinks,
    /** OpenID Connect sign-in (OIDC_*); undefined when not configured. */
    singleSignOn,
    channels,
    conversations,
    templates,
    messages,
    sendMessage,
    reactions,
    readState,
    search: new SearchService({ db, cursors, timeoutMs: config.searchTimeoutMs }),
    events: new EventService({ db, stream, logger, metrics, users: directory, cursors }),
    typing,
    presence,
    /** Issues and checks the cursors of history pages and events. */
    cursors,
    integrations,
    clientAssignments: new ClientAssignmentService({ db, stream }),
    clientLinks,
    webhookProcessor,
    webhookDeliveries: new WebhookDeliveryService({ db }, webhookProcessor),
    outbox,
    customerWindow,
    uploads,
    mediaDownloader,
    /** Signs and checks the links of the media routes. */
    mediaLinks,
    /** Users by id, cached per instance (authentication reads it on every request). */
    directory,
    /** The organizations' realtime streams and the sequenced message writer, for tests that look inside. */
    stream,
    writer,
    outboxWorker,
    /** Meta's throughput per WhatsApp phone number, shared with workers a test builds. */
    sendPacing,
    statuses,

    /** Starts the instance's background work; the bus must be connecting already. */
    start(): void {
      stopListening.push(
        bus.subscribe(USER_CHANGES_TOPIC, (event) => void directory.changed((event as UserChangedEvent).userId)),
        bus.subscribe(INTEGRATION_CHANGES_TOPIC, (event) =>
          integrations.forget((event as IntegrationChangedEvent).integrationId),
        ),
      );
      webhookProcessor.start();
      if (config.outbox.workerEnabled) outboxWorker.start();
      presence.start();
      eventLogRetention.start();
      credentialPruning.start();
      uploadSweep.start();
      if (config.media.downloads.workerEnabled) mediaDownloader.start();
    },

    /** Lets background work finish what it started (the database is still there), then lets go of the bus. */
    async stop(): Promise<void> {
      await Promise.all([
        webhookProcessor.stop(),
        outboxWorker.stop(),
        presence.stop(),
        eventLogRetention.stop(),
        credentialPruning.stop(),
        uploadSweep.stop(),
      ]);
      typing.close();
      stopListening.splice(0).forEach((stop) => stop());
      channels.close();
      stream.close();
      mailer?.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
