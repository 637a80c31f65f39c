import { afterAll, beforeAll } from 'vitest';
import { createMemoryState, createRedisState } from '../src/index.js';
import { brokerContract } from './broker-contract.js';
import { type RedisHandle, startRedis, uniquePrefix } from '@herald/test-support';

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
