import { randomBytes } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  type PusherClient,
  startAuthServer,
  startTestGateway,
  subscribeAndWait,
  type TestGateway,
  waitForState,
  wsPushPlatform,
} from '@herald/test-support';
import type { PushErrorEvent } from '../src/frames.js';
import type { RecoveredEvent } from '../src/recovery.js';
import { Push } from '../src/index.js';
import type { PushOptions } from '../src/push.js';
import type { TransportName } from '../src/transport-selector.js';
import { startWsRefusingProxy, type WsRefusingProxy } from './ws-refusing-proxy.js';

// push.js in Node (its platform: `ws` sockets, `fetch` for HTTP) behind a real HTTP proxy that
// refuses WebSocket upgrades, in front of a real in-process gateway; pusher-js on a WebSocket
// straight to the gateway is the other side of every exchange.

const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

type Auth = Awaited<ReturnType<typeof startAuthServer>>;

let t: TestGateway;
let auth: Auth;
let proxy: WsRefusingProxy;
const cleanups: Array<() => unknown> = [];

beforeAll(async () => {
  t = await startTestGateway();
  // `params: { user }` names push.js's presence and signed-in user; pusher-js (no params) is `u-<socket_id>`.
  auth = await startAuthServer(t.sdk, {
    presence: ({ socketId, body }) => {
      const user = body.get('user') ?? `u-${socketId}`;
      return { user_id: user, user_info: { name: user } };
    },
    user: (socketId, body) => ({ id: body.get('user') ?? `u-${socketId}` }),
  });
  proxy = await startWsRefusingProxy(t.wsPort);
});

afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

afterAll(async () => {
  await proxy?.close();
  await auth?.close();
  await t?.close();
});

/** push.js in Node, its `error` events recorded (the refused WebSocket attempts are reported there). */
function pushVia(p: Pick<WsRefusingProxy, 'url'>, key: string, extra: Partial<PushOptions> = {}): Push & { errors: PushErrorEvent[] } {
  const push = Object.assign(new Push({ url: p.url, app_key: key, auth: auth.authEndpoint, platform: wsPushPlatform, ...extra }), {
    errors: [] as PushErrorEvent[],
  });
  push.connection.on('error', (e: PushErrorEvent) => push.errors.push(e));
  cleanups.push(() => push.disconnect());
  return push;
}

function pusherJs(): PusherClient {
  const client = connectPusherJs(t, { authEndpoint: auth.authEndpoint });
  cleanups.push(() => client.disconnect());
  return client;
}

const memberIds = (each: (fn: (m: { id: string }) => void) => void) => {
  const ids: string[] = [];
  each((m) => ids.push(m.id));
  return ids.sort();
};

describe.each([
  { transport: 'xhr_streaming', transports: undefined, options: 'default options' },
  { transport: 'xhr_polling', transports: ['ws', 'xhr_polling'] as TransportName[], options: "transports: ['ws', 'xhr_polling']" },
])('push.js (Node, $options) behind a proxy refusing WebSockets', ({ transport, transports }) => {
  it(`connects over ${transport}, subscribes to public, private and presence channels and receives REST events`, async () => {
    const refusedBefore = proxy.refusedUpgrades;
    const push = pushVia(proxy, t.app.key, { params: { user: 'alice' }, ...(transports ? { transports } : {}) });
    await expect.poll(() => push.connection.state).toBe('connected');
    expect(push.connection.transport).toBe(transport);
    expect(proxy.refusedUpgrades - refusedBefore).toBe(2);

    const names = [unique('news'), unique('private-news'), unique('presence-room')];
    const received = new Map<string, unknown[]>();
    const channels = names.map((name) => {
      const ch = push.subscribe(name);
      received.set(name, []);
      ch.on('update', (d: unknown) => received.get(name)!.push(d));
      return ch;
    });
    await expect.poll(() => channels.every((c) => c.subscribed)).toBe(true);
    await t.sdk.trigger(names, 'update', { n: 1 });
    await t.sdk.trigger(names, 'update', { n: 2 });
    await expect.poll(() => names.map((n) => received.get(n))).toEqual(names.map(() => [{ n: 1 }, { n: 2 }]));
    expect(push.channel(names[2]!)).toMatchObject({ members: { me: { id: 'alice', info: { name: 'alice' } }, count: 1 } });
    expect(push.connection.transport).toBe(transport);
    expect(push.errors.map((e) => e.type)).toEqual(['WebSocketError', 'WebSocketError']);
  });

  it(`signs in and receives the events sent to its user (${transport})`, async () => {
    const user = unique('carol');
    const push = pushVia(proxy, t.app.key, { userAuthEndpoint: auth.userAuthEndpoint, params: { user }, ...(transports ? { transports } : {}) });
    const got: unknown[] = [];
    push.user.on('notice', (d: unknown) => got.push(d));
    push.signin();
    await expect.poll(() => push.user.signedIn).toBe(true);
    expect(push.connection.transport).toBe(transport);
    // The gateway joins the user channel on sign-in; send until it has.
    await expect
      .poll(async () => {
        await t.sdk.sendToUser(user, 'notice', { n: 1 });
        return got.length;
      })
      .toBeGreaterThan(0);
    expect(got[0]).toEqual({ n: 1 });
  });

  it(`exchanges client events with a pusher-js WebSocket client, and both see the same presence members (${transport})`, async () => {
    const room = unique('presence-room') as `presence-${string}`;
    const push = pushVia(proxy, t.app.key, { params: { user: 'alice' }, ...(transports ? { transports } : {}) });
    const pushRoom = push.subscribe(room);
    const pushGot: Array<[unknown, string | undefined]> = [];
    pushRoom.on('client-msg', (d: unknown, meta: { user_id?: string }) => pushGot.push([d, meta.user_id]));
    await expect.poll(() => pushRoom.subscribed).toBe(true);
    expect(push.connection.transport).toBe(transport);

    const pj = pusherJs();
    await waitForState(pj, 'connected');
    const pjRoom = await subscribeAndWait(pj, room);
    const pjUser = `u-${pj.connection.socket_id}`;
    const pjGot: Array<[unknown, string | undefined]> = [];
    pjRoom.bind('client-msg', (d: unknown, meta: { user_id?: string }) => pjGot.push([d, meta?.user_id]));
    const removed: string[] = [];
    pjRoom.bind('pusher:member_removed', (m: { id: string }) => removed.push(m.id));

    await expect.poll(() => pushRoom.members.count).toBe(2);
    // pusher-js's typings give every channel the base type; a presence one has `members`.
    const pjMembers = (pjRoom as unknown as { members: { each(fn: (m: { id: string }) => void): void; count: number } }).members;
    expect(memberIds((fn) => pushRoom.members.each(fn))).toEqual(['alice', pjUser].sort());
    expect(memberIds((fn) => pjMembers.each(fn))).toEqual(['alice', pjUser].sort());

    pushRoom.trigger('client-msg', { from: 'push.js' });
    await expect.poll(() => pjGot).toEqual([[{ from: 'push.js' }, 'alice']]);
    pjRoom.trigger('client-msg', { from: 'pusher-js' });
    await expect.poll(() => pushGot).toEqual([[{ from: 'pusher-js' }, pjUser]]);

    // push.js leaves its channels before disconnecting: pusher-js sees alice go now, not when the
    // server gives up on the HTTP session.
    push.disconnect();
    await expect.poll(() => removed).toEqual(['alice']);
    expect(pjMembers.count).toBe(1);
  });
});

describe('push.js over HTTP: reconnects and liveness', () => {
  it('reconnects over xhr_streaming after its gateway closed the session with 4200 (a rolling restart), and resubscribes', async () => {
    const g1 = await startTestGateway();
    const gAuth = await startAuthServer(g1.sdk);
    const p = await startWsRefusingProxy(g1.wsPort);
    cleanups.push(
      () => g1.close(),
      () => gAuth.close(),
      () => p.close(),
    );
    const push = pushVia(p, g1.app.key, { auth: gAuth.authEndpoint, reconnect: { minDelayMs: 200, maxDelayMs: 1000 } });
    const reconnecting: Array<{ code: number; transport: string }> = [];
    push.connection.on('reconnecting', (r: { code: number; transport: string }) => reconnecting.push(r));
    const received: string[] = [];
    for (const name of ['news', 'private-news']) push.subscribe(name).on('update', (d: { v: number }) => received.push(`${name}:${d.v}`));
    const allSubscribed = () => push.allChannels().every((c) => c.subscribed);
    await expect.poll(allSubscribed).toBe(true);
    expect(push.connection.transport).toBe('xhr_streaming');
    const firstSocket = push.connection.socket_id;
    await g1.sdk.trigger(['news', 'private-news'], 'update', { v: 1 });
    await expect.poll(() => received.length).toBe(2);

    // The next gateway is up and the proxy sends new requests to it; then the first one drains.
    const g2 = await startTestGateway({ apps: [{ id: g1.app.id, key: g1.app.key, secret: g1.app.secret }] });
    cleanups.push(() => g2.close());
    p.retarget(g2.wsPort);
    const fallbacks = reconnecting.length;
    const authCalls = gAuth.requests.length;
    await g1.close();
    await expect.poll(() => push.connection.socket_id !== undefined && push.connection.socket_id !== firstSocket && allSubscribed()).toBe(true);
    expect(reconnecting.slice(fallbacks)).toEqual([expect.objectContaining({ code: 4200, transport: 'xhr_streaming' })]);
    expect(push.connection.transport).toBe('xhr_streaming');
    expect(gAuth.requests.length).toBeGreaterThan(authCalls); // the private channel authorized again
    await g2.sdk.trigger(['news', 'private-news'], 'update', { v: 2 });
    await expect.poll(() => [...received].sort()).toEqual(['news:1', 'news:2', 'private-news:1', 'private-news:2']);
  });

  it('recovers the events it missed while the proxy was unreachable (message recovery over HTTP)', async () => {
    const g = await startTestGateway({ apps: [{ history: { size: 100, ttlSeconds: 600 } }] });
    const p = await startWsRefusingProxy(g.wsPort);
    cleanups.push(
      () => g.close(),
      () => p.close(),
    );
    const push = pushVia(p, g.app.key, { reconnect: { minDelayMs: 100, maxDelayMs: 500 } });
    const orders = push.subscribe('orders');
    const log: unknown[] = [];
    orders.on('created', (d: { n: number }) => log.push(d.n));
    orders.on('pusher:recovered', (e: RecoveredEvent) => log.push(`recovered after ${e.position === undefined ? '?' : 'a position'}`));
    orders.on('pusher:recovery_failed', (e: { reason: string }) => log.push(`failed: ${e.reason}`));
    await expect.poll(() => orders.subscribed).toBe(true);
    for (const n of [1, 2]) await g.sdk.trigger('orders', 'created', { n });
    await expect.poll(() => log).toEqual([1, 2]);

    p.cut();
    await expect.poll(() => push.connection.state).not.toBe('connected');
    for (const n of [3, 4, 5]) await g.sdk.trigger('orders', 'created', { n });
    p.resume();
    await expect.poll(() => log).toEqual([1, 2, 'recovered after a position', 3, 4, 5]);
    expect(push.connection.transport).toBe('xhr_streaming');
    await g.sdk.trigger('orders', 'created', { n: 6 });
    await expect.poll(() => log.at(-1)).toBe(6);
  });

  it('keeps an idle HTTP connection with pings and pongs, at the server’s activity_timeout', async () => {
    const g = await startTestGateway({ activityTimeout: 1 });
    const p = await startWsRefusingProxy(g.wsPort);
    cleanups.push(
      () => g.close(),
      () => p.close(),
    );
    const push = pushVia(p, g.app.key);
    let pongs = 0;
    push.connection.on('message', (f: { event: string }) => {
      if (f.event === 'pusher:pong') pongs++;
    });
    await expect.poll(() => push.connection.state).toBe('connected');
    const socketId = push.connection.socket_id;
    // A ping a second (activity_timeout 1 s), each answered through the stream.
    await expect.poll(() => pongs).toBeGreaterThanOrEqual(3);
    expect(push.connection.socket_id).toBe(socketId);
    expect(push.connection.transport).toBe('xhr_streaming');
  });

  it('moves on to long polling when a buffering proxy holds the stream back (the handshake timeout)', async () => {
    const p = await startWsRefusingProxy(t.wsPort, { bufferAnswers: true });
    cleanups.push(() => p.close());
    const push = pushVia(p, t.app.key, { pingTimeout: 3000 });
    const tried: string[] = [];
    push.connection.on('state_change', (s: { current: string }) => {
      if (s.current === 'connecting') tried.push(push.connection.transport!);
    });
    await expect.poll(() => push.connection.state).toBe('connected');
    expect(push.connection.transport).toBe('xhr_polling');
    expect(tried).toEqual(['ws', 'xhr_streaming', 'xhr_polling']);
    const news = push.subscribe(unique('news'));
    const got: unknown[] = [];
    news.on('update', (d: unknown) => got.push(d));
    await expect.poll(() => news.subscribed).toBe(true);
    await t.sdk.trigger(news.channelName, 'update', { via: 'polling' });
    await expect.poll(() => got).toEqual([{ via: 'polling' }]);
  });
});
