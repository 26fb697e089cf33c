import type { AppConfig } from './config.js';
import type { Database } from './db/database.js';
import type { RateLimiter } from './limits/rate-limiter.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics/metrics.js';
import type { MediaStorage } from './modules/media/storage/media-storage.js';
import type { PresenceStore } from './modules/presence/presence-store.js';
import type { EventBus } from './realtime/event-bus.js';

/**
 * What every instance runs on: configuration, the database, the event bus between instances, the rate limiter's
 * counters, media storage, logs and metrics. Services are built from the parts of it they use; buildApp and the CLI make it
 * (backing-services.ts).
 */
export interface Infrastructure {
  config: AppConfig;
  db: Database;
  bus: EventBus;
  limiter: RateLimiter;
  /** Who is connected to which instance (Redis across instances). */
  presenceStore: PresenceStore;
  /** Where attachments' bytes are kept (STORAGE_DRIVER). */
  storage: MediaStorage;
  logger: Logger;
  /** Where a service registers its own metrics (see metrics.ts), served at /metrics. */
  metrics: Metrics;
}
