/**
 * The one Redis fixture every Herald test uses.
 *
 * `startRedis` runs a real Redis: in a Testcontainers `redis:7` container when a Docker engine is
 * reachable, otherwise as a `redis-server` child process from PATH on a free 127.0.0.1 port. Both
 * give the same `RedisHandle`. `HERALD_TEST_REDIS=local` forces the local path (also on machines
 * with Docker, which Sentinel and Cluster need); `HERALD_TEST_REDIS=docker` requires Docker.
 *
 * Guarantees:
 * - no persistence (`--save "" --appendonly no`), so a restarted server is empty;
 * - `restart()` keeps the port, so clients configured with the old URL reconnect to it;
 * - readiness means the server we started answered PING (checked against its pid, so a server
 *   that grabbed the port in between is never mistaken for ours);
 * - every local process is SIGKILLed when the test process exits, even if a test forgets to stop it
 *   (containers are removed by the Testcontainers reaper).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import { ContainerRedis, dockerReachable } from './redis-docker.js';
import type { RedisHandle, StartRedisOptions } from './redis-handle.js';
import { startLocalRedis } from './redis-local.js';

export type { RedisHandle, StartRedisOptions } from './redis-handle.js';

/** A key prefix unique to one test, so tests sharing a server never see each other's keys. */
export function uniquePrefix(): string {
  return `t-${randomBytes(6).toString('hex')}`;
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  if (await dockerReachable()) return ContainerRedis.start(opts);
  return startLocalRedis(opts);
}

/**
 * One Redis server for a test file: started before its tests, stopped after them. Call it at the top
 * of the file or of a describe block; `redis` is defined inside tests and hooks.
 */
export function redisPerFile(opts: StartRedisOptions = {}): { readonly redis: RedisHandle } {
  let redis: RedisHandle | undefined;
  beforeAll(async () => {
    redis = await startRedis(opts);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get redis(): RedisHandle {
      if (!redis) throw new Error('redisPerFile: the server is started in beforeAll; read `redis` inside a test or hook');
      return redis;
    },
  };
}
