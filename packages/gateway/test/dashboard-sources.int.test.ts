/**
 * What a gateway gives the dashboard: `nodes` (its own report embedded, every node's from Redis when
 * clustered) and `webhookLog` (the embedded dispatcher's deliveries and dead letters in memory,
 * replayed through it; the workers' log in Redis when clustered). Real gateways, sockets, receivers.
 */
import { Redis } from 'ioredis';
import { RedisKeys, RedisWebhookLog, RedisWebhooks } from '@herald/broker';
import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, redisPerFile, startTestGateway, startWebhookReceiver, uniquePrefix, type TestGateway } from '@herald/test-support';

const cleanups: (() => Promise<unknown> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function occupy(t: TestGateway, channel: string, app = t.app): Promise<void> {
  const c = await RawClient.established({ wsPort: t.wsPort, app });
  cleanups.push(() => c.close());
  await c.subscribe(channel);
}

describe('dashboard sources of an embedded gateway', () => {
  it('lists its one node, and logs, dead-letters, replays and drops its webhooks per app', async () => {
    let failing = false;
    const rx = await startWebhookReceiver(undefined, (n) => (n === 0 || failing ? 500 : 200));
    cleanups.push(() => rx.close());
    // The second app's webhooks never succeed: it has dead letters of its own.
    const other = await startWebhookReceiver(undefined, () => 500);
    cleanups.push(() => other.close());
    const t = await startTestGateway({
      apps: [{ webhooks: [{ url: rx.url.replace('http://', 'http://u:hook-pass@') }] }, { webhooks: [{ url: other.url }] }],
      webhookDelayMs: 0,
      // A window that a slow first attempt and one retry fit in, and that three failures use up.
      webhookRetry: { initialDelayMs: 50, windowMs: 500, attemptTimeoutMs: 2000 },
    });
    cleanups.push(() => t.close());
    const { gw, app } = t;
    const app2 = gw.apps.apps[1]!;
    const log = gw.webhookLog;

    await occupy(t, 'room-1');
    await expect.poll(async () => (await log.deliveries(app.id, 10)).map((r) => r.outcome)).toEqual(['delivered', 'retrying']);
    const [delivered, retrying] = await log.deliveries(app.id, 10);
    expect(retrying).toMatchObject({ appId: app.id, url: rx.url, events: ['channel_occupied'], status: 500, attempt: 1 });
    expect(delivered).toMatchObject({ appId: app.id, url: rx.url, events: ['channel_occupied'], status: 200, attempt: 2 });
    expect(delivered!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(JSON.stringify(await log.deliveries(app.id, 10))).not.toContain('hook-pass');

    await expect.poll(async () => (await gw.nodes.list()).map((n) => [n.id, n.role, n.connections])).toEqual([['test-node', 'gateway', 1]]);
    const [node] = await gw.nodes.list();
    expect(node!.redisRoundTripMs).toBeUndefined();
    expect(node!.ready).toBe(true);
    expect(node!.webhooks).toMatchObject({ deadLetters: 0, leader: true });

    await occupy(t, 'room-x', app2);
    await expect.poll(async () => (await log.deadLetters(app2.id, 10)).length).toBe(1);
    const [theirs] = await log.deadLetters(app2.id, 10);

    failing = true;
    await occupy(t, 'room-2');
    await expect.poll(async () => (await log.deadLetters(app.id, 10)).length).toBe(1);
    const [mine] = await log.deadLetters(app.id, 10);
    expect(mine).toMatchObject({ appId: app.id, target: rx.url, events: [{ name: 'channel_occupied', channel: 'room-2' }] });
    expect((await log.deliveries(app.id, 1))[0]!.outcome).toBe('dead_lettered');
    await expect.poll(async () => (await gw.nodes.list())[0]!.webhooks?.deadLetters).toBe(2);

    expect(await log.replay(app.id, [theirs!.id, 'nonsense'])).toEqual({ replayed: 0, refused: 0 });
    expect(await log.drop(app.id, [theirs!.id])).toBe(0);
    expect(await log.drop(app2.id, [mine!.id])).toBe(0);
    expect((await log.deadLetters(app2.id, 10)).map((d) => d.id)).toEqual([theirs!.id]);

    failing = false;
    const before = rx.delivered().length;
    expect(await log.replay(app.id, [mine!.id])).toEqual({ replayed: 1, refused: 0 });
    await expect.poll(() => rx.delivered().length).toBe(before + 1);
    expect(rx.delivered().at(-1)!.events).toMatchObject([{ name: 'channel_occupied', channel: 'room-2' }]);
    expect(rx.delivered().at(-1)!.webhookId).toBe(mine!.id);
    expect(await log.deadLetters(app.id, 10)).toEqual([]);

    failing = true;
    await occupy(t, 'room-3');
    await expect.poll(async () => (await log.deadLetters(app.id, 10)).length).toBe(1);
    const [dropped] = await log.deadLetters(app.id, 10);
    expect(await log.drop(app.id, [dropped!.id])).toBe(1);
    expect(await log.deadLetters(app.id, 10)).toEqual([]);
    expect(await log.deadLetters(app2.id, 10)).toHaveLength(1);
  });
});

describe('dashboard sources of a clustered gateway', () => {
  const fixture = redisPerFile();

  it('lists the cluster’s nodes with their Redis round trip, and reads the workers’ webhook log from Redis', async () => {
    const prefix = uniquePrefix();
    const a = await startTestGateway({ redis: { url: fixture.redis.url, prefix } });
    cleanups.push(() => a.close());
    await expect.poll(async () => (await a.gw.nodes.list()).map((n) => n.id)).toEqual(['test-node']);
    const [node] = await a.gw.nodes.list();
    expect(node!.redisRoundTripMs).toBeGreaterThanOrEqual(0);
    expect(node!.webhooks).toBeUndefined();

    // What a worker recorded, read by the gateway.
    const client = new Redis(fixture.redis.url);
    cleanups.push(() => client.disconnect());
    const keys = new RedisKeys(prefix);
    const workerLog = new RedisWebhookLog(client, keys, new RedisWebhooks(client, keys));
    const record = {
      id: 'b1',
      appId: a.app.id,
      url: 'http://example.test/h',
      events: ['channel_occupied'],
      status: 200,
      latencyMs: 3,
      attempt: 1,
      outcome: 'delivered' as const,
      at: 1,
    };
    await workerLog.record(record);
    expect(await a.gw.webhookLog.deliveries(a.app.id, 10)).toEqual([record]);

    await a.close();
    expect(await new RedisWebhookLog(client, keys, new RedisWebhooks(client, keys)).deliveries(a.app.id, 10)).toHaveLength(1);
    expect(await client.hkeys(keys.nodeInfo())).toEqual([]);
  });
});
