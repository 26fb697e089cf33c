import { afterAll, beforeAll } from '@jest/globals';
import { dedicatedRedis, type DedicatedRedis } from '../support/dedicated-services.js';
import { describeRedisOutage } from '../support/redis-outage-tests.js';

let redis: DedicatedRedis;

beforeAll(async () => {
  redis = await dedicatedRedis();
});
afterAll(async () => {
  await redis.kill();
});

describeRedisOutage('Redis stops while clients send messages', {
  env: () => ({ REDIS_URL: redis.url }),
  stop: () => redis.kill(),
  restart: () => redis.start(),
});
