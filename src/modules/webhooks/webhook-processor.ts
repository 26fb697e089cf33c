import type { PoolClient } from 'pg';
import type { Platform } from '../../generated/prisma/enums.js';
import { withTransaction } from '../../db/transaction.js';
import type { Database } from '../../db/database.js';
import type { Logger } from '../../logger.js';
import type { ClientLinkService, PlatformSender } from '../client-links/links.service.js';
import type { InboundEvent, InboundMessage } from './inbound-events.js';
import type { InboundEventHandler, RoutedIntegration, RoutedMessage } from './inbound-handler.js';
import type { CustomerRoute, DeliveryIntegration, InboundRouter } from './inbound-router.js';
import { parseDelivery } from './parsing/parse-delivery.js';

/** Why part of a delivery did not take effect; stored in webhook_deliveries.errors for admins. */
export interface DeliveryError {
  path: string;
  kind: 'shape' | 'unroutable' | 'unknown-target' | 'failed';
  reason: string;
  /** Who sent it, for unroutable events: when they are linked later, their deliveries are replayed. */
  customer?: PlatformSender;
}

export interface DeliveryOutcome {
  status: 'PROCESSED' | 'FAILED';
  errors: DeliveryError[];
}

export interface WebhookProcessorOptions {
  router: InboundRouter;
  links: ClientLinkService;
  /** Applies routed events (the messaging module's InboundMessaging). */
  handler: InboundEventHandler;
  /** At most this many deliveries are processed together (default 200). */
  batchSize?: number;
  /** How often deliveries left RECEIVED (by a crash, or a stop with work queued) are picked up. */
  sweepIntervalMs: number;
  /** A RECEIVED delivery younger than this is assumed to be in some instance's queue still. */
  staleAfterMs?: number;
}

interface Job {
  deliveryId: string;
  integrationId: string;
  replay: boolean;
  /** The webhook request that brought the delivery, named in the log lines of the messages it creates. */
  requestId: string | undefined;
  settle: (outcome: DeliveryOutcome | null) => void;
  fail: (error: unknown) => void;
  done: Promise<DeliveryOutcome | null>;
}

interface DeliveryRow {
  id: string;
  organization_id: string;
  platform_integration_id: string;
  platform: 'whatsapp' | 'instagram';
  platform_account_id: string | null;
  raw_body: string;
}

// Unroutable deliveries older than this are not replayed automatically when their sender links.
const AUTO_REPLAY_WINDOW_DAYS = 7;
const AUTO_REPLAY_LIMIT = 100;

/** What WebhookProcessor is built from. */
export interface WebhookProcessorDeps {
  db: Database;
  logger: Logger;
}

/**
 * Turns stored deliveries into effects, after Meta has had its 200: parse, route every event, hand routed
 * events to the InboundEventHandler, and mark each delivery PROCESSED, or FAILED with the reasons.
 *
 * Deliveries are processed in batches, in arrival order: whatever queued while the previous batch ran is
 * claimed together under its rows' locks (SELECT ... FOR UPDATE SKIP LOCKED, so instances never process the
 * same delivery at once), routed with lookups shared across the batch, and consecutive messages are stored in
 * one write. Under load batches grow, so the cost per message falls as traffic rises. Processing can be
 * re-run (replay): every step is idempotent.
 */
export class WebhookProcessor {
  private readonly queue: Job[] = [];
  private running: Promise<void> | undefined;
  private readonly batchSize: number;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(
    private readonly deps: WebhookProcessorDeps,
    private readonly options: WebhookProcessorOptions,
  ) {
    this.batchSize = options.batchSize ?? 200;
  }

  /** Picks up what an earlier run left RECEIVED, now and periodically. */
  start(): void {
    this.stopping = false;
    const sweep = () =>
      this.sweep().catch((error: unknown) => this.deps.logger.error({ err: error }, 'webhook sweep failed'));
    void sweep();
    this.sweepTimer = setInterval(sweep, this.options.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  /** Stops taking work and waits for the deliveries being processed; queued ones stay RECEIVED for the sweep. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.sweepTimer);
    for (const job of this.queue.splice(0)) job.settle(null);
    await this.running;
  }

  /**
   * Queues a delivery. A new one is processed only while still RECEIVED and not locked by another instance;
   * a replay re-runs it whatever its status (waiting for another instance's run to finish). Resolves with
   * the outcome, or null when there was nothing to do here.
   */
  enqueue(
    deliveryId: string,
    integrationId: string,
    options: { replay?: boolean; requestId?: string } = {},
  ): Promise<DeliveryOutcome | null> {
    const replay = options.replay ?? false;
    const queued = this.queue.find((job) => job.deliveryId === deliveryId && job.replay === replay);
    if (queued) return queued.done;
    if (this.stopping) return Promise.resolve(null);
    let settle!: Job['settle'];
    let fail!: Job['fail'];
    const done = new Promise<DeliveryOutcome | null>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    this.queue.push({ deliveryId, integrationId, replay, requestId: options.requestId, settle, fail, done });
    this.pump();
    return done;
  }

  /** Queues RECEIVED deliveries old enough that no instance is about to process them. */
  async sweep(): Promise<number> {
    const { rows } = await this.deps.db.pool.query<{ id: string; platform_integration_id: string }>(
      `SELECT id, platform_integration_id FROM webhook_deliveries
       WHERE status = 'received' AND received_at < now() - $1::int * interval '1 millisecond'
       ORDER BY received_at LIMIT 500`,
      [this.options.staleAfterMs ?? 10_000],
    );
    for (const row of rows) void this.enqueue(row.id, row.platform_integration_id).catch(() => undefined);
    if (rows.length > 0)
      this.deps.logger.info({ deliveries: rows.length }, 'recovering webhook deliveries left unprocessed');
    return rows.length;
  }

  private pump(): void {
    if (this.running || this.stopping || this.queue.length === 0) return;
    const batch = this.takeBatch();
    this.running = this.processBatch(batch)
      .then(
        (outcomes) => batch.forEach((job) => job.settle(outcomes.get(job.deliveryId) ?? null)),
        (error: unknown) => {
          this.deps.logger.error({ err: error, deliveries: batch.length }, 'webhook delivery processing failed');
          batch.forEach((job) => job.fail(error));
        },
      )
      .finally(() => {
        this.running = undefined;
        this.pump();
      });
  }

  /** New deliveries go together; a replay goes alone, since it may wait for another instance's run. */
  private takeBatch(): Job[] {
    if (this.queue[0]!.replay) return this.queue.splice(0, 1);
    const batch: Job[] = [];
    for (let index = 0; index < this.queue.length && batch.length < this.batchSize;) {
      if (this.queue[index]!.replay) index += 1;
      else batch.push(...this.queue.splice(index, 1));
    }
    return batch;
  }

  private async processBatch(jobs: Job[]): Promise<Map<string, DeliveryOutcome>> {
    const replay = jobs[0]!.replay;
    const processed = await withTransaction(this.deps.db.pool, async (client) => {
      const deliveries = await claim(
        client,
        jobs.map((job) => job.deliveryId),
        replay,
      );
      if (deliveries.length === 0) return [];
      const results = await this.apply(deliveries, new Map(jobs.map((job) => [job.deliveryId, job.requestId])));
      await client.query(
        `UPDATE webhook_deliveries d
         SET status = r.status::webhook_delivery_status, errors = r.errors, attempts = d.attempts + 1, processed_at = now()
         FROM unnest($1::uuid[], $2::text[], $3::jsonb[]) AS r(id, status, errors)
         WHERE d.id = r.id`,
        [
          results.map(({ delivery }) => delivery.id),
          results.map(({ outcome }) => outcome.status.toLowerCase()),
          results.map(({ outcome }) => (outcome.errors.length > 0 ? JSON.stringify(outcome.errors) : null)),
        ],
      );
      return results;
    });
    const outcomes = new Map<string, DeliveryOutcome>();
    for (const { delivery, outcome, verified } of processed) {
      outcomes.set(delivery.id, outcome);
      this.deps.logger.info(
        { deliveryId: delivery.id, status: outcome.status, errors: outcome.errors.length, replay },
        'webhook delivery processed',
      );
      if (verified.length > 0) await this.replayUnroutable(delivery, verified);
    }
    return outcomes;
  }

  /**
   * Applies the batch's events in order. Consecutive messages wait in a run that is stored in one write just
   * before any other kind of event (which may refer to them) and at the end.
   */
  private async apply(
    deliveries: DeliveryRow[],
    requestIds: Map<string, string | undefined>,
  ): Promise<{ delivery: DeliveryRow; outcome: DeliveryOutcome; verified: PlatformSender[] }[]> {
    const batch = new BatchLookups(this.options.router, this.options.links);
    const errors = new Map<string, DeliveryError[]>(deliveries.map((delivery) => [delivery.id, []]));
    const verified = new Map<string, PlatformSender[]>(deliveries.map((delivery) => [delivery.id, []]));
    const run: { routed: RoutedMessage; deliveryId: string; path: string }[] = [];
    const storeRun = async () => {
      if (run.length === 0) return;
      const messages = run.splice(0);
      const failures = await this.options.handler.messages(messages.map((pending) => pending.routed));
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
        outcome: { status: found.length > 0 ? 'FAILED' : 'PROCESSED', errors: found },
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
      ? await this.options.router.messageIdFor(integration, event.replyToExternalId)
      : null;
    return { routed: { integration, deliveryId, ...routeOf(route), event, replyToMessageId } };
  }

  /** Any event but a customer's message (those go through prepareMessage and a run). */
  private async applyEvent(
    event: Exclude<InboundEvent, InboundMessage>,
    urlIntegration: DeliveryIntegration,
    deliveryId: string,
    verified: PlatformSender[],
    batch: BatchLookups,
  ): Promise<DeliveryError | null> {
    const { router, handler } = this.options;
    const integration = await batch.integrationFor(urlIntegration, event.businessAccountId);
    if (!integration) return foreignAccount(event);
    const base = { integration, deliveryId };

    if (event.kind === 'status') {
      // Statuses of messages this server did not send (or no longer knows) are not ours to track.
      const send = await router.sendOf(integration, event.externalMessageId);
      if (send) await handler.status({ ...base, event, ...send });
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
      case 'seen': {
        // Read receipts of messages sent outside this server are not ours to track.
        const targetMessageId = await router.messageIdFor(integration, event.targetExternalId);
        if (targetMessageId) await handler.seen({ ...routed, event, targetMessageId });
        return null;
      }
    }
  }

  /** A sender just linked: re-run their recent deliveries that failed only because they were unknown. */
  private async replayUnroutable(delivery: DeliveryRow, customers: PlatformSender[]): Promise<void> {
    const patterns = customers.flatMap((customer) =>
      (['platformUserId', 'scopedUserId'] as const)
        .filter((key) => customer[key])
        .map((key) => JSON.stringify([{ kind: 'unroutable', customer: { [key]: customer[key] } }])),
    );
    const { rows } = await this.deps.db.pool.query<{ id: string; platform_integration_id: string }>(
      `SELECT id, platform_integration_id FROM webhook_deliveries
       WHERE organization_id = $1 AND status = 'failed' AND id <> $2
         AND received_at > now() - $3::int * interval '1 day'
         AND errors @> ANY ($4::jsonb[])
       ORDER BY received_at LIMIT $5`,
      [delivery.organization_id, delivery.id, AUTO_REPLAY_WINDOW_DAYS, patterns, AUTO_REPLAY_LIMIT],
    );
    for (const row of rows) {
      void this.enqueue(row.id, row.platform_integration_id, { replay: true }).catch(() => undefined);
    }
  }
}

function routeOf(route: { linkId: string; clientUserId: string; channelId: string }) {
  return { linkId: route.linkId, clientUserId: route.clientUserId, channelId: route.channelId };
}

function unknownTarget(path: string, externalId: string): DeliveryError {
  return { kind: 'unknown-target', path, reason: `no known message has id ${externalId}` };
}

function foreignAccount(event: InboundEvent): DeliveryError {
  return {
    kind: 'unroutable',
    path: event.path,
    reason: `phone_number_id ${event.businessAccountId} belongs to no active integration of this organization`,
  };
}

function unroutable(event: InboundEvent & { customer: PlatformSender }, reason: string): DeliveryError {
  const { platformUserId, scopedUserId } = event.customer;
  return { kind: 'unroutable', path: event.path, reason, customer: { platformUserId, scopedUserId } };
}

function failedEvent(path: string): DeliveryError {
  return { kind: 'failed', path, reason: 'could not be applied (see the server log); replay to retry' };
}

/** Sender lookups of a batch run this many at a time, leaving the rest of the pool to everyone else. */
const PREFETCH_LANES = 4;

const senderKey = (customer: PlatformSender) => `${customer.platformUserId ?? ''}\u0000${customer.scopedUserId ?? ''}`;

/**
 * Lookups shared by the events of one batch: many deliveries come from the same few senders. Only what stays
 * true for the batch is kept (a sender that is not routed yet may verify with a later message), and each
 * link's latest inbound time is written once, at the end.
 */
class BatchLookups {
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

/**
 * Locks the deliveries for this run, in arrival order: new ones only while RECEIVED and free (another
 * instance's are skipped), a replay waiting for its turn.
 */
async function claim(client: PoolClient, ids: string[], replay: boolean): Promise<DeliveryRow[]> {
  if (replay) await client.query(`SET LOCAL lock_timeout = '10s'`);
  const { rows } = await client.query<DeliveryRow>(
    `SELECT d.id, d.organization_id, d.platform_integration_id, d.platform::text AS platform, d.raw_body,
            i.platform_account_id
     FROM webhook_deliveries d JOIN platform_integrations i ON i.id = d.platform_integration_id
     WHERE d.id = ANY($1::uuid[]) ${replay ? '' : `AND d.status = 'received'`}
     ORDER BY d.received_at, d.id
     FOR UPDATE OF d ${replay ? '' : 'SKIP LOCKED'}`,
    [ids],
  );
  return rows;
}
