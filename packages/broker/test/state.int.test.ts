import { afterAll, beforeAll } from 'vitest';
import { createMemoryState, createRedisState } from '../src/index.js';
import { brokerContract } from './broker-contract.js';
import { startRedis, uniquePrefix, type RedisHandle } from './support/redis.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

brokerContract('MemoryState', async () => createMemoryState());

let redis: RedisHandle;
beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.stop();
});

brokerContract('RedisState', () => createRedisState({ url: redis.url, prefix: uniquePrefix(), nodeId: `n-${Math.random()}`, log: quiet }));
