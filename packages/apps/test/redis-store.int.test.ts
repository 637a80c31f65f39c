import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { RedisConfig } from '@herald/config';
import { createLocalStore, createRedisStore } from '@herald/apps';
import { redisPerFile, startRedisCluster, uniquePrefix, type RedisClusterSet } from '@herald/test-support';
import { describeAppStoreConformance } from './conformance.js';

/**
 * The Redis store on one server and on a Redis Cluster (where its keys share one hash tag and its
 * notifications go by sharded pub/sub), and embedded mode's local file, each held to the behaviour
 * every store shares. `other` is a second connection set, as another node would have.
 */
const single = redisPerFile();
describeAppStoreConformance('redis (one server)', async () => {
  const prefix = uniquePrefix();
  const redis: RedisConfig['topology'] = { kind: 'single', url: single.redis.url };
  const store = await createRedisStore({ redis: { topology: redis }, prefix });
  const other = await createRedisStore({ redis: { topology: redis }, prefix });
  return { store, other, cleanup: async () => void (await Promise.all([store.close(), other.close()])) };
});

let cluster: RedisClusterSet | undefined;
beforeAll(async () => {
  cluster = await startRedisCluster();
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});
describeAppStoreConformance('redis (Cluster)', async () => {
  const prefix = uniquePrefix();
  const topology: RedisConfig['topology'] = { kind: 'cluster', nodes: cluster!.nodes };
  const store = await createRedisStore({ redis: { topology }, prefix });
  const other = await createRedisStore({ redis: { topology }, prefix });
  return { store, other, cleanup: async () => void (await Promise.all([store.close(), other.close()])) };
});

describeAppStoreConformance('local file', () => {
  // One process owns the file: the "other node" is the same store, as embedded mode has only one.
  const store = createLocalStore(join(mkdtempSync(join(tmpdir(), 'herald-local-store-')), 'apps.json'));
  return Promise.resolve({ store, other: store, cleanup: () => store.close() });
});
