import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Push } from '../src/index.js';
import type { PushOptions } from '../src/push.js';
import type { RecoveredEvent, RecoveryFailedEvent } from '../src/recovery.js';
import { wsPushPlatform } from '@herald/test-support';
import { FakePusherServer } from './fake-pusher-server.js';

// push.js's message recovery against a fake server over real sockets: positions tracked per
// channel, sent again with every resubscribe, and the outcome as channel events.

const EPOCH = 'abcdef12';
const OTHER_EPOCH = 'zz000099';

let server: FakePusherServer;
const pushes: Push[] = [];

beforeEach(async () => {
  server = await FakePusherServer.start();
});
afterEach(async () => {
  for (const p of pushes.splice(0)) p.disconnect();
  await server.close();
});

function makePush(extra: Partial<PushOptions> = {}): Push {
  const push = new Push({ url: server.url, app_key: 'key', platform: wsPushPlatform, reconnect: { minDelayMs: 10, maxDelayMs: 50 }, ...extra });
  pushes.push(push);
  return push;
}

/** Everything a channel emits, in order, as `[event, data]`. */
function record(channel: { on_global(fn: (event: string, data: unknown) => void): unknown }) {
  const log: Array<[string, unknown]> = [];
  channel.on_global((event, data) => log.push([event, data]));
  return log;
}

const until = (cond: () => boolean) => expect.poll(cond).toBe(true);

describe('push.js message recovery', () => {
  it('sends no position first, then the last one received after a reconnect; recovered events follow pusher:recovered', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const log = record(ch);
    const c0 = await server.conn(0);
    expect(await c0.subscribeOf('orders')).toEqual({ auth: '', channel: 'orders' });
    c0.succeed('orders', { position: `${EPOCH}:4` });
    await until(() => ch.subscribed);
    expect(ch.position).toBe(`${EPOCH}:4`);
    c0.event('orders', 'created', { id: 5 }, `${EPOCH}:5`);
    c0.event('orders', 'created', { id: 6 }, `${EPOCH}:6`);
    await until(() => log.length === 3);
    expect(ch.position).toBe(`${EPOCH}:6`);

    c0.drop();
    const c1 = await server.conn(1);
    expect(await c1.subscribeOf('orders')).toEqual({ auth: '', channel: 'orders', position: `${EPOCH}:6` });
    c1.succeed('orders', { position: `${EPOCH}:8`, recovery: { recovered: true } });
    c1.event('orders', 'created', { id: 7 }, `${EPOCH}:7`);
    c1.event('orders', 'created', { id: 8 }, `${EPOCH}:8`);
    c1.event('orders', 'created', { id: 9 }, `${EPOCH}:9`);
    await until(() => log.length === 8);
    expect(log).toEqual([
      ['pusher:subscription_succeeded', {}],
      ['created', { id: 5 }],
      ['created', { id: 6 }],
      ['pusher:subscription_succeeded', {}],
      ['pusher:recovered', { position: `${EPOCH}:6` } satisfies RecoveredEvent],
      ['created', { id: 7 }],
      ['created', { id: 8 }],
      ['created', { id: 9 }],
    ]);
    expect(ch.position).toBe(`${EPOCH}:9`);
  });

  it('reports pusher:recovery_failed with the reason, and continues from the position of the answer', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const failed: RecoveryFailedEvent[] = [];
    ch.on('pusher:recovery_failed', (e: RecoveryFailedEvent) => failed.push(e));
    const recovered: unknown[] = [];
    ch.on('pusher:recovered', (e: unknown) => recovered.push(e));
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:10` });
    c0.event('orders', 'created', { id: 11 }, `${EPOCH}:11`);
    await until(() => ch.position === `${EPOCH}:11`);

    c0.drop();
    const c1 = await server.conn(1);
    expect((await c1.subscribeOf('orders')).position).toBe(`${EPOCH}:11`);
    c1.succeed('orders', { position: `${EPOCH}:500`, recovery: { recovered: false, reason: 'too_old' } });
    await until(() => failed.length === 1);
    expect(failed).toEqual([{ reason: 'too_old', position: `${EPOCH}:500` }]);
    expect(ch.position).toBe(`${EPOCH}:500`);

    // The next reconnect resumes from the answer's position, and the epoch may have changed.
    c1.drop();
    const c2 = await server.conn(2);
    expect((await c2.subscribeOf('orders')).position).toBe(`${EPOCH}:500`);
    c2.succeed('orders', { position: `${OTHER_EPOCH}:3`, recovery: { recovered: false, reason: 'epoch_changed' } });
    await until(() => failed.length === 2);
    expect(failed[1]).toEqual({ reason: 'epoch_changed', position: `${OTHER_EPOCH}:3` });
    expect(ch.position).toBe(`${OTHER_EPOCH}:3`);
    expect(recovered).toEqual([]);
  });

  it('drops events whose offset is not past the last one of the same epoch', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const got: unknown[] = [];
    ch.on('n', (d: { n: number }) => got.push(d.n));
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:1` });
    for (const n of [2, 3, 3, 2, 1, 4, 4, 5]) c0.event('orders', 'n', { n }, `${EPOCH}:${n}`);
    c0.event('orders', 'n', { n: 'last' }, `${EPOCH}:6`);
    await until(() => got.includes('last'));
    expect(got).toEqual([2, 3, 4, 5, 'last']);
  });

  it('starts over on a new epoch: its offsets are not compared with the old ones', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const got: unknown[] = [];
    ch.on('n', (d: { n: string }) => got.push(d.n));
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:40` });
    c0.event('orders', 'n', { n: 'a41' }, `${EPOCH}:41`);
    c0.event('orders', 'n', { n: 'b1' }, `${OTHER_EPOCH}:1`);
    c0.event('orders', 'n', { n: 'b1 again' }, `${OTHER_EPOCH}:1`);
    c0.event('orders', 'n', { n: 'b2' }, `${OTHER_EPOCH}:2`);
    await until(() => got.includes('b2'));
    expect(got).toEqual(['a41', 'b1', 'b2']);
    expect(ch.position).toBe(`${OTHER_EPOCH}:2`);
    c0.drop();
    expect((await (await server.conn(1)).subscribeOf('orders')).position).toBe(`${OTHER_EPOCH}:2`);
  });

  it('leaves channels without positions as before: no position sent, no recovery events, every event delivered', async () => {
    const push = makePush();
    const ch = push.subscribe('news');
    const log = record(ch);
    const c0 = await server.conn(0);
    await c0.subscribeOf('news');
    c0.succeed('news');
    c0.event('news', 'item', { n: 1 });
    c0.event('news', 'item', { n: 1 });
    await until(() => log.length === 3);
    expect(ch.position).toBeUndefined();
    c0.drop();
    const c1 = await server.conn(1);
    expect(await c1.subscribeOf('news')).toEqual({ auth: '', channel: 'news' });
    c1.succeed('news');
    c1.event('news', 'item', { n: 2 });
    await until(() => log.length === 5);
    expect(log.map(([e]) => e)).toEqual(['pusher:subscription_succeeded', 'item', 'item', 'pusher:subscription_succeeded', 'item']);
  });

  it('reports reason "unsupported" when a subscribe with a position is answered without recovery', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const failed: RecoveryFailedEvent[] = [];
    ch.on('pusher:recovery_failed', (e: RecoveryFailedEvent) => failed.push(e));
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:2` });
    await until(() => ch.subscribed);
    c0.drop();
    const c1 = await server.conn(1);
    expect((await c1.subscribeOf('orders')).position).toBe(`${EPOCH}:2`);
    c1.succeed('orders'); // a server without history (or without recovery)
    await until(() => failed.length === 1);
    expect(failed).toEqual([{ reason: 'unsupported', position: undefined }]);
    expect(ch.position).toBeUndefined();
  });

  it('forgets the position on unsubscribe: subscribing again sends none', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:7` });
    await until(() => ch.position === `${EPOCH}:7`);
    push.unsubscribe('orders');
    const again = push.subscribe('orders');
    expect(again).not.toBe(ch);
    expect(again.position).toBeUndefined();
    expect(await c0.subscribeOf('orders', 1)).toEqual({ auth: '', channel: 'orders' });
  });

  it('sends the position with the auth of a private channel, re-authorized after the reconnect', async () => {
    const authorized: string[] = [];
    const push = makePush({
      authorizer: (channel, socketId) => {
        authorized.push(socketId);
        return Promise.resolve({ auth: `key:sig-${socketId}` });
      },
    });
    const ch = push.subscribe('private-orders');
    const c0 = await server.conn(0);
    expect(await c0.subscribeOf('private-orders')).toEqual({ auth: `key:sig-${c0.socketId}`, channel: 'private-orders' });
    c0.succeed('private-orders', { position: `${EPOCH}:1` });
    c0.event('private-orders', 'x', {}, `${EPOCH}:2`);
    await until(() => ch.position === `${EPOCH}:2`);
    c0.drop();
    const c1 = await server.conn(1);
    expect(await c1.subscribeOf('private-orders')).toEqual({ auth: `key:sig-${c1.socketId}`, channel: 'private-orders', position: `${EPOCH}:2` });
    expect(authorized).toEqual([c0.socketId, c1.socketId]);
  });

  it('resubscribes with the position after disconnect() and connect() too', async () => {
    const push = makePush();
    const ch = push.subscribe('orders');
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:3` });
    await until(() => ch.position === `${EPOCH}:3`);
    push.disconnect();
    push.connect();
    expect((await (await server.conn(1)).subscribeOf('orders')).position).toBe(`${EPOCH}:3`);
  });

  it('passes position and recovery on the connection’s message event', async () => {
    const push = makePush();
    const frames: unknown[] = [];
    push.connection.on('message', (f: { event: string }) => {
      if (f.event === 'pusher_internal:subscription_succeeded') frames.push(f);
    });
    push.subscribe('orders');
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    c0.succeed('orders', { position: `${EPOCH}:3`, recovery: { recovered: false, reason: 'history_off' } });
    await until(() => frames.length === 1);
    expect(frames[0]).toEqual({
      event: 'pusher_internal:subscription_succeeded',
      channel: 'orders',
      data: '{}',
      position: `${EPOCH}:3`,
      recovery: { recovered: false, reason: 'history_off' },
    });
  });
});
