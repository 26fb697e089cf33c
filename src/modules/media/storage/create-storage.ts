import type { MediaConfig } from '../../../config.js';
import type { Logger } from '../../../logger.js';
import { LocalStorage } from './local-storage.js';
import type { MediaStorage } from './media-storage.js';
import { S3Storage } from './s3-storage.js';

/** The store STORAGE_DRIVER names. */
export function createStorage(storage: MediaConfig['storage'], logger: Logger): MediaStorage & { close?(): void } {
  return storage.driver === 's3' ? new S3Storage(storage, logger) : new LocalStorage(storage.dir);
}
