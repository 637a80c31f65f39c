/**
 * The worker's recovery after a reconnect, against a real redis-server: checks are held until the
 * reported state is back in Redis and every gateway registered before the outage has registered
 * its local state again. A check let through earlier compares with a channel that a slower gateway
 * has not written back yet, and reports its members removed (then added again).
 */
import { createRedisState, RedisWebhooks, type RedisClusterState } from '@herald/broker';
import { afterEach, describe, expect, it } from 'vitest';
import { redisPerFile, uniquePrefix } from '@herald/test-support';
import { Recovery } from '../src/recovery.js';
import { ReportedCopy } from '../src/reported-copy.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const fixture = redisPerFile();
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup() {
  const state: RedisClusterState = await createRedisState({ url: fixture.redis.url, prefix: uniquePrefix(), nodeId: 'worker-1', log: quiet });
  cleanups.push(() => state.close());
  const copy = new ReportedCopy();
  copy.update('app1', 'presence-room', { seq: 3, occupied: true, members: ['alice', 'carol'] });
  const events: string[] = [];
  const recovery: Recovery = new Recovery({
    client: state.redis,
    keys: state.keys,
    webhooks: new RedisWebhooks(state.redis, state.keys),
    copy,
    nodeId: 'worker-1',
    // Long enough that only a registration ends the wait in this test.
    leaseMs: 60_000,
    // Every channel is checked after the checks were released (they wait on `restored`).
    reconcile: async () => {
      const held = new Promise<string>((r) => setImmediate(() => r('reconciled while checks were held')));
      events.push(await Promise.race([recovery.restored.then(() => 'reconciled after the release'), held]));
    },
    log: quiet,
  });
  cleanups.push(() => recovery.close());
  return { state, recovery, events };
}

describe('worker recovery', () => {
  it('holds checks after a reconnect until every gateway registered before it has registered again', async () => {
    const { state, recovery, events } = await setup();
    await state.redis.hset(state.keys.registered(), { 'gw-0': 'token-a', 'gw-1': 'token-b', 'worker-1': 'token-w' });
    await recovery.start();

    recovery.request('redis connection back', true);
    void recovery.restored.then(() => events.push('checks released'));
    // The reported state is back in Redis...
    await expect.poll(() => state.redis.exists(state.keys.webhookReported('app1', 'presence-room'))).toBe(1);
    // ...and one gateway has registered again: checks still wait for the other.
    await state.redis.hset(state.keys.registered(), 'gw-0', 'token-a2');
    expect(events).toEqual([]);

    await state.redis.hset(state.keys.registered(), 'gw-1', 'token-b2');
    await expect.poll(() => [...events].sort()).toEqual(['checks released', 'reconciled after the release']);
    expect(recovery.active).toBe(false);
  });

  it('does not wait for the gateways after lost keyspace events (no reconnect): checks go on once the state is restored', async () => {
    const { state, recovery, events } = await setup();
    await state.redis.hset(state.keys.registered(), { 'gw-0': 'token-a' });
    await recovery.start();
    recovery.request('keyspace events may have been lost', false);
    void recovery.restored.then(() => events.push('checks released'));
    await expect.poll(() => [...events].sort()).toEqual(['checks released', 'reconciled after the release']);
    expect(await state.redis.exists(state.keys.webhookReported('app1', 'presence-room'))).toBe(1);
  });
});
