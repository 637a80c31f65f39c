import { randomBytes } from 'node:crypto';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  launchChromium,
  type PusherClient,
  startAuthServer,
  startTestGateway,
  startWebServer,
  subscribeAndWait,
  type TestGateway,
  waitForState,
  watchPage,
  type WebServer,
} from '@herald/test-support';
import { build } from '../build.mjs';
import { startWsRefusingProxy, type WsRefusingProxy } from './ws-refusing-proxy.js';

// The built push.js bundle in headless Chromium, unmodified and with default options, pointed at
// a proxy that refuses WebSocket upgrades: it must end up connected over HTTP (XMLHttpRequest
// streaming, cross-origin to the gateway's WebSocket port) and work as over a WebSocket, with a
// pusher-js WebSocket client on the other side.

const WAIT = { timeout: 15_000 };
const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString('hex')}`;

let browser: Browser;
let web: WebServer;
let t: TestGateway;
let auth: Awaited<ReturnType<typeof startAuthServer>>;
let proxy: WsRefusingProxy;
const pages: Array<{ page: Page; errors: ReturnType<typeof watchPage> }> = [];
const clients: PusherClient[] = [];

beforeAll(async () => {
  await build({ types: false });
  [browser, web, t] = await Promise.all([launchChromium(), startWebServer(), startTestGateway()]);
  auth = await startAuthServer(t.sdk, {
    presence: ({ socketId, body }) => {
      const user = body.get('user') ?? `u-${socketId}`;
      return { user_id: user, user_info: { name: user } };
    },
  });
  proxy = await startWsRefusingProxy(t.wsPort);
}, 60_000);

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  const open = pages.splice(0);
  for (const { errors } of open) expect(errors.pageErrors, errors.console.join('\n')).toEqual([]);
  await Promise.all(open.map(({ page }) => page.context().close()));
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([proxy?.close(), auth?.close(), web?.close()]);
  await t?.close();
});

/** A page loading the bundle from the gateway, as the README says, then running `script`. */
async function open(script: string): Promise<Page> {
  const url = web.page(`<!doctype html>
<html><head><meta charset="utf-8"><title>push.js behind a proxy</title></head><body>
<script src="http://127.0.0.1:${t.apiPort}/push.js"></script>
<script>
${script}
</script>
</body></html>`);
  const page = await (await browser.newContext()).newPage();
  pages.push({ page, errors: watchPage(page) });
  await page.goto(url);
  return page;
}

/** The README's snippet pointed at the proxy, its `error` events recorded. */
const connectScript = (extra: Record<string, unknown> = {}) => `
  window.errors = [];
  var push = new Push(${JSON.stringify({ url: `ws://127.0.0.1:${proxy.port}`, app_key: t.app.key, auth: auth.authEndpoint, ...extra })});
  push.connection.on('error', function (e) { window.errors.push(e.type); });
`;

function pusherJs(): PusherClient {
  const c = connectPusherJs(t, { authEndpoint: auth.authEndpoint });
  clients.push(c);
  return c;
}

describe('push.js in Chromium behind a proxy refusing WebSockets', { timeout: 60_000 }, () => {
  it('connects over xhr_streaming with default options and receives triggered events', async () => {
    const refusedBefore = proxy.refusedUpgrades;
    const passedBefore = proxy.passed.length;
    const channel = unique('user');
    const page = await open(`${connectScript()}
      window.received = [];
      push.subscribe(${JSON.stringify(channel)}).on('message', function (data) { window.received.push(data); });
    `);
    await page.waitForFunction((name) => (window as any).push.channel(name).subscribed, channel, WAIT);
    const state = await page.evaluate(() => ({ transport: (window as any).push.connection.transport, errors: (window as any).errors }));
    expect(state).toEqual({ transport: 'xhr_streaming', errors: ['WebSocketError', 'WebSocketError'] });
    expect(proxy.refusedUpgrades - refusedBefore).toBe(2);

    await t.sdk.trigger(channel, 'message', { n: 1 });
    await t.sdk.trigger(channel, 'message', 'plain text');
    await page.waitForFunction(() => (window as any).received.length === 2, null, WAIT);
    expect(await page.evaluate(() => (window as any).received)).toEqual([{ n: 1 }, 'plain text']);
    // Both events came down the one open response: XMLHttpRequest streams in Chromium.
    expect(proxy.passed.slice(passedBefore).filter((path) => path.includes('/xhr_streaming?'))).toHaveLength(1);
  });

  it('joins private and presence channels and exchanges client events with a pusher-js WebSocket client', async () => {
    const priv = unique('private-chat');
    const room = unique('presence-room');
    const page = await open(`${connectScript({ params: { user: 'alice' } })}
      window.got = [];
      var chat = push.subscribe(${JSON.stringify(priv)});
      chat.on('client-msg', function (data) { window.got.push(['private', data]); });
      var room = push.subscribe(${JSON.stringify(room)});
      room.on('client-msg', function (data, meta) { window.got.push(['presence', data, meta.user_id]); });
      window.memberIds = function () { var ids = []; room.members.each(function (m) { ids.push(m.id); }); return ids.sort(); };
    `);
    await page.waitForFunction(() => (window as any).chat.subscribed && (window as any).room.subscribed, null, WAIT);
    expect(await page.evaluate(() => (window as any).push.connection.transport)).toBe('xhr_streaming');

    const pj = pusherJs();
    await waitForState(pj, 'connected');
    const [pjChat, pjRoom] = await Promise.all([subscribeAndWait(pj, priv), subscribeAndWait(pj, room)]);
    const pjUser = `u-${pj.connection.socket_id}`;
    const pjGot: unknown[] = [];
    pjChat.bind('client-msg', (d: unknown) => pjGot.push(['private', d]));
    pjRoom.bind('client-msg', (d: unknown, meta: { user_id?: string }) => pjGot.push(['presence', d, meta?.user_id]));

    await page.waitForFunction(() => (window as any).room.members.count === 2, null, WAIT);
    const pjIds: string[] = [];
    // pusher-js's typings give every channel the base type; a presence one has `members`.
    (pjRoom as unknown as { members: { each(fn: (m: { id: string }) => void): void } }).members.each((m) => pjIds.push(m.id));
    expect(await page.evaluate(() => (window as any).memberIds())).toEqual(['alice', pjUser].sort());
    expect(pjIds.sort()).toEqual(['alice', pjUser].sort());

    await page.evaluate(() => {
      (window as any).chat.trigger('client-msg', { from: 'page' });
      (window as any).room.trigger('client-msg', { from: 'page' });
    });
    await expect
      .poll(() => pjGot)
      .toEqual([
        ['private', { from: 'page' }],
        ['presence', { from: 'page' }, 'alice'],
      ]);
    pjChat.trigger('client-msg', { from: 'pusher-js' });
    pjRoom.trigger('client-msg', { from: 'pusher-js' });
    await page.waitForFunction(() => (window as any).got.length === 2, null, WAIT);
    expect(await page.evaluate(() => (window as any).got)).toEqual([
      ['private', { from: 'pusher-js' }],
      ['presence', { from: 'pusher-js' }, pjUser],
    ]);
  });
});
