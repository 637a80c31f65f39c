/**
 * Node leases across an outage that every node sees (nothing forwarded between the nodes and a real
 * redis-server, made with stall proxies): every lease expires, the live nodes' included. A node
 * back from it must not take the others for dead before they had the time to renew; one still cut
 * off is reaped after that, and registers its state again once it is back.
 */
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedisState, RedisKeys } from '../src/index.js';
import { startRedis, startStallProxy, uniquePrefix } from '@herald/test-support';

const LEASE_MS = 3000;
type Log = Record<'debug' | 'info' | 'warn' | 'error', (obj: object, msg?: string) => void>;
const quiet: Log = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

describe('node leases across an outage every node saw', () => {
  const cleanup: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('a node back from the outage reaps nobody for a lease, then reaps the node still cut off, which registers its state again once back', async () => {
    const redis = await startRedis();
    cleanup.push(() => redis.stop());
    const direct = new Redis(redis.url);
    cleanup.push(async () => direct.disconnect());
    const [pa, pb] = await Promise.all([startStallProxy({ port: redis.port }), startStallProxy({ port: redis.port })]);
    cleanup.push(
      () => pa.close(),
      () => pb.close(),
    );
    const prefix = uniquePrefix();
    const keys = new RedisKeys(prefix);
    const node = (nodeId: string, port: number, log = quiet) => createRedisState({ url: `redis://127.0.0.1:${port}`, prefix, nodeId, leaseMs: LEASE_MS, log });
    const warned: { obj: object; msg?: string }[] = [];
    const a = await node('a', pa.port, { ...quiet, warn: (obj, msg) => void warned.push({ obj, msg }) });
    const b = await node('b', pb.port);
    // Closed with their links forwarding again, whatever the test left stalled.
    cleanup.push(async () => {
      pa.resume();
      pb.resume();
      await Promise.all([a.close(), b.close()]);
    });
    a.setLocalState(() => [{ kind: 'subscription', appId: 'app', channel: 'room', socketId: 's1' }]);
    await a.channels.join('app', 'room', 's1');
    const held = () => direct.hlen(keys.subs('app', 'room'));
    expect(await held()).toBe(1);

    pa.stall();
    pb.stall();
    const expired = async () => (await direct.zrangebyscore(keys.nodes(), 0, Date.now())).sort();
    await expect.poll(expired, { timeout: 3 * LEASE_MS }).toEqual(['a', 'b']);

    // B is back, A still cut off: B's own renewal came late, so A's expired lease says nothing yet.
    pb.resume();
    await expect.poll(() => b.isReady(), { timeout: 3 * LEASE_MS }).toBe(true);
    expect(await b.reapExpired()).toBe(0);
    expect(await held()).toBe(1);

    // A has not renewed a lease after B held its own for a whole one: taken for dead.
    await expect.poll(held, { timeout: 4 * LEASE_MS }).toBe(0);
    // The reaper removes the state first and the lease last: seen a moment after the state.
    await expect.poll(expired).toEqual([]);

    // A is back: it finds its lease gone, and registers its state again.
    expect(a.stats().leaseLapses).toBe(0);
    pa.resume();
    await expect.poll(held, { timeout: 3 * LEASE_MS }).toBe(1);
    await expect.poll(() => a.isReady()).toBe(true);
    // And says so: counted for the metrics, and warned with how long its renewals were apart.
    expect(a.stats().leaseLapses).toBeGreaterThanOrEqual(1);
    // Once: the renewal sent before the stall was answered after it, and the ticks meanwhile waited for it.
    const lapses = warned.filter((w) => w.msg === 'lease lapsed: registering local state again');
    expect(lapses).toHaveLength(1);
    const lapse = lapses[0];
    expect(lapse?.obj).toMatchObject({ leaseMs: LEASE_MS, gapMs: expect.any(Number), rttMs: expect.any(Number) });
    expect((lapse?.obj as { gapMs: number }).gapMs).toBeGreaterThan(LEASE_MS);
  }, 60_000);
});
