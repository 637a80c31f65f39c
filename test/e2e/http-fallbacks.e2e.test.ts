/**
 * pusher-js's HTTP fallbacks (xhr_streaming, xhr polling) end to end, as a browser meets them:
 * pusher-js's own browser build (node_modules/pusher-js/dist/web/pusher.js) in headless Chromium,
 * on a page served from another origin than the gateways' (so every request passes CORS), against
 * two gateway processes clustered on a redis-server.
 *
 * - Each transport alone: public, private and presence channels, REST events, client events and
 *   presence members both ways with a WebSocket client (Node pusher-js) on the other gateway; an
 *   app whose allowedOrigins leave the page out refuses it with 4009, over HTTP as over a WebSocket.
 * - A network that refuses WebSocket upgrades: pusher-js with its default transports ends up on
 *   HTTP by itself.
 * - Through the shipped deploy/nginx/nginx.conf (round robin, no stickiness): one polling session's
 *   requests reach both gateways; the gateway holding it is SIGKILLed and pusher-js reconnects and
 *   resubscribes as a WebSocket client does.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Pusher from 'pusher';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  fallbackRequest,
  fallbackSession,
  fallbackUrl,
  freePort,
  launchChromium,
  metric,
  type NodeHandle,
  nodeOutputs,
  type PusherClient,
  PusherJsPage,
  randomTestApp,
  type RedisHandle,
  runnableNginxConfig,
  startAuthServer,
  startNginx,
  startNode,
  startRedis,
  startWebServer,
  startWebSocketBlockingProxy,
  type NginxHandle,
  subscribeAndWait,
  tempDir,
  type TestApp,
  uniquePrefix,
  waitForState,
  type WebServer,
} from '@herald/test-support';

/** Backstop for what pusher-js does on its own schedule (its fallback after ~5 s, a reconnect after its gateway died). */
const SLOW = { timeout: 45_000, interval: 100 };

type Members = { each(f: (m: { id: string }) => void): void };

// One app per case, so that each case's connections are its own in the gateways' metrics.
const apps = {
  browser: randomTestApp(),
  restricted: randomTestApp(),
  blocked: randomTestApp(),
  balanced: randomTestApp(),
};

let redis: RedisHandle;
let browser: Browser;
let web: WebServer;
let a: NodeHandle;
let b: NodeHandle;
let tmp: ReturnType<typeof tempDir>;
const closers: Array<() => Promise<unknown>> = [];

const sdkFor = (app: TestApp, node: NodeHandle) =>
  new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(node.apiPort), useTLS: false });

beforeAll(async () => {
  tmp = tempDir('http-fallbacks');
  [redis, browser, web] = await Promise.all([startRedis(), launchChromium(), startWebServer()]);
  const appsFile = join(tmp.dir, 'apps.json');
  writeFileSync(
    appsFile,
    JSON.stringify([
      apps.browser,
      // Connections only from pages of that origin: the test page's is another.
      { ...apps.restricted, allowedOrigins: ['https://app.example.com'] },
      apps.blocked,
      apps.balanced,
    ]),
  );
  const prefix = uniquePrefix();
  // A SIGKILLed gateway's presence members are removed once its lease runs out.
  const env = { PUSH_APPS_FILE: appsFile, PUSH_NODE_LEASE_MS: '3000' };
  [a, b] = (await Promise.all(['a', 'b'].map((n) => startNode({ app: null, redisUrl: redis.url, prefix, nodeId: `fb-${n}-${prefix}`, env })))) as [
    NodeHandle,
    NodeHandle,
  ];
});

afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await Promise.all([a, b].map((n) => n?.kill('SIGKILL')));
  await browser?.close();
  await web?.close();
  await redis?.stop();
  tmp?.cleanup();
});

/** Runs `body`; a failure carries the gateways' output, and whatever else `more` tells. */
async function withOutputs(body: () => Promise<void>, more: () => Promise<string> = () => Promise.resolve('')): Promise<void> {
  try {
    await body();
  } catch (err) {
    (err as Error).message += `\n${await more().catch((e: unknown) => String(e))}\n${nodeOutputs([a, b], 150)}`;
    throw err;
  }
}

/** pusher-js's browser build in Chromium, on a page of the web server's origin (not the gateways'). */
async function openPage(key: string, options: Record<string, unknown>): Promise<PusherJsPage> {
  const page = await PusherJsPage.open(browser, web, key, options);
  closers.push(() => page.close());
  return page;
}

/** A WebSocket client (Node pusher-js) on `node`, its private and presence subscriptions, and what it hears. */
async function wsClient(node: NodeHandle, app: TestApp, authEndpoint: string, channels: { priv: string; pres: string }) {
  const c: PusherClient = connectPusherJs({ wsPort: node.wsPort, app }, { authEndpoint });
  closers.push(() => Promise.resolve(c.disconnect()));
  await waitForState(c, 'connected');
  const priv = await subscribeAndWait(c, channels.priv);
  const pres = await subscribeAndWait(c, channels.pres);
  const fromBrowser: unknown[] = [];
  const added: string[] = [];
  priv.bind('client-from-browser', (d: unknown) => fromBrowser.push(d));
  pres.bind('pusher:member_added', (m: { id: string }) => added.push(m.id));
  const members = () => {
    const ids: string[] = [];
    (pres as unknown as { members: Members }).members.each((m) => ids.push(m.id));
    return ids.sort();
  };
  return { c, priv, fromBrowser, added, members, userId: () => `u-${c.connection.socket_id}` };
}

/** herald_connections of one app and transport on a gateway (0 when it never had one). */
const connections = async (node: NodeHandle, app: TestApp, transport: string) =>
  (await metric(node.apiUrl, 'herald_connections', { app: app.id, transport })) ?? 0;

describe('pusher-js in Chromium over the HTTP fallbacks', () => {
  for (const transport of ['xhr_streaming', 'xhr_polling'] as const) {
    it(`${transport} alone, from a page of another origin: channels of each kind, REST events, client events and members both ways with a WebSocket client`, async () => {
      await withOutputs(async () => {
        const app = apps.browser;
        const channels = { pub: `news-${transport}`, priv: `private-room-${transport}`, pres: `presence-room-${transport}` };
        await using auth = await startAuthServer(sdkFor(app, b));
        // The WebSocket client is on B, the browser on A: everything between them crosses the cluster.
        const ws = await wsClient(b, app, auth.authEndpoint, channels);
        const page = await openPage(app.key, {
          wsHost: '127.0.0.1',
          wsPort: a.wsPort,
          httpHost: '127.0.0.1',
          httpPort: a.wsPort,
          enabledTransports: [transport],
          channelAuthorization: { endpoint: auth.authEndpoint, transport: 'ajax' },
        });
        await expect.poll(() => page.state()).toBe('connected');
        expect(await page.transport()).toBe(transport);
        // The gateway counts it as that transport.
        await expect.poll(() => connections(a, app, transport)).toBe(1);
        const me = `u-${await page.socketId()}`;

        for (const ch of Object.values(channels)) await page.subscribe(ch);
        // Presence both ways: the browser's list holds the WebSocket client's user, and the
        // WebSocket client hears the browser's arrive.
        expect(await page.memberIds(channels.pres)).toEqual([ws.userId(), me].sort());
        await expect.poll(() => ws.added).toEqual([me]);

        const sdk = sdkFor(app, b);
        for (const ch of Object.values(channels)) await sdk.trigger(ch, 'from-rest', { ch });
        await expect
          .poll(async () => (await page.events('from-rest')).map((e) => e.data))
          .toEqual(expect.arrayContaining(Object.values(channels).map((ch) => ({ ch }))));
        expect(await page.events('from-rest')).toHaveLength(3);

        // Client events on the private channel, each way.
        expect(await page.trigger(channels.priv, 'client-from-browser', { to: 'ws', transport })).toBe(true);
        await expect.poll(() => ws.fromBrowser).toEqual([{ to: 'ws', transport }]);
        expect(ws.priv.trigger('client-from-ws', { to: 'browser' })).toBe(true);
        await expect.poll(async () => (await page.events('client-from-ws')).map((e) => [e.channel, e.data])).toEqual([[channels.priv, { to: 'browser' }]]);

        expect(await page.errors()).toEqual([]);
        await page.close();
      });
    });
  }

  it('an app whose allowedOrigins leave the page out: refused with 4009 over each HTTP transport, as over a WebSocket', async () => {
    await withOutputs(async () => {
      for (const transport of ['xhr_streaming', 'xhr_polling', 'ws'] as const) {
        const page = await openPage(apps.restricted.key, {
          wsHost: '127.0.0.1',
          wsPort: a.wsPort,
          httpHost: '127.0.0.1',
          httpPort: a.wsPort,
          enabledTransports: [transport],
        });
        // 4000-4099: pusher-js reports the error and gives up (no retry).
        await expect
          .poll(() => page.errors(), { message: transport })
          .toEqual([{ type: 'WebSocketError', error: { type: 'PusherError', data: { code: 4009, message: expect.any(String) as unknown } } }]);
        await expect.poll(() => page.state(), { message: transport }).toBe('disconnected');
        expect(await page.states(), transport).not.toContain('connected');
        await page.close();
      }
    });
  });

  it('WebSockets refused on the way: an unmodified pusher-js (default transports) falls back to HTTP by itself and receives events', async () => {
    await withOutputs(async () => {
      const app = apps.blocked;
      await using proxy = await startWebSocketBlockingProxy(a.wsPort);
      // Both pusher-js hosts are the proxy: its WebSocket attempts meet the 403, its HTTP requests pass.
      const page = await openPage(app.key, { wsHost: '127.0.0.1', wsPort: proxy.port, httpHost: '127.0.0.1', httpPort: proxy.port });
      await expect.poll(() => page.state(), SLOW).toBe('connected');
      expect(['xhr_streaming', 'xhr_polling']).toContain(await page.transport());
      expect(proxy.refusedUpgrades()).toBeGreaterThan(0);
      expect(proxy.passed().some((r) => /^POST \/pusher\/app\//.test(r))).toBe(true);
      await page.subscribe('blocked-news');
      await sdkFor(app, b).trigger('blocked-news', 'msg', { over: 'http' });
      await expect.poll(async () => (await page.events('msg')).map((e) => e.data)).toEqual([{ over: 'http' }]);
      await page.close();
    });
  });

  // Last: it kills a gateway.
  it('through the shipped nginx.conf without stickiness: a polling session spread over both gateways, then its gateway SIGKILLed', async () => {
    const app = apps.balanced;
    const dir = join(tmp.dir, 'nginx');
    mkdirSync(dir);
    // For a failure's message: nginx's logs and the page's connection states.
    let shown: { nginx?: NginxHandle; page?: PusherJsPage } = {};
    const report = async () =>
      [
        `--- page states: ${JSON.stringify(await shown.page?.states())}`,
        `--- nginx access log:\n${shown.nginx?.accessLog() ?? ''}`,
        `--- nginx error log:\n${shown.nginx?.errorLog() ?? ''}`,
      ].join('\n');
    await withOutputs(async () => {
      const wsPort = await freePort();
      const apiPort = await freePort();
      const nginx = await startNginx(
        runnableNginxConfig('nginx.conf', {
          dir,
          listen: { '3131': wsPort, '3232': apiPort },
          wsBackends: [a.wsPort, b.wsPort],
          apiBackends: [a.apiPort, b.apiPort],
          // Each nginx worker keeps its own round-robin position: with one, the order of the
          // requests alone decides which gateway gets each (see below). The rules are as shipped.
          edits: [{ from: 'worker_processes auto;', to: 'worker_processes 1;' }],
        }),
        dir,
        [wsPort, apiPort],
      );
      closers.push(() => nginx.stop());
      shown = { nginx };
      await using auth = await startAuthServer(sdkFor(app, a));
      const channels = { pub: 'lb-news', priv: 'private-lb-room', pres: 'presence-lb-room' };
      const page = await openPage(app.key, {
        wsHost: '127.0.0.1',
        wsPort,
        httpHost: '127.0.0.1',
        httpPort: wsPort,
        enabledTransports: ['xhr_polling'],
        channelAuthorization: { endpoint: auth.authEndpoint, transport: 'ajax' },
      });
      shown = { nginx, page };
      await expect.poll(() => page.state()).toBe('connected');
      const firstSocket = await page.socketId();
      const session = (await page.session())!;
      expect(session).toMatch(/^\d+\/\w+$/);

      /**
       * This session's polls in nginx's access log (written as each ends): method, pusher-js's
       * request counter (`n=`, shared by a preflight and its POST), status, bytes answered, and
       * the gateway nginx chose (`upstream=`).
       */
      const polls = () => {
        const re = new RegExp(`"(OPTIONS|POST) /pusher/app/${app.key}/${session}/xhr\\?[^"]*&n=(\\d+) HTTP/1\\.1" (\\d+) (\\d+) rt=\\S+ upstream=(\\S+)`);
        return nginx
          .accessLog()
          .split('\n')
          .flatMap((line) => {
            const m = re.exec(line);
            return m ? [{ method: m[1]!, n: Number(m[2]), status: Number(m[3]), bytes: Number(m[4]), gateway: m[5]! }] : [];
          });
      };
      const addr = (node: NodeHandle) => `127.0.0.1:${node.wsPort}`;
      // The gateway its first poll reached opened the session and holds it; the other only relays
      // its requests.
      await expect.poll(() => polls().some((r) => r.method === 'POST')).toBe(true);
      const first = polls().filter((r) => r.method === 'POST')[0]!;
      const [owner, other] = first.gateway === addr(a) ? [a, b] : [b, a];
      expect(first.status).toBe(200);
      await expect.poll(() => connections(owner, app, 'xhr_polling')).toBe(1);
      expect(await connections(other, app, 'xhr_polling')).toBe(0);
      const ws = await wsClient(other, app, auth.authEndpoint, channels);
      for (const ch of Object.values(channels)) await page.subscribe(ch);
      const me = `u-${firstSocket}`;
      expect(await page.memberIds(channels.pres)).toEqual([ws.userId(), me].sort());
      await expect.poll(() => ws.added).toEqual([me]);

      /**
       * The page's poll in flight: the newest preflight after poll `after` whose POST is not logged
       * yet. nginx gave that POST the gateway after its preflight's (one worker, and nothing else
       * passed in between: the browser sends it as soon as the preflight is answered).
       */
      const inFlight = async (after: number) => {
        let found: { n: number; gateway: string } | undefined;
        await expect
          .poll(() => {
            const all = polls();
            const posted = new Set(all.filter((r) => r.method === 'POST').map((r) => r.n));
            const pre = all.filter((r) => r.method === 'OPTIONS' && !posted.has(r.n) && r.n > after).at(-1);
            found = pre && { n: pre.n, gateway: pre.gateway === addr(a) ? addr(b) : addr(a) };
            return found !== undefined;
          })
          .toBe(true);
        return found!;
      };
      const lastPost = () =>
        Math.max(
          0,
          ...polls()
            .filter((r) => r.method === 'POST')
            .map((r) => r.n),
        );

      // Round robin alone would keep this session's polls on one gateway: each poll is a preflight
      // (OPTIONS) and a POST, two requests, so with two gateways every POST goes to the same one.
      // Another client's request in between moves the round robin by one, as real traffic does:
      // once the page's next poll is out, one preflight of another session goes through nginx,
      // then an event ends that poll, and the page's next POST goes to the other gateway. (Sent
      // any earlier, that preflight can land before the page's next poll, after a pause pusher-js
      // takes between polls, and then it moves nothing.)
      const sdk = sdkFor(app, other);
      let ticks = 0;
      const nextEvent = async () => {
        await inFlight(lastPost());
        const r = await fallbackRequest(fallbackUrl(`http://127.0.0.1:${wsPort}`, app.key, fallbackSession(), 'xhr'), {
          method: 'OPTIONS',
          headers: { origin: web.origin, 'access-control-request-method': 'POST' },
        });
        expect(r.status).toBe(204);
        ticks++;
        await sdk.trigger(channels.pub, 'tick', { n: ticks });
        await expect.poll(async () => (await page.events('tick')).length).toBe(ticks);
      };
      const answered = () => polls().filter((r) => r.method === 'POST' && r.status === 200);
      // Each event should move the page's polls to the other gateway; should the browser's POST
      // ever come after that preflight after all, a few more events move them.
      const spread = () => new Set(answered().map((p) => p.gateway)).size === 2 && answered().some((p) => p.gateway === addr(other) && p.bytes > 2);
      for (let i = 0; i < 4 || (i < 10 && !spread()); i++) await nextEvent();
      expect((await page.events('tick')).map((e) => e.data)).toEqual(Array.from({ length: ticks }, (_, i) => ({ n: i + 1 })));
      // Polls were answered by both gateways; those of the gateway not holding the session carried
      // events it relayed from the owner (more than a heartbeat's `h`).
      await expect.poll(() => [...new Set(answered().map((p) => p.gateway))].sort()).toEqual([addr(a), addr(b)].sort());
      expect(answered().some((p) => p.gateway === addr(other) && p.bytes > 2)).toBe(true);
      // The page is of another origin: each request had its CORS preflight, through nginx too.
      expect(polls().some((p) => p.method === 'OPTIONS' && p.status === 204)).toBe(true);

      // Client events both ways, between the session (on `owner`) and the WebSocket client (on `other`).
      expect(await page.trigger(channels.priv, 'client-from-browser', { before: 'kill' })).toBe(true);
      await expect.poll(() => ws.fromBrowser).toEqual([{ before: 'kill' }]);
      ws.priv.trigger('client-from-ws', { before: 'kill' });
      await expect.poll(async () => (await page.events('client-from-ws')).map((e) => e.data)).toEqual([{ before: 'kill' }]);

      // Until now one session did it all: pusher-js never had to reconnect.
      expect(await page.states()).toEqual(['connecting', 'connected']);

      // The owner is killed while the session's poll is at the other gateway, relayed: nothing
      // tells the client its session is gone but the relay, which ends the poll with a close once
      // the owner is silent (10 s if it never took the poll, else 15 s after it was last heard of).
      let waiting = await inFlight(0);
      for (let i = 0; i < 3 && waiting.gateway !== addr(other); i++) {
        await nextEvent();
        waiting = await inFlight(waiting.n);
      }
      expect(waiting.gateway).toBe(addr(other));
      await owner.kill('SIGKILL');
      // That poll ends with the session's close (1006), and pusher-js opens another session
      // (new socket id) through nginx, on the survivor, and subscribes again.
      await expect
        .poll(() => polls().find((r) => r.method === 'POST' && r.n === waiting.n), SLOW)
        .toEqual({ method: 'POST', n: waiting.n, status: 200, bytes: Buffer.byteLength('c[1006,"Session lost"]\n'), gateway: addr(other) });
      await expect.poll(async () => (await page.state()) === 'connected' && (await page.socketId()) !== firstSocket, SLOW).toBe(true);
      const secondSocket = await page.socketId();
      for (const ch of Object.values(channels)) await expect.poll(() => page.subscribed(ch), SLOW).toBe(2);
      await expect.poll(() => connections(other, app, 'xhr_polling')).toBe(1);
      // Presence: the new connection is a new member; the old one leaves once the dead gateway's lease ran out.
      await expect.poll(() => ws.added).toEqual([me, `u-${secondSocket}`]);
      await expect.poll(() => ws.members(), SLOW).toEqual([ws.userId(), `u-${secondSocket}`].sort());

      await sdk.trigger(channels.pub, 'after', { killed: true });
      await expect.poll(async () => (await page.events('after')).map((e) => e.data)).toEqual([{ killed: true }]);
      expect(await page.trigger(channels.priv, 'client-from-browser', { after: 'kill' })).toBe(true);
      await expect.poll(() => ws.fromBrowser).toEqual([{ before: 'kill' }, { after: 'kill' }]);
      ws.priv.trigger('client-from-ws', { after: 'kill' });
      await expect.poll(async () => (await page.events('client-from-ws')).map((e) => e.data)).toEqual([{ before: 'kill' }, { after: 'kill' }]);
      await page.close();
    }, report);
  });
});
