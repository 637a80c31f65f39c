import { afterAll, afterEach, beforeAll } from 'vitest';
import { startRedis, uniquePrefix, type RedisHandle } from '../../../packages/broker/test/support/redis.js';
import type { RawClient } from '../../../packages/gateway/test/support/harness.js';
import { startNode, type NodeHandle, type TestApp } from './node-process.js';

/**
 * A redis-server for the test file (started before its tests, stopped after them), and the node
 * processes and raw clients of each test: push them on `nodes` / `raws` (the arrays are emptied in
 * place, so they can be aliased), they are closed and SIGKILLed after the test. Call it inside a
 * describe block.
 */
export function redisAndNodes() {
  const f = {
    redis: undefined as unknown as RedisHandle,
    nodes: [] as NodeHandle[],
    raws: [] as RawClient[],
    /** `count` gateways of `app` on one fresh key prefix, with the given lease; tracked in `nodes`. */
    async gateways(app: TestApp, count: number, leaseMs = 2000, env: Record<string, string> = {}): Promise<NodeHandle[]> {
      const prefix = uniquePrefix();
      const started = await Promise.all(
        Array.from({ length: count }, (_, i) =>
          startNode({ app, redisUrl: f.redis.url, prefix, nodeId: `g${i}-${prefix}`, env: { PUSH_NODE_LEASE_MS: String(leaseMs), ...env } }),
        ),
      );
      f.nodes.push(...started);
      return started;
    },
  };
  beforeAll(async () => {
    f.redis = await startRedis();
  });
  afterAll(async () => {
    await f.redis?.stop();
  });
  afterEach(async () => {
    for (const r of f.raws.splice(0)) await r[Symbol.asyncDispose]();
    await Promise.all(f.nodes.splice(0).map((n) => n.kill('SIGKILL')));
  });
  return f;
}
