import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { PusherJs, type PusherClient } from '@herald/test-support';
import { enableRecovery } from '../src/pusher-recovery.js';
import type { RecoveryFailedEvent } from '../src/recovery.js';
import { FakePusherServer, type ServerConn } from './fake-pusher-server.js';

// The pusher-js plugin with the real pusher-js (Node build) against a fake server over real
// sockets; and stock pusher-js facing the extra `position` / `recovery` fields.

const EPOCH = 'abcdef12';
const OTHER_EPOCH = 'zz000099';

let server: FakePusherServer;
const clients: PusherClient[] = [];

beforeEach(async () => {
  server = await FakePusherServer.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await server.close();
});

function makePusher(extra: Record<string, unknown> = {}): PusherClient {
  const pusher = new PusherJs('key', {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: server.port,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
    ...extra,
  });
  clients.push(pusher);
  return pusher;
}

type PusherChannel = ReturnType<PusherClient['subscribe']>;

/** Everything a pusher-js channel emits, in order, as `[event, data]`. */
function record(channel: PusherChannel) {
  const log: Array<[string, unknown]> = [];
  channel.bind_global((event: string, data: unknown) => log.push([event, data]));
  return log;
}

const until = (cond: () => boolean) => expect.poll(cond).toBe(true);

/** Subscribes `name` on `conn` and answers with the given top-level fields. */
async function subscribed(conn: ServerConn, name: string, extra: Record<string, unknown>, n = 0) {
  const data = await conn.subscribeOf(name, n);
  conn.succeed(name, extra);
  return data;
}

describe('pusher-js with enableRecovery', () => {
  it('sends no position first, the last one after a reconnect; pusher:recovered comes before the replayed events', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('orders');
    const log = record(ch);
    const c0 = await server.conn(0);
    expect(await subscribed(c0, 'orders', { position: `${EPOCH}:4` })).toEqual({ auth: '', channel: 'orders' });
    c0.event('orders', 'created', { id: 5 }, `${EPOCH}:5`);
    c0.event('orders', 'created', { id: 6 }, `${EPOCH}:6`);
    await until(() => log.length === 3);

    c0.drop();
    const c1 = await server.conn(1);
    expect(await subscribed(c1, 'orders', { position: `${EPOCH}:8`, recovery: { recovered: true } })).toEqual({
      auth: '',
      channel: 'orders',
      position: `${EPOCH}:6`,
    });
    c1.event('orders', 'created', { id: 7 }, `${EPOCH}:7`);
    c1.event('orders', 'created', { id: 8 }, `${EPOCH}:8`);
    c1.event('orders', 'created', { id: 9 }, `${EPOCH}:9`);
    await until(() => log.length === 8);
    expect(log).toEqual([
      ['pusher:subscription_succeeded', {}],
      ['created', { id: 5 }],
      ['created', { id: 6 }],
      ['pusher:subscription_succeeded', {}],
      ['pusher:recovered', { position: `${EPOCH}:6` }],
      ['created', { id: 7 }],
      ['created', { id: 8 }],
      ['created', { id: 9 }],
    ]);

    // And the next reconnect carries the last replayed/live position.
    c1.drop();
    expect((await (await server.conn(2)).subscribeOf('orders')).position).toBe(`${EPOCH}:9`);
  });

  it('emits pusher:recovery_failed with the reason and continues from the answer’s position', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('orders');
    const failed: RecoveryFailedEvent[] = [];
    ch.bind('pusher:recovery_failed', (e: RecoveryFailedEvent) => failed.push(e));
    const c0 = await server.conn(0);
    await subscribed(c0, 'orders', { position: `${EPOCH}:10` });
    const got: unknown[] = [];
    ch.bind('created', (d: unknown) => got.push(d));
    c0.event('orders', 'created', { id: 11 }, `${EPOCH}:11`);
    await until(() => got.length === 1);
    c0.drop();

    const c1 = await server.conn(1);
    expect((await subscribed(c1, 'orders', { position: `${OTHER_EPOCH}:2`, recovery: { recovered: false, reason: 'epoch_changed' } })).position).toBe(
      `${EPOCH}:11`,
    );
    await until(() => failed.length === 1);
    expect(failed).toEqual([{ reason: 'epoch_changed', position: `${OTHER_EPOCH}:2` }]);

    c1.drop();
    const c2 = await server.conn(2);
    expect((await subscribed(c2, 'orders', { position: `${OTHER_EPOCH}:90`, recovery: { recovered: false, reason: 'too_old' } })).position).toBe(
      `${OTHER_EPOCH}:2`,
    );
    await until(() => failed.length === 2);
    expect(failed[1]).toEqual({ reason: 'too_old', position: `${OTHER_EPOCH}:90` });
  });

  it('drops stale duplicates before pusher-js’s channel and global handlers see them', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('orders');
    const got: unknown[] = [];
    const global: unknown[] = [];
    ch.bind('n', (d: { n: unknown }) => got.push(d.n));
    pusher.bind('n', (d: { n: unknown }) => global.push(d.n));
    const c0 = await server.conn(0);
    await subscribed(c0, 'orders', { position: `${EPOCH}:1` });
    for (const n of [2, 3, 3, 2, 1, 4, 4, 5]) c0.event('orders', 'n', { n }, `${EPOCH}:${n}`);
    c0.event('orders', 'n', { n: 'last' }, `${EPOCH}:6`);
    await until(() => got.includes('last'));
    expect(got).toEqual([2, 3, 4, 5, 'last']);
    expect(global).toEqual([2, 3, 4, 5, 'last']);
  });

  it('starts over on a new epoch', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('orders');
    const got: unknown[] = [];
    ch.bind('n', (d: { n: unknown }) => got.push(d.n));
    const c0 = await server.conn(0);
    await subscribed(c0, 'orders', { position: `${EPOCH}:40` });
    c0.event('orders', 'n', { n: 'a41' }, `${EPOCH}:41`);
    c0.event('orders', 'n', { n: 'b1' }, `${OTHER_EPOCH}:1`);
    c0.event('orders', 'n', { n: 'b1 again' }, `${OTHER_EPOCH}:1`);
    c0.event('orders', 'n', { n: 'b2' }, `${OTHER_EPOCH}:2`);
    await until(() => got.includes('b2'));
    expect(got).toEqual(['a41', 'b1', 'b2']);
    c0.drop();
    expect((await (await server.conn(1)).subscribeOf('orders')).position).toBe(`${OTHER_EPOCH}:2`);
  });

  it('changes nothing on channels without positions', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('news');
    const log = record(ch);
    const c0 = await server.conn(0);
    await subscribed(c0, 'news', {});
    c0.event('news', 'item', { n: 1 });
    c0.event('news', 'item', { n: 1 });
    await until(() => log.length === 3);
    c0.drop();
    const c1 = await server.conn(1);
    expect(await subscribed(c1, 'news', {})).toEqual({ auth: '', channel: 'news' });
    c1.event('news', 'item', { n: 2 });
    await until(() => log.length === 5);
    expect(log).toEqual([
      ['pusher:subscription_succeeded', {}],
      ['item', { n: 1 }],
      ['item', { n: 1 }],
      ['pusher:subscription_succeeded', {}],
      ['item', { n: 2 }],
    ]);
  });

  it('reports reason "unsupported" when a subscribe with a position is answered without recovery', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('orders');
    const failed: unknown[] = [];
    ch.bind('pusher:recovery_failed', (e: unknown) => failed.push(e));
    const c0 = await server.conn(0);
    await subscribed(c0, 'orders', { position: `${EPOCH}:2` });
    await until(() => ch.subscribed);
    c0.drop();
    const c1 = await server.conn(1);
    expect((await subscribed(c1, 'orders', {})).position).toBe(`${EPOCH}:2`);
    await until(() => failed.length === 1);
    expect(failed).toEqual([{ reason: 'unsupported', position: undefined }]);
    // Nothing to send any more.
    c1.drop();
    expect((await (await server.conn(2)).subscribeOf('orders')).position).toBeUndefined();
  });

  it('forgets the position on unsubscribe', async () => {
    const pusher = makePusher();
    enableRecovery(pusher);
    const ch = pusher.subscribe('orders');
    const c0 = await server.conn(0);
    await subscribed(c0, 'orders', { position: `${EPOCH}:7` });
    await until(() => ch.subscribed);
    pusher.unsubscribe('orders');
    await c0.waitFor((f) => f.event === 'pusher:unsubscribe');
    pusher.subscribe('orders');
    expect(await c0.subscribeOf('orders', 1)).toEqual({ auth: '', channel: 'orders' });
  });

  it('adds the position to a private channel’s subscribe after its authorization', async () => {
    const pusher = makePusher({
      channelAuthorization: {
        customHandler: ({ socketId }: { socketId: string }, cb: (e: Error | null, a: { auth: string }) => void) =>
          setTimeout(() => cb(null, { auth: `key:sig-${socketId}` }), 10),
      },
    });
    enableRecovery(pusher);
    const ch = pusher.subscribe('private-orders');
    const c0 = await server.conn(0);
    expect(await subscribed(c0, 'private-orders', { position: `${EPOCH}:1` })).toEqual({ auth: `key:sig-${c0.socketId}`, channel: 'private-orders' });
    const got: unknown[] = [];
    ch.bind('x', (d: unknown) => got.push(d));
    c0.event('private-orders', 'x', {}, `${EPOCH}:2`);
    await until(() => got.length === 1);
    c0.drop();
    const c1 = await server.conn(1);
    expect(await c1.subscribeOf('private-orders')).toEqual({ auth: `key:sig-${c1.socketId}`, channel: 'private-orders', position: `${EPOCH}:2` });
  });

  it('enabled once connected works the same; the disposer turns it off', async () => {
    const pusher = makePusher();
    const ch = pusher.subscribe('orders');
    const c0 = await server.conn(0);
    await c0.subscribeOf('orders');
    await until(() => pusher.connection.state === 'connected');
    const dispose = enableRecovery(pusher);
    expect(enableRecovery(pusher)).toBe(dispose);
    c0.succeed('orders', { position: `${EPOCH}:3` });
    await until(() => ch.subscribed);
    c0.drop();
    const c1 = await server.conn(1);
    expect((await subscribed(c1, 'orders', { position: `${EPOCH}:3`, recovery: { recovered: true } })).position).toBe(`${EPOCH}:3`);
    dispose();
    const recovered: unknown[] = [];
    ch.bind('pusher:recovered', (e: unknown) => recovered.push(e));
    const got: unknown[] = [];
    ch.bind('n', (d: unknown) => got.push(d));
    c1.event('orders', 'n', 1, `${EPOCH}:3`); // would be a stale duplicate with the plugin on
    await until(() => got.length === 1);
    c1.drop();
    const c2 = await server.conn(2);
    expect(await subscribed(c2, 'orders', { position: `${EPOCH}:3`, recovery: { recovered: true } })).toEqual({ auth: '', channel: 'orders' });
    await new Promise((r) => setTimeout(r, 100));
    expect(recovered).toEqual([]);
    expect(Object.prototype.hasOwnProperty.call(pusher, 'send_event')).toBe(false);
  });
});

describe('stock pusher-js (no plugin) and the extra fields', () => {
  it('delivers events carrying position, and subscription_succeeded carrying position and recovery, as usual', async () => {
    const pusher = makePusher();
    const ch = pusher.subscribe('orders');
    const log = record(ch);
    const global: unknown[] = [];
    pusher.bind('created', (d: unknown) => global.push(d));
    const c0 = await server.conn(0);
    await subscribed(c0, 'orders', { position: `${EPOCH}:4` }, 0);
    c0.event('orders', 'created', { id: 5 }, `${EPOCH}:5`);
    c0.send({ event: 'created', channel: 'orders', data: 'plain text', position: `${EPOCH}:6` });
    await until(() => log.length === 3);
    c0.drop();
    const c1 = await server.conn(1);
    // Stock pusher-js never sends a position.
    expect(await subscribed(c1, 'orders', { position: `${EPOCH}:6`, recovery: { recovered: false, reason: 'history_off' } })).toEqual({
      auth: '',
      channel: 'orders',
    });
    c1.event('orders', 'created', { id: 7 }, `${EPOCH}:7`);
    await until(() => log.length === 5);
    expect(log).toEqual([
      ['pusher:subscription_succeeded', {}],
      ['created', { id: 5 }],
      ['created', 'plain text'],
      ['pusher:subscription_succeeded', {}],
      ['created', { id: 7 }],
    ]);
    expect(global).toEqual([{ id: 5 }, 'plain text', { id: 7 }]);
  });

  it('gives presence members on subscription_succeeded with position and recovery', async () => {
    const pusher = makePusher({
      channelAuthorization: {
        customHandler: (_p: unknown, cb: (e: Error | null, a: { auth: string; channel_data: string }) => void) =>
          cb(null, { auth: 'key:sig', channel_data: JSON.stringify({ user_id: 'u1' }) }),
      },
    });
    const ch = pusher.subscribe('presence-room') as PusherChannel & { members: { count: number; me: { id: string } } };
    let members: { count: number } | undefined;
    ch.bind('pusher:subscription_succeeded', (m: { count: number }) => (members = m));
    const c0 = await server.conn(0);
    await c0.subscribeOf('presence-room');
    c0.succeed(
      'presence-room',
      { position: `${EPOCH}:1`, recovery: { recovered: true } },
      JSON.stringify({ presence: { count: 2, ids: ['u1', 'u2'], hash: { u1: {}, u2: {} } } }),
    );
    await until(() => members !== undefined);
    expect(members?.count).toBe(2);
    expect(ch.members.me.id).toBe('u1');
  });
});
