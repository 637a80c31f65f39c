/**
 * The webhook outbox's cap (packages/broker/lua/outbox-append.lua, run by RedisWebhooks) against a
 * real redis-server: appends are refused at XLEN >= cap, a channel's decided transitions wait in
 * its queue (in order) while the outbox is full, a replay is whole or refused, and dead letters
 * never keep target credentials.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisKeys, RedisWebhooks } from '../src/index.js';
import { type RedisHandle, startRedis, uniquePrefix } from '@herald/test-support';

let redis: RedisHandle;
let client: Redis;
beforeAll(async () => {
  redis = await startRedis();
  client = new Redis(redis.url);
});
afterAll(async () => {
  client?.disconnect();
  await redis?.stop();
});

const setup = (outboxMax: number) => {
  const keys = new RedisKeys(uniquePrefix());
  return { keys, webhooks: new RedisWebhooks(client, keys, { outboxMax }), xlen: () => client.xlen(keys.webhookOutbox()) };
};
const event = (i: number) => ({ name: 'client_event', channel: 'private-c', event: 'client-x', data: String(i) });
const outboxIds = async (keys: RedisKeys) => (await client.xrange(keys.webhookOutbox(), '-', '+')).map(([id]) => id);

describe('RedisWebhooks outbox cap', () => {
  it('appends until XLEN reaches the cap, refuses beyond, and has room again once entries are acknowledged', async () => {
    const { keys, webhooks, xlen } = setup(100);
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => webhooks.append('app', event(i))));
    expect(results.filter(Boolean)).toHaveLength(100);
    expect(await xlen()).toBe(100);
    // The 100 kept are the first 100 (nothing older was trimmed away to make room).
    const kept = await client.xrange(keys.webhookOutbox(), '-', '+');
    expect(kept.map(([, f]) => JSON.parse(f[f.indexOf('ev') + 1]!).data)).toEqual(Array.from({ length: 100 }, (_, i) => String(i)));
    expect(await webhooks.append('app', event(999))).toBe(false);
    await webhooks.ensureGroup();
    await webhooks.ack((await outboxIds(keys)).slice(0, 10));
    expect(await xlen()).toBe(90);
    expect(await webhooks.append('app', event(1000))).toBe(true);
  });

  it('move leaves what does not fit in the channel queue, in order, and moves it once there is room', async () => {
    const { keys, webhooks, xlen } = setup(100);
    const epoch = await webhooks.syncEpoch();
    for (let i = 0; i < 95; i++) expect(await webhooks.append('app', event(i))).toBe(true);
    const q = keys.webhookQueue('app', 'ch');
    await client.rpush(
      q,
      ...Array.from({ length: 10 }, (_, i) => `${i + 1} ${JSON.stringify({ name: i % 2 ? 'channel_vacated' : 'channel_occupied', channel: 'ch' })}`),
    );
    expect(await webhooks.move('app', 'ch', 'w1')).toEqual({ outcome: 'outbox_full', moved: 5 });
    expect(await xlen()).toBe(100);
    expect((await client.lrange(q, 0, -1)).map((s) => s.split(' ')[0])).toEqual(['6', '7', '8', '9', '10']);
    // Still full: nothing moves, nothing is lost.
    expect(await webhooks.move('app', 'ch', 'w1')).toEqual({ outcome: 'outbox_full', moved: 0 });
    expect(await client.llen(q)).toBe(5);
    await webhooks.ensureGroup();
    await webhooks.ack(await outboxIds(keys));
    expect(await webhooks.move('app', 'ch', 'w1')).toEqual({ outcome: 'moved', moved: 5 });
    expect(await client.llen(q)).toBe(0);
    const moved = await client.xrange(keys.webhookOutbox(), '-', '+');
    // Event ids: the dataset's epoch, the channel, the sequence.
    expect(epoch).toMatch(/^[0-9a-f]{8}$/);
    expect(moved.map(([, f]) => f[f.indexOf('eid') + 1])).toEqual(['6', '7', '8', '9', '10'].map((n) => `${epoch}:app:ch:${n}`));
  });

  it('replays a dead letter whole or not at all, and keeps what did not fit as a dead letter', async () => {
    const { keys, webhooks, xlen } = setup(100);
    await webhooks.deadLetter({
      appId: 'app',
      target: 'http://127.0.0.1:1/h',
      error: 'x',
      events: [event(1), event(2), event(3)],
      eventIds: ['e1', 'e2', 'e3'],
    });
    await webhooks.deadLetter({ appId: 'app', target: 'http://127.0.0.1:1/h', error: 'x', events: [event(4)], eventIds: ['e4'] });
    for (let i = 0; i < 98; i++) await webhooks.append('app', event(i));
    // Two places left: the first dead letter (three events) does not fit, so neither is replayed (order).
    expect(await webhooks.replay()).toEqual({ replayed: 0, refused: 2 });
    expect(await xlen()).toBe(98);
    expect(await webhooks.deadLetters()).toHaveLength(2);
    await webhooks.ensureGroup();
    await webhooks.ack((await outboxIds(keys)).slice(0, 10));
    expect(await webhooks.replay()).toEqual({ replayed: 2, refused: 0 });
    expect(await xlen()).toBe(92);
    expect(await webhooks.deadLetters()).toEqual([]);
  });

  it('stores and lists dead-letter targets without their userinfo', async () => {
    const { keys, webhooks } = setup(100);
    await webhooks.deadLetter({ appId: 'app', target: 'https://hookuser:hookpass@example.test:8443/in?x=1', error: 'x', events: [event(1)], eventIds: ['e1'] });
    const raw = JSON.stringify(await client.xrange(keys.webhookDead(), '-', '+'));
    expect(raw).not.toContain('hookpass');
    expect(raw).not.toContain('hookuser');
    expect((await webhooks.deadLetters())[0]!.target).toBe('https://example.test:8443/in?x=1');
    // Whatever wrote a dead letter with credentials, it is listed without them.
    await client.xadd(keys.webhookDead(), '*', 'app', 'app', 'target', 'http://u:p4ss@127.0.0.1:9/old', 'error', 'x', 'events', '[]', 'eids', '[]', 't', '0');
    expect((await webhooks.deadLetters()).map((d) => d.target)).toEqual(['https://example.test:8443/in?x=1', 'http://127.0.0.1:9/old']);
  });
});
