import { afterEach, describe, expect, it } from 'vitest';
import {
  command,
  RawClient,
  redisPerFile,
  startRedisCluster,
  startTestGateway,
  uniquePrefix,
  type RedisClusterSet,
  type TestGateway,
} from '@herald/test-support';
import { disposedAfterEach, offsetOf, rawClient, subscribe, type Positioned } from './recovery-support.js';

/**
 * Message recovery on Redis: offsets atomic across gateways, a Redis restarted empty, the bounds
 * of what is kept per channel, and Redis Cluster. The protocol itself is in recovery.int.test.ts.
 */

const redisFile = redisPerFile();
const open = disposedAfterEach();

const APP = { id: '777', key: 'recovery-key', secret: 'd1f0c9a8b7e6d5c4b3a2f1e0d9c8b7a6' };

async function gateways(n: number, history: { size: number; ttlSeconds: number; channelPrefixes?: string[] }) {
  const prefix = uniquePrefix();
  const out: TestGateway[] = [];
  for (let i = 0; i < n; i++) {
    const t = await startTestGateway({ apps: [{ ...APP, history }], nodeId: `g${i}-${prefix}`, redis: { url: redisFile.redis.url, prefix } });
    open.push(t);
    out.push(t);
  }
  return { prefix, gws: out };
}

const client = (t: TestGateway) => rawClient(t, open);

const ticks = (c: RawClient) => c.frames.filter((f) => f.event === 'tick') as Positioned[];

describe('message recovery on Redis', () => {
  it('numbers events in publication order under concurrent publishers on two gateways', async () => {
    const { gws } = await gateways(2, { size: 1000, ttlSeconds: 300 });
    const [a, b] = gws as [TestGateway, TestGateway];
    const ca = await client(a);
    const cb = await client(b);
    const sub = await subscribe(ca, 'race');
    await subscribe(cb, 'race');
    const epoch = sub.position!.split(':')[0];
    const burst = (t: TestGateway, who: string) => Promise.all(Array.from({ length: 100 }, (_, i) => t.sdk.trigger('race', 'tick', { who, i })));
    await Promise.all([burst(a, 'a'), burst(b, 'b')]);
    await expect.poll(() => ticks(ca).length).toBe(200);
    await expect.poll(() => ticks(cb).length).toBe(200);
    // Offsets 1..200, each once, in the order both gateways' subscribers received them.
    const expected = Array.from({ length: 200 }, (_, i) => `${epoch}:${i + 1}`);
    expect(ticks(ca).map((f) => f.position)).toEqual(expected);
    expect(ticks(cb).map((f) => f.position)).toEqual(expected);
    // The same events in the same order on both.
    expect(ticks(cb).map((f) => f.data)).toEqual(ticks(ca).map((f) => f.data));
    // A client of gateway b recovers what gateway a's publisher sent while it was away.
    cb.close();
    await cb.closed;
    await burst(a, 'a2');
    const again = await client(b);
    const rec = await subscribe(again, 'race', { position: `${epoch}:200` });
    expect(rec.recovery).toEqual({ recovered: true });
    await expect.poll(() => ticks(again).length).toBe(100);
    expect(ticks(again).map((f) => offsetOf(f.position!))).toEqual(Array.from({ length: 100 }, (_, i) => 201 + i));
  });

  it('tells clients the epoch changed when Redis restarted empty, never a silent gap', async () => {
    const { gws } = await gateways(1, { size: 100, ttlSeconds: 300 });
    const t = gws[0]!;
    const c = await client(t);
    const sub = await subscribe(c, 'news');
    for (let i = 0; i < 3; i++) await t.sdk.trigger('news', 'tick', { i });
    await expect.poll(() => ticks(c).length).toBe(3);
    const last = ticks(c).at(-1)!.position!;
    c.close();
    await c.closed;
    await redisFile.redis.restart();
    // Back once the gateway publishes again (its triggers wait for Redis).
    await t.sdk.trigger('news', 'tick', { i: 3 });
    const d = await client(t);
    const rec = await subscribe(d, 'news', { position: last });
    expect(rec.recovery).toEqual({ recovered: false, reason: 'epoch_changed' });
    expect(rec.position!.split(':')[0]).not.toBe(sub.position!.split(':')[0]);
    expect(rec.position).toMatch(/:1$/);
    await t.sdk.trigger('news', 'tick', { i: 4 });
    await d.waitFor((f) => f.event === 'tick');
    expect(ticks(d).map((f) => f.position)).toEqual([`${rec.position!.split(':')[0]}:2`]);
  });

  it('starts a new epoch when a key of the history was evicted', async () => {
    const { prefix, gws } = await gateways(1, { size: 100, ttlSeconds: 300 });
    const t = gws[0]!;
    const redis = redisFile.redis;
    for (const [ch, evicted] of [
      ['lost-log', 'hl'],
      ['lost-meta', 'hm'],
    ] as const) {
      const c = await client(t);
      const sub = await subscribe(c, ch);
      for (let i = 0; i < 3; i++) await t.sdk.trigger(ch, 'tick', { i });
      await expect.poll(() => ticks(c).length).toBe(3);
      const last = ticks(c).at(-1)!.position!;
      c.close();
      await c.closed;
      // What maxmemory eviction does to one key, while its TTL still ran.
      expect(await command(redis, ['DEL', `${prefix}:{${APP.id}:${ch}}:${evicted}`])).toBe(1);
      await t.sdk.trigger(ch, 'tick', { i: 3 });
      const d = await client(t);
      const rec = await subscribe(d, ch, { position: last });
      expect(rec.recovery).toEqual({ recovered: false, reason: 'epoch_changed' });
      expect(rec.position!.split(':')[0]).not.toBe(sub.position!.split(':')[0]);
    }
  });

  it('keeps at most `size` events per channel, with TTLs, and the epoch once they expired', async () => {
    const { prefix, gws } = await gateways(1, { size: 5, ttlSeconds: 2, channelPrefixes: ['a', 'b'] });
    const t = gws[0]!;
    for (let i = 0; i < 20; i++) await t.sdk.trigger(['a', 'b'], 'tick', { i });
    const redis = redisFile.redis;
    for (const ch of ['a', 'b']) {
      const log = `${prefix}:{${APP.id}:${ch}}:hl`;
      const meta = `${prefix}:{${APP.id}:${ch}}:hm`;
      expect(await command(redis, ['LLEN', log])).toBe(5);
      expect(await command(redis, ['HGET', meta, 'o'])).toBe('20');
      const logTtl = (await command(redis, ['PTTL', log])) as number;
      expect(logTtl).toBeGreaterThan(0);
      expect(logTtl).toBeLessThanOrEqual(2000);
      const metaTtl = (await command(redis, ['TTL', meta])) as number;
      expect(metaTtl).toBeGreaterThan(86_000);
    }
    // After the TTL the events are gone; the epoch stays, so a client that missed nothing recovers.
    await expect.poll(() => command(redis, ['EXISTS', `${prefix}:{${APP.id}:a}:hl`]), { timeout: 10_000 }).toBe(0);
    const c = await client(t);
    const r = await subscribe(c, 'a');
    const epoch = r.position!.split(':')[0];
    expect(r.position).toBe(`${epoch}:20`);
    const fine = await client(t);
    expect((await subscribe(fine, 'a', { position: `${epoch}:20` })).recovery).toEqual({ recovered: true });
    const late = await client(t);
    expect((await subscribe(late, 'a', { position: `${epoch}:19` })).recovery).toEqual({ recovered: false, reason: 'too_old' });
    // No history key for a channel without history (its name matches no prefix).
    await t.sdk.trigger('x', 'tick', {});
    const keys = (await command(redis, ['KEYS', `${prefix}:*`])) as string[];
    expect(keys.filter((k) => k.includes(':x}:h'))).toEqual([]);
  });
});

describe('message recovery on Redis Cluster', () => {
  let cluster: RedisClusterSet | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('keeps a channel history on its shard and recovers across gateways', async () => {
    cluster = await startRedisCluster();
    const topology = { kind: 'cluster' as const, nodes: cluster.nodes };
    const prefix = uniquePrefix();
    const gws: TestGateway[] = [];
    for (let i = 0; i < 2; i++) {
      const t = await startTestGateway({ apps: [{ ...APP, history: { size: 50, ttlSeconds: 60 } }], nodeId: `c${i}-${prefix}`, redis: { topology, prefix } });
      open.push(t);
      gws.push(t);
    }
    const [a, b] = gws as [TestGateway, TestGateway];
    const channels = ['one', 'two', 'three', 'four'];
    const ca = await client(a);
    const subs = new Map<string, string>();
    for (const ch of channels) subs.set(ch, (await subscribe(ca, ch)).position!);
    for (let i = 0; i < 5; i++) await b.sdk.trigger(channels, 'tick', { i });
    await expect.poll(() => ticks(ca).length).toBe(20);
    for (const ch of channels) {
      const got = ticks(ca).filter((f) => f.channel === ch);
      expect(got.map((f) => offsetOf(f.position!))).toEqual([1, 2, 3, 4, 5]);
    }
    ca.close();
    await ca.closed;
    for (let i = 5; i < 8; i++) await a.sdk.trigger(channels, 'tick', { i });
    const cb = await client(b);
    for (const ch of channels) {
      const epoch = subs.get(ch)!.split(':')[0];
      expect((await subscribe(cb, ch, { position: `${epoch}:5` })).recovery).toEqual({ recovered: true });
    }
    await expect.poll(() => ticks(cb).length).toBe(12);
    for (const ch of channels)
      expect(
        ticks(cb)
          .filter((f) => f.channel === ch)
          .map((f) => offsetOf(f.position!)),
      ).toEqual([6, 7, 8]);
    // The meta, the log and the topic of a channel hash to one slot.
    const node = cluster.handles[0]!;
    const slot = async (k: string) => command(node, ['CLUSTER', 'KEYSLOT', k]);
    const base = `${prefix}:{${APP.id}:one}`;
    expect(new Set([await slot(`${base}:hm`), await slot(`${base}:hl`), await slot(`${base}:t`)]).size).toBe(1);
  });
});
