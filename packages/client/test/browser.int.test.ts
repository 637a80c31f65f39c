import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startGateway } from '@herald/gateway';
import { pino } from 'pino';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, sdkFor, startAuthServer, startTestGateway, startWebServer, type TestGateway, watchPage, type WebServer } from '@herald/test-support';
import { build, distDir } from '../build.mjs';

// Real headless Chromium loading the IIFE bundle from the gateway's own /push.js, exactly like
// the README's <script src> snippet, against a real gateway and a pusher-js style auth server.

const WAIT = { timeout: 15_000 };
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

type Auth = Awaited<ReturnType<typeof startAuthServer>>;

let browser: Browser;
let web: WebServer;
let t: TestGateway;
let auth: Auth;
const pages: Array<{ page: Page; errors: ReturnType<typeof watchPage> }> = [];
const cleanups: Array<() => Promise<unknown>> = [];

/** Auth server identities: `params: { user }` picks the presence / sign-in user. */
const identities = {
  presence: ({ socketId, body }: { socketId: string; body: URLSearchParams }) => {
    const user = body.get('user') ?? `u-${socketId}`;
    return { user_id: user, user_info: { name: user } };
  },
  user: (socketId: string, body: URLSearchParams) => ({ id: body.get('user') ?? `u-${socketId}` }),
};

beforeAll(async () => {
  await build({ types: false });
  [browser, web, t] = await Promise.all([launchChromium(), startWebServer(), startTestGateway()]);
  auth = await startAuthServer(t.sdk, identities);
}, 60_000);

afterEach(async () => {
  const open = pages.splice(0);
  for (const { errors } of open) {
    // Errors are events now, never exceptions (webman's push.js threw on pusher:error and non-JSON data).
    expect(errors.pageErrors, errors.console.join('\n')).toEqual([]);
  }
  await Promise.all(open.map(({ page }) => page.context().close()));
});

afterAll(async () => {
  await browser?.close();
  for (const c of cleanups.splice(0).reverse()) await c();
  await Promise.all([auth?.close(), t?.close(), web?.close()]);
});

/** An HTML page that loads the client the way the README tells users to. */
function pushPage(script: string, apiPort = t.apiPort): string {
  return web.page(`<!doctype html>
<html><head><meta charset="utf-8"><title>herald push.js</title></head><body>
<script src="http://127.0.0.1:${apiPort}/push.js"></script>
<script>
${script}
</script>
</body></html>`);
}

async function open(url: string): Promise<Page> {
  const page = await (await browser.newContext()).newPage();
  pages.push({ page, errors: watchPage(page) });
  await page.goto(url);
  return page;
}

const options = (extra: Record<string, unknown> = {}, gw: Pick<TestGateway, 'wsPort' | 'app'> = t, authEndpoint = auth.authEndpoint) =>
  JSON.stringify({ url: `ws://127.0.0.1:${gw.wsPort}`, app_key: gw.app.key, auth: authEndpoint, ...extra });

describe('push.js in Chromium', { timeout: 60_000 }, () => {
  it('runs the webman/push README snippet unchanged and receives triggered events', async () => {
    const page = await open(
      pushPage(`
      var connection = new Push({
        url: 'ws://127.0.0.1:${t.wsPort}', // websocket地址
        app_key: '${t.app.key}',
        auth: '${auth.authEndpoint}' // 订阅鉴权(仅限于私有频道)
      });
      var uid = 1;
      var user_channel = connection.subscribe('user-' + uid);
      window.received = [];
      user_channel.on('message', function (data) {
        window.received.push(data);
      });
      user_channel.on('friendApply', function (data) {
        window.received.push({ friendApply: data });
      });
    `),
    );
    await page.waitForFunction(() => (window as any).connection.channel('user-1')?.subscribed === true, null, WAIT);
    expect(
      await page.evaluate(() => [(window as any).connection.connection.state, (window as any).Push.instances.length, typeof (window as any).nacl]),
    ).toEqual(['connected', 1, 'undefined']); // the bundle defines the global Push and nothing else

    await t.sdk.trigger('user-1', 'message', { from_uid: 2, content: '你好，这个是消息内容' });
    await t.sdk.trigger('user-1', 'friendApply', { uid: 3 });
    // The `pusher` SDK sends string data raw: webman's push.js threw on it, Herald's delivers it.
    await t.sdk.trigger('user-1', 'message', 'plain text');
    await page.waitForFunction(() => (window as any).received.length === 3, null, WAIT);
    expect(await page.evaluate(() => (window as any).received)).toEqual([
      { from_uid: 2, content: '你好，这个是消息内容' },
      { friendApply: { uid: 3 } },
      'plain text',
    ]);
  });

  it('serves the same bundle at webman’s path, as JavaScript', async () => {
    const built = await readFile(join(distDir, 'push.js'), 'utf8');
    for (const path of ['/push.js', '/plugin/webman/push/push.js']) {
      const res = await fetch(`${t.apiUrl}${path}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/javascript/);
      expect(await res.text()).toBe(built);
    }
  });

  it('authorizes a private channel through the auth endpoint (socket_id, then channel_name)', async () => {
    const channel = unique('private-user');
    const before = auth.requests.length;
    const page = await open(
      pushPage(`
      var push = new Push(${options()});
      window.errors = [];
      push.connection.on('error', function (e) { window.errors.push(e); });
      var ch = push.subscribe(${JSON.stringify(channel)});
      window.received = [];
      ch.on('message', function (data) { window.received.push(data); });
    `),
    );
    await page.waitForFunction((name) => (window as any).push.channel(name).subscribed, channel, WAIT);
    const socketId = await page.evaluate(() => (window as any).push.connection.socket_id);
    const req = auth.requests.slice(before).find((r) => r.get('channel_name') === channel);
    expect(req && [...req.keys()]).toEqual(['socket_id', 'channel_name']);
    expect(req?.get('socket_id')).toBe(socketId);

    await t.sdk.trigger(channel, 'message', { secret: true });
    await page.waitForFunction(() => (window as any).received.length === 1, null, WAIT);
    expect(await page.evaluate(() => [(window as any).received, (window as any).errors])).toEqual([[{ secret: true }], []]);
  });

  it('reports a refused private channel as events, not exceptions', async () => {
    const refusing = await startAuthServer(t.sdk, { allow: () => false });
    cleanups.push(() => refusing.close());
    const page = await open(
      pushPage(`
      var push = new Push(${options({}, t, refusing.authEndpoint)});
      window.errors = [];
      push.connection.on('error', function (e) { window.errors.push({ type: e.type, status: e.status }); });
      push.subscribe('private-nope').on('pusher:subscription_error', function (e) { window.subError = e; });
    `),
    );
    await page.waitForFunction(() => (window as any).subError !== undefined, null, WAIT);
    expect(await page.evaluate(() => [(window as any).subError.status, (window as any).errors])).toEqual([403, [{ type: 'AuthError', status: 403 }]]);
  });

  it('relays client events between two pages (queued until subscribed), never back to the sender', async () => {
    const channel = unique('private-chat');
    const script = `
      var push = new Push(${options()});
      var chat = push.subscribe(${JSON.stringify(channel)});
      window.received = [];
      chat.on('client-message', function (data, meta) { window.received.push(data); });
    `;
    const bob = await open(pushPage(script));
    await bob.waitForFunction((name) => (window as any).push.channel(name).subscribed, channel, WAIT);
    // Alice triggers before her own subscription succeeded: the event waits in the queue.
    const alice = await open(pushPage(`${script}\nchat.trigger('client-message', { form_uid: 2, content: 'hello' });`));
    await bob.waitForFunction(() => (window as any).received.length === 1, null, WAIT);
    expect(await bob.evaluate(() => (window as any).received)).toEqual([{ form_uid: 2, content: 'hello' }]);

    await bob.evaluate((name) => (window as any).push.channel(name).trigger('client-message', { content: 'hi alice' }), channel);
    await alice.waitForFunction(() => (window as any).received.length === 1, null, WAIT);
    expect(await alice.evaluate(() => (window as any).received)).toEqual([{ content: 'hi alice' }]);
    expect(await bob.evaluate(() => (window as any).received)).toHaveLength(1);
  });

  it('keeps presence members in sync across two pages', async () => {
    const channel = unique('presence-room');
    const script = (user: string) => `
      var push = new Push(${options({ params: { user } })});
      var room = push.subscribe(${JSON.stringify(channel)});
      window.log = [];
      room.on('pusher:member_added', function (m) { window.log.push('added ' + m.id); });
      room.on('pusher:member_removed', function (m) { window.log.push('removed ' + m.id); });
      window.snapshot = function () {
        var ids = [];
        room.members.each(function (m) { ids.push(m.id + ':' + m.info.name); });
        return { subscribed: room.subscribed, count: room.members.count, me: room.members.me && room.members.me.id, ids: ids.sort() };
      };
    `;
    const alice = await open(pushPage(script('alice')));
    await alice.waitForFunction(() => (window as any).room.subscribed, null, WAIT);
    expect(await alice.evaluate(() => (window as any).snapshot())).toEqual({ subscribed: true, count: 1, me: 'alice', ids: ['alice:alice'] });

    const bob = await open(pushPage(script('bob')));
    await bob.waitForFunction(() => (window as any).room.subscribed, null, WAIT);
    expect(await bob.evaluate(() => (window as any).snapshot())).toEqual({
      subscribed: true,
      count: 2,
      me: 'bob',
      ids: ['alice:alice', 'bob:bob'],
    });
    await alice.waitForFunction(() => (window as any).room.members.count === 2, null, WAIT);
    expect(await alice.evaluate(() => [(window as any).log, (window as any).room.members.get('bob')])).toEqual([
      ['added bob'],
      { id: 'bob', info: { name: 'bob' } },
    ]);

    await bob.evaluate(() => (window as any).push.disconnect());
    await alice.waitForFunction(() => (window as any).room.members.count === 1, null, WAIT);
    expect(await alice.evaluate(() => (window as any).log)).toEqual(['added bob', 'removed bob']);
  });

  it('decrypts a private-encrypted channel with the shared_secret', async () => {
    const masterKey = randomBytes(32).toString('base64');
    const sdk = sdkFor(t.app, t, { encryptionMasterKeyBase64: masterKey });
    const encAuth = await startAuthServer(sdk);
    cleanups.push(() => encAuth.close());
    const channel = unique('private-encrypted-orders');
    const page = await open(
      pushPage(`
      var push = new Push(${options({}, t, encAuth.authEndpoint)});
      window.wire = [];
      push.connection.on('message', function (f) { if (f.channel === ${JSON.stringify(channel)}) window.wire.push(f); });
      window.received = [];
      push.subscribe(${JSON.stringify(channel)}).on('order', function (data) { window.received.push(data); });
    `),
    );
    await page.waitForFunction((name) => (window as any).push.channel(name).subscribed, channel, WAIT);
    await sdk.trigger(channel, 'order', { id: 42, item: 'tea' });
    await page.waitForFunction(() => (window as any).received.length === 1, null, WAIT);
    expect(await page.evaluate(() => (window as any).received)).toEqual([{ id: 42, item: 'tea' }]);
    // What crossed the wire was ciphertext only.
    const wire = await page.evaluate(() => JSON.stringify((window as any).wire.filter((f: { event: string }) => f.event === 'order')));
    expect(wire).toContain('ciphertext');
    expect(wire).not.toContain('tea');
  });

  it('signs in and receives events sent to the user', async () => {
    const page = await open(
      pushPage(`
      var push = new Push(${options({ userAuthEndpoint: auth.userAuthEndpoint, params: { user: 'carol' } })});
      window.received = [];
      push.user.on('notice', function (data) { window.received.push(data); });
      push.signin();
    `),
    );
    await page.waitForFunction(() => (window as any).push.user.signedIn, null, WAIT);
    expect(await page.evaluate(() => (window as any).push.user.id)).toBe('carol');
    // The gateway joins the user channel on sign-in; send until the page has it.
    await expect
      .poll(async () => {
        await t.sdk.sendToUser('carol', 'notice', { n: 1 });
        return page.evaluate(() => (window as any).received.length);
      }, WAIT)
      .toBeGreaterThan(0);
    expect(await page.evaluate(() => (window as any).received[0])).toEqual({ n: 1 });
  });

  it('reconnects by itself to a gateway restarted on the same ports, resubscribes and receives again', async () => {
    const g1 = await startTestGateway();
    const gAuth = await startAuthServer(g1.sdk);
    cleanups.push(async () => {
      await g1.close();
      await gAuth.close();
    });
    const page = await open(
      pushPage(
        `
      var push = new Push(${options({ reconnect: { minDelayMs: 200, maxDelayMs: 1000 } }, g1, gAuth.authEndpoint)});
      window.states = [];
      push.connection.on('state_change', function (s) { window.states.push(s.current); });
      window.received = [];
      ['news', 'private-news'].forEach(function (name) {
        push.subscribe(name).on('update', function (data) { window.received.push(name + ':' + data.v); });
      });
      window.allSubscribed = function () {
        return push.allChannels().every(function (c) { return c.subscribed; });
      };
    `,
        g1.apiPort,
      ),
    );
    await page.waitForFunction(() => (window as any).allSubscribed(), null, WAIT);
    const firstSocket = await page.evaluate(() => (window as any).push.connection.socket_id);
    await g1.sdk.trigger(['news', 'private-news'], 'update', { v: 1 });
    await page.waitForFunction(() => (window as any).received.length === 2, null, WAIT);

    await g1.close();
    await page.waitForFunction(() => (window as any).push.connection.state !== 'connected', null, WAIT);
    const authCalls = gAuth.requests.length;
    const g2 = await startGateway(
      {
        nodeId: 'restarted',
        host: '127.0.0.1',
        apiHost: '127.0.0.1',
        wsPort: g1.wsPort,
        apiPort: g1.apiPort,
        activityTimeout: 30,
        webhookDelayMs: 1000,
        allowUwsFallback: false,
        drainMs: 0,
        ws: { maxBackpressure: 1024 * 1024, maxPayloadLength: 64 * 1024 },
        apps: g1.gw.apps.apps,
      },
      pino({ level: 'silent' }),
    );
    cleanups.push(() => g2.close());

    await page.waitForFunction(
      (old) => (window as any).push.connection.socket_id !== undefined && (window as any).push.connection.socket_id !== old && (window as any).allSubscribed(),
      firstSocket,
      WAIT,
    );
    expect(gAuth.requests.length).toBeGreaterThan(authCalls); // private channel re-authorized
    await g1.sdk.trigger(['news', 'private-news'], 'update', { v: 2 }); // same API port, new gateway
    await page.waitForFunction(() => (window as any).received.length === 4, null, WAIT);
    expect((await page.evaluate(() => (window as any).received)).sort()).toEqual(['news:1', 'news:2', 'private-news:1', 'private-news:2']);
    const states: string[] = await page.evaluate(() => (window as any).states);
    expect(states[0]).toBe('connected');
    expect(states.at(-1)).toBe('connected');
    expect(states).toContain('disconnected');
  });
});
