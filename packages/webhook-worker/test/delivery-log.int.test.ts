/**
 * The clustered webhook delivery log against a real redis-server and a real receiver: every request's
 * outcome (retrying, delivered, dead_lettered) is kept per app without the URL's credentials, dead
 * letters are listed, replayed and deleted as their own app's only, the worker's node report says
 * what it holds, and `webhook` debug records go out only while the sink says the app is watched.
 */
import { createRedisState, RedisWebhooks, type DebugRecordInput, type DebugSink, type RedisClusterState } from '@herald/broker';
import { RedisWebhookWorker } from '@herald/webhook-worker';
import type { WebhookApp } from '@herald/webhooks';
import { afterEach, describe, expect, it } from 'vitest';
import { redisPerFile, startWebhookReceiver, uniquePrefix, type Respond, type WebhookReceiver } from '@herald/test-support';

const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
const fixture = redisPerFile();
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A sink that records while the test says the app is watched. */
function testSink() {
  const watched = new Set<string>();
  const emitted: { appId: string; record: DebugRecordInput }[] = [];
  const sink: DebugSink = { watching: (appId) => watched.has(appId), emit: (appId, record) => void emitted.push({ appId, record }) };
  return { sink, watched, emitted };
}

/** The receiver's URL with credentials in it: they must never reach a record. */
const withCredentials = (rx: WebhookReceiver) => rx.url.replace('http://', 'http://hook-user:hook-pass@');

async function setup(respond: Respond, retryWindowMs = 300_000) {
  const rx = await startWebhookReceiver(undefined, respond);
  cleanups.push(() => rx.close());
  const state: RedisClusterState = await createRedisState({ url: fixture.redis.url, prefix: uniquePrefix(), nodeId: `w-${Math.random()}`, log: quiet });
  cleanups.push(() => state.close());
  const app: WebhookApp = { id: 'app1', key: 'key1', secret: 'secret-0123456789abcdef', webhooks: [{ url: withCredentials(rx) }] };
  const debug = testSink();
  const worker = new RedisWebhookWorker({
    state,
    apps: (id) => (id === app.id ? app : undefined),
    delayMs: 50,
    workerId: 'w1',
    claimMs: 2000,
    retry: { windowMs: retryWindowMs, initialDelayMs: 50, attemptTimeoutMs: 2000, jitter: 0 },
    debug: debug.sink,
    log: quiet,
  });
  await worker.start();
  cleanups.push(() => worker.close(1000));
  const webhooks = new RedisWebhooks(state.redis, state.keys);
  let n = 0;
  const send = () => webhooks.append(app.id, { name: 'client_event', channel: 'private-room', event: 'client-hi', data: '{}', socket_id: `1.${++n}` });
  return { rx, state, app, worker, webhooks, send, debug, log: worker.webhookLog };
}

describe('webhook delivery log (clustered)', () => {
  it('a 500 then a 200: a retrying record then a delivered one, newest first, with status, latency and attempt, and no credentials', async () => {
    const { rx, log, send, worker } = await setup((n) => (n === 0 ? 500 : 200));
    await send();
    await expect.poll(async () => (await log.deliveries('app1', 10)).map((r) => r.outcome)).toEqual(['delivered', 'retrying']);
    const [delivered, retrying] = await log.deliveries('app1', 10);
    expect(retrying).toMatchObject({ appId: 'app1', url: rx.url, events: ['client_event'], status: 500, attempt: 1, outcome: 'retrying' });
    expect(delivered).toMatchObject({ appId: 'app1', url: rx.url, events: ['client_event'], status: 200, attempt: 2, outcome: 'delivered' });
    expect(delivered!.id).toBe(retrying!.id);
    expect(delivered!.id).toBe(rx.requests[1]!.webhookId);
    for (const r of [delivered!, retrying!]) {
      expect(r.latencyMs).toBeGreaterThanOrEqual(0);
      expect(r.error).toBeUndefined();
      expect(JSON.stringify(r)).not.toContain('hook-pass');
    }
    expect(await log.deliveries('app1', 1)).toHaveLength(1);
    expect(await log.deliveries('app1', -5)).toEqual([]);
    expect(await log.deliveries('app2', 10)).toEqual([]);
    await expect.poll(() => worker.report()).toEqual({ backlog: 0, deadLetters: 0, leader: true });
  });

  it('webhook debug records go out only while the app is watched', async () => {
    const { rx, log, send, debug } = await setup(() => 200);
    await send();
    await expect.poll(async () => (await log.deliveries('app1', 10)).length).toBe(1);
    expect(debug.emitted).toEqual([]);

    debug.watched.add('app1');
    await send();
    await expect.poll(() => debug.emitted.length).toBe(1);
    expect(debug.emitted[0]).toMatchObject({
      appId: 'app1',
      record: { kind: 'webhook', node: 'w1', url: rx.url, events: ['client_event'], status: 200, attempt: 1, outcome: 'delivered' },
    });
    expect(JSON.stringify(debug.emitted)).not.toContain('hook-pass');

    debug.watched.clear();
    debug.watched.add('another-app');
    await send();
    await expect.poll(async () => (await log.deliveries('app1', 10)).length).toBe(3);
    expect(debug.emitted).toHaveLength(1);
  });

  it('retries used up: a dead_lettered record and a dead letter of its app only, replayed (then received) or deleted; another app’s ids are ignored', async () => {
    let failing = true;
    const { rx, log, send, webhooks, worker } = await setup(() => (failing ? 503 : 200), 150);
    await webhooks.deadLetter({
      appId: 'app2',
      target: 'http://127.0.0.1:9/other',
      error: 'receiver answered 503',
      events: [{ name: 'cache_miss' }],
      eventIds: ['o-1'],
    });
    const [other] = await webhooks.deadLetters(10, 'app2');

    await send();
    await expect.poll(async () => (await log.deliveries('app1', 1))[0]?.outcome).toBe('dead_lettered');
    const records = await log.deliveries('app1', 100);
    expect(records.slice(1).every((r) => r.outcome === 'retrying' && r.status === 503)).toBe(true);
    expect(records[0]).toMatchObject({ status: 503, attempt: records.length });
    await expect.poll(async () => (await log.deadLetters('app1', 10)).length).toBe(1);
    const [mine] = await log.deadLetters('app1', 10);
    expect(mine).toMatchObject({ appId: 'app1', target: rx.url, events: [{ name: 'client_event', channel: 'private-room' }] });
    expect((await log.deadLetters('app2', 10)).map((d) => d.id)).toEqual([other!.id]);
    expect((await worker.report()).deadLetters).toBe(2);

    // Another app's ids, unknown ones and malformed ones: nothing done.
    expect(await log.replay('app1', [other!.id, '1-1', 'nonsense'])).toEqual({ replayed: 0, refused: 0 });
    expect(await log.drop('app1', [other!.id, '1-1', 'nonsense'])).toBe(0);
    expect(await log.drop('app2', [mine!.id])).toBe(0);
    expect(await log.replay('app2', [mine!.id])).toEqual({ replayed: 0, refused: 0 });
    expect((await webhooks.deadLetters(10)).map((d) => d.id).sort()).toEqual([mine!.id, other!.id].sort());

    failing = false;
    const received = rx.delivered().length;
    expect(await log.replay('app1', [mine!.id])).toEqual({ replayed: 1, refused: 0 });
    await expect.poll(() => rx.delivered().length).toBe(received + 1);
    expect(rx.delivered().at(-1)!.events).toMatchObject([{ name: 'client_event', channel: 'private-room' }]);
    expect(await log.deadLetters('app1', 10)).toEqual([]);
    await expect.poll(async () => (await log.deliveries('app1', 1))[0]?.outcome).toBe('delivered');

    await webhooks.deadLetter({ appId: 'app1', target: rx.url, error: 'x', events: [{ name: 'cache_miss' }], eventIds: ['m-1'] });
    const [again] = await log.deadLetters('app1', 10);
    expect(await log.drop('app1', [again!.id, again!.id])).toBe(1);
    expect(await log.deadLetters('app1', 10)).toEqual([]);
    expect((await log.deadLetters('app2', 10)).map((d) => d.id)).toEqual([other!.id]);
  });
});
