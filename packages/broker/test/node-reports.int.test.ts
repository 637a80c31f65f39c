/**
 * Node reports on a real redis-server: every reporter's NodeInfo is listed while it reports, a
 * stopped one is gone at once and a silent one once stale; the series grows; Redis away makes the
 * reporter skip quietly (one warning per outage) and `list()` reject with StateUnavailableError.
 * The same keys on a Redis Cluster.
 */
import { Cluster, Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { captureLogger, redisPerFile, startRedis, startRedisCluster, uniquePrefix } from '@herald/test-support';
import {
  MemoryNodeDirectory,
  NodeReporter,
  RedisKeys,
  RedisNodeDirectory,
  RedisWebhookLog,
  RedisWebhooks,
  StateUnavailableError,
  WEBHOOK_LOG_MAX,
  type NodeInfo,
  type NodeReportStore,
  type WebhookDeliveryRecord,
} from '../src/index.js';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const fast = { intervalMs: 100, sampleMs: 100, historyMs: 1000 };

function reporter(id: string, store: NodeReportStore, extra: Partial<ConstructorParameters<typeof NodeReporter>[0]> = {}) {
  let messagesIn = 0;
  const r = new NodeReporter({
    id,
    role: 'gateway',
    store,
    // 10 messages in between two reads: a rate above 0 in every report but the first.
    figures: () => ({ connections: 3, messagesIn: (messagesIn += 10), messagesOut: 0 }),
    ready: () => true,
    log: quiet,
    ...fast,
    ...extra,
  });
  cleanups.push(() => r.stop());
  return r;
}

const ids = (nodes: NodeInfo[]) => nodes.map((n) => n.id);

describe('node reports in Redis', () => {
  const fixture = redisPerFile();
  const client = async () => {
    const c = new Redis(fixture.redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true });
    cleanups.push(async () => c.disconnect());
    await c.connect();
    return c;
  };

  it('lists every reporting node, drops a stopped one at once, grows the series, and leaves a silent one out once stale', async () => {
    const c = await client();
    const keys = new RedisKeys(uniquePrefix());
    const directory = new RedisNodeDirectory({ client: c, keys, staleMs: 1000, forgetMs: 2000 });
    const a = reporter('gw-a', directory, { redisRoundTripMs: () => 0.25 });
    const b = reporter('worker-b', directory, { role: 'worker', webhooks: async () => ({ backlog: 4, deadLetters: 1, leader: true }) });
    a.start();
    b.start();
    await expect.poll(async () => ids(await directory.list())).toEqual(['gw-a', 'worker-b']);

    await expect.poll(async () => (await directory.list())[0]?.series.length ?? 0).toBeGreaterThanOrEqual(3);
    const [gw, worker] = (await directory.list()) as [NodeInfo, NodeInfo];
    expect(gw).toMatchObject({ role: 'gateway', connections: 3, ready: true, redisRoundTripMs: 0.25 });
    expect(gw.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(gw.messagesInPerSecond).toBeGreaterThan(0);
    expect(gw.startedAt).toBeLessThanOrEqual(gw.reportedAt);
    expect(gw.webhooks).toBeUndefined();
    expect(Object.keys(gw.eventLoopDelayMs).sort()).toEqual(['max', 'p50', 'p99']);
    expect(gw.series.every((s, i) => s.connections === 3 && (i === 0 || s.t >= gw.series[i - 1]!.t))).toBe(true);
    expect(worker).toMatchObject({ role: 'worker', webhooks: { backlog: 4, deadLetters: 1, leader: true } });
    expect(worker.redisRoundTripMs).toBeUndefined();
    // historyMs / sampleMs points at most.
    await expect.poll(async () => (await directory.list())[0]?.series.length).toBe(10);

    await b.stop();
    expect(ids(await directory.list())).toEqual(['gw-a']);

    // A node that died: its report stays in the hash, left out once stale, deleted once old.
    const dead: NodeInfo = { ...gw, id: 'gw-dead', reportedAt: Date.now() };
    await directory.write(dead);
    expect(ids(await directory.list())).toEqual(['gw-a', 'gw-dead']);
    await directory.write({ ...dead, reportedAt: Date.now() - 1500 });
    expect(ids(await directory.list())).toEqual(['gw-a']);
    expect(await c.hexists(keys.nodeInfo(), 'gw-dead')).toBe(1);
    await directory.write({ ...dead, reportedAt: Date.now() - 2500 });
    await c.hset(keys.nodeInfo(), 'junk', 'not json');
    expect(ids(await directory.list())).toEqual(['gw-a']);
    expect((await c.hkeys(keys.nodeInfo())).sort()).toEqual(['gw-a']);
  });

  it('Redis away: reports are skipped with one warning per outage, list() rejects with StateUnavailableError, and both work again once it is back', async () => {
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    const c = new Redis(redis.url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, retryStrategy: () => 50, lazyConnect: true });
    c.on('error', () => undefined);
    cleanups.push(async () => c.disconnect());
    await c.connect();
    const keys = new RedisKeys(uniquePrefix());
    const directory = new RedisNodeDirectory({ client: c, keys });
    let attempts = 0;
    const counted: NodeReportStore = {
      list: () => directory.list(),
      remove: (id) => directory.remove(id),
      write: (info) => (attempts++, directory.write(info)),
    };
    const log = captureLogger();
    const r = reporter('gw-a', counted, { log });
    r.start();
    await expect.poll(async () => ids(await directory.list())).toEqual(['gw-a']);

    await redis.stop();
    await expect(directory.list()).rejects.toBeInstanceOf(StateUnavailableError);
    const before = attempts;
    await expect.poll(() => attempts).toBeGreaterThan(before + 3);
    expect(log.entries.filter((e) => e.level === 'warn').map((e) => e.msg)).toEqual(['node report not written; retrying quietly until it is']);

    await redis.restart();
    await expect.poll(async () => ids(await directory.list().catch(() => []))).toEqual(['gw-a']);
    await expect.poll(() => log.entries.some((e) => e.level === 'info' && e.msg === 'node report written again')).toBe(true);
    expect(log.entries.filter((e) => e.level === 'warn')).toHaveLength(1);

    // A directory told the connection is down answers at once, without asking Redis.
    const down = new RedisNodeDirectory({ client: c, keys, connected: () => false });
    await expect(down.list()).rejects.toBeInstanceOf(StateUnavailableError);
  });

  it('memory directory: the embedded node lists itself and is gone once stopped', async () => {
    const directory = new MemoryNodeDirectory();
    const r = reporter('solo', directory);
    r.start();
    await expect.poll(async () => ids(await directory.list())).toEqual(['solo']);
    expect((await directory.list())[0]!.redisRoundTripMs).toBeUndefined();
    await r.stop();
    expect(await directory.list()).toEqual([]);
  });
});

describe('node reports and the webhook log on a Redis Cluster', () => {
  it('reports are written and listed, delivery records kept and capped, through a Cluster client', { timeout: 90_000 }, async () => {
    await using rc = await startRedisCluster();
    const cluster = new Cluster(rc.nodes);
    cleanups.push(async () => cluster.disconnect());
    const keys = new RedisKeys(uniquePrefix());
    const directory = new RedisNodeDirectory({ client: cluster, keys });
    const a = reporter('gw-a', directory);
    const b = reporter('gw-b', directory);
    a.start();
    b.start();
    await expect.poll(async () => ids(await directory.list()), { timeout: 30_000 }).toEqual(['gw-a', 'gw-b']);
    await a.stop();
    await b.stop();
    expect(await directory.list()).toEqual([]);

    const log = new RedisWebhookLog(cluster, keys, new RedisWebhooks(cluster, keys));
    const rec = (n: number): WebhookDeliveryRecord => ({
      id: `b${n}`,
      appId: 'app1',
      url: 'http://user:pw@example.test/hooks',
      events: ['channel_occupied'],
      status: 200,
      latencyMs: 1,
      attempt: 1,
      outcome: 'delivered',
      at: n,
    });
    for (let n = 0; n < WEBHOOK_LOG_MAX + 5; n++) await log.record(rec(n));
    const got = await log.deliveries('app1', 1000);
    expect(got).toHaveLength(WEBHOOK_LOG_MAX);
    expect(got[0]).toEqual({ ...rec(WEBHOOK_LOG_MAX + 4), url: 'http://example.test/hooks' });
    expect(await log.deliveries('app2', 10)).toEqual([]);
    expect(await cluster.pttl(keys.webhookLog('app1'))).toBeGreaterThan(0);
  });
});
