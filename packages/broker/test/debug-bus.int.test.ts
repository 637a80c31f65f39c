/**
 * The clustered debug bus on real Redis (one server, Sentinel, and a Redis Cluster): the flag a console sets
 * on one node reaches the others, their records reach the console, and the flag clears when the
 * console closes and when its node dies without closing; a sink without a subscriber (the webhook
 * worker's) follows the flag too.
 */
import { afterAll, beforeAll, describe, it } from 'vitest';
import {
  RedisDebugBus,
  RedisKeys,
  connectRedisDebugBus,
  createRedisConnections,
  createRedisDebugSink,
  type DebugRecord,
  type RedisConnectOptions,
} from '../src/index.js';
import { startRedis, startRedisCluster, startSentinelSet, uniquePrefix, type RedisClusterSet, type RedisHandle } from '@herald/test-support';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const TTL_MS = 1500;
const REFRESH_MS = 200;

const recorder = () => {
  const records: DebugRecord[] = [];
  const skipped: number[] = [];
  return { records, skipped, console: { record: (r: DebugRecord) => records.push(r), skipped: (n: number) => skipped.push(n) } };
};

const topologies: [string, () => Promise<{ opts: RedisConnectOptions; stop: () => Promise<void> }>][] = [
  [
    'one server',
    async () => {
      const r: RedisHandle = await startRedis();
      return { opts: { topology: { kind: 'single', url: r.url } }, stop: () => r.stop() };
    },
  ],
  [
    'Sentinel',
    async () => {
      const set = await startSentinelSet();
      return {
        opts: { topology: { kind: 'sentinel', name: set.name, sentinels: set.sentinels.map((s) => ({ host: s.host, port: s.port })) } },
        stop: () => set.stop(),
      };
    },
  ],
  [
    'Redis Cluster',
    async () => {
      const rc: RedisClusterSet = await startRedisCluster();
      return { opts: { topology: { kind: 'cluster', nodes: rc.nodes } }, stop: () => rc.stop() };
    },
  ],
];

// Each topology has its own Redis, and each test its own key prefix and buses; they wait on Redis
// round trips and the flags' refresh and expiry: all run side by side, with their context's expect.
describe.concurrent.each(topologies)('RedisDebugBus on %s', (_, start) => {
  let redis: { opts: RedisConnectOptions; stop: () => Promise<void> };
  const buses: RedisDebugBus[] = [];
  beforeAll(async () => {
    redis = await start();
  }, 120_000);
  afterAll(async () => {
    for (const b of buses.splice(0)) await b.close();
    await redis.stop();
  });
  const node = async (nodeId: string, prefix: string, perSecond?: number) => {
    const bus = await connectRedisDebugBus({
      ...redis.opts,
      prefix,
      nodeId,
      log: quiet,
      ttlMs: TTL_MS,
      refreshMs: REFRESH_MS,
      ...(perSecond ? { perSecond } : {}),
    });
    buses.push(bus);
    return bus;
  };

  it('a console on one node turns recording on in the other, whose records (and skipped counts) reach it; closing turns it off', async ({ expect }) => {
    const prefix = uniquePrefix();
    const a = await node('gw-a', prefix);
    const b = await node('gw-b', prefix, 5);
    // Nobody watches: nothing is published.
    b.emit('app1', { kind: 'unsubscribed', socketId: '1.1', channel: 'c' });
    expect(b.watching('app1')).toBe(false);
    expect(b.published + b.dropped).toBe(0);

    const r = recorder();
    const close = a.open('app1', r.console);
    expect(a.watching('app1')).toBe(true);
    await expect.poll(() => b.watching('app1')).toBe(true);
    expect(b.watching('app2')).toBe(false);
    // Until the console's subscription is active, records may be lost: wait for one to pass.
    await expect
      .poll(() => {
        b.emit('app1', { kind: 'connection_opened', socketId: '9.9', transport: 'ws' });
        return r.records.length;
      })
      .toBeGreaterThan(0);
    expect(r.records[0]).toEqual({ kind: 'connection_opened', socketId: '9.9', transport: 'ws', node: 'gw-b', at: expect.any(Number) as number });
    // Over b's cap of 5 a second: the rest are counted and reported to the console by b. On an app
    // of its own, whose budget on b no probe has used, once a probe of a's shows its subscription is on.
    const capped = recorder();
    a.open('capped', capped.console);
    await expect.poll(() => b.watching('capped')).toBe(true);
    await expect
      .poll(() => {
        a.emit('capped', { kind: 'unsubscribed', socketId: 'probe', channel: 'probe' });
        return capped.records.length;
      })
      .toBeGreaterThan(0);
    for (let i = 0; i < 20; i++) b.emit('capped', { kind: 'unsubscribed', socketId: '1.1', channel: `c${i}` });
    const fromB = () => capped.records.filter((x) => x.node === 'gw-b').length;
    await expect.poll(() => capped.skipped).toEqual([15]);
    await expect.poll(fromB).toBe(5);
    // a's own records reach its console too (through Redis).
    a.emit('app1', { kind: 'error_sent', socketId: '2.2', code: 4009, message: 'nope' });
    await expect.poll(() => r.records.some((x) => x.kind === 'error_sent' && x.node === 'gw-a')).toBe(true);

    close();
    close();
    await expect.poll(() => b.watching('app1')).toBe(false);
    expect(a.watching('app1')).toBe(false);
    const published = b.published;
    b.emit('app1', { kind: 'unsubscribed', socketId: '1.1', channel: 'late' });
    expect(b.published).toBe(published);
  });

  it('two consoles on two nodes: the flag stays while either is open', async ({ expect }) => {
    const prefix = uniquePrefix();
    const a = await node('gw-a', prefix);
    const b = await node('gw-b', prefix);
    const c = await node('gw-c', prefix);
    const closeA = a.open('app1', recorder().console);
    const closeB = b.open('app1', recorder().console);
    await expect.poll(() => c.watching('app1')).toBe(true);
    const raw = createRedisConnections(redis.opts, () => undefined);
    await raw.connect();
    try {
      closeA();
      await expect.poll(() => raw.client.zrange(new RedisKeys(prefix).debugWatch(), 0, -1)).toEqual(['app1:gw-b']);
      // c reads the set after a's console is gone from it: b's console still holds the flag.
      await c.refresh();
      expect(c.watching('app1')).toBe(true);
    } finally {
      raw.disconnect();
    }
    closeB();
    await expect.poll(() => c.watching('app1')).toBe(false);
  });

  it('a sink on an existing connection (the webhook worker) learns of a console without a subscriber, and its records reach it', async ({ expect }) => {
    const prefix = uniquePrefix();
    const a = await node('gw-a', prefix);
    const conn = createRedisConnections(redis.opts, () => undefined);
    await conn.connect();
    const sink = createRedisDebugSink({ client: conn.client, prefix, nodeId: 'worker-1' });
    try {
      const r = recorder();
      const close = a.open('app1', r.console);
      await expect.poll(() => sink.watching('app1')).toBe(true);
      await expect
        .poll(() => {
          sink.emit('app1', {
            kind: 'webhook',
            url: 'https://hooks.example/x',
            events: ['channel_occupied'],
            status: 200,
            latencyMs: 12,
            attempt: 1,
            outcome: 'delivered',
          });
          return r.records.length;
        })
        .toBeGreaterThan(0);
      expect(r.records[0]).toMatchObject({ kind: 'webhook', node: 'worker-1', status: 200, outcome: 'delivered' });
      close();
      await expect.poll(() => sink.watching('app1')).toBe(false);
    } finally {
      await sink.close();
      conn.disconnect();
    }
  });

  it('the flag of a console whose node died without closing clears once it expires', async ({ expect }) => {
    const prefix = uniquePrefix();
    const b = await node('gw-b', prefix);
    const conn = createRedisConnections(redis.opts, () => undefined);
    await conn.connect();
    const dying = new RedisDebugBus({
      client: conn.client,
      pubsub: conn.pubsub,
      keys: new RedisKeys(prefix),
      nodeId: 'gw-dead',
      ttlMs: TTL_MS,
      refreshMs: REFRESH_MS,
    });
    try {
      dying.open('app1', recorder().console);
      await expect.poll(() => b.watching('app1')).toBe(true);
      // The node is gone: no close, no renewal, no notice.
      conn.disconnect();
      const gone = Date.now();
      await expect.poll(() => b.watching('app1')).toBe(false);
      expect(Date.now() - gone).toBeLessThan(TTL_MS + 10 * REFRESH_MS + 5000);
    } finally {
      await dying.close();
    }
  });
});
