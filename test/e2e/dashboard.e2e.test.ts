/**
 * The dashboard in headless Chromium against a real cluster: two gateways, Redis, a webhook
 * worker, a webhook receiver; clients are an unmodified pusher-js (Node) and Herald's Node SDK.
 * The browser signs in on the first gateway; the clients use the second, so every record in the
 * console crossed the cluster.
 *
 * Screenshots of the overview, the debug console and the channels page are taken from this run,
 * into DASHBOARD_SCREENSHOTS (the README's images come from `DASHBOARD_SCREENSHOTS=docs/images`),
 * else into a temporary directory.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Pusher from 'pusher';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api } from '@herald/sdk';
import {
  connectPusherJs,
  launchChromium,
  nodeOutputs,
  type NodeHandle,
  type PusherClient,
  randomTestApp,
  type RedisHandle,
  startAuthServer,
  startNode,
  startRedis,
  startWebhookReceiver,
  subscribeAndWait,
  uniquePrefix,
  waitForState,
  type WebhookReceiver,
} from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
const app = randomTestApp();
const shots = process.env.DASHBOARD_SCREENSHOTS ? resolve(process.env.DASHBOARD_SCREENSHOTS) : mkdtempSync(join(tmpdir(), 'herald-dashboard-'));
mkdirSync(shots, { recursive: true });

let redis: RedisHandle;
let rx: WebhookReceiver;
let gwA: NodeHandle;
let gwB: NodeHandle;
let worker: NodeHandle;
let browser: Browser;
let page: Page;
const clients: PusherClient[] = [];
const closers: (() => Promise<unknown>)[] = [];

const id = (testId: string) => `[data-testid="${testId}"]`;
/** A generous bound: waits end on the event; this only stops a test that would hang. */
const WAIT = 20_000;

beforeAll(async () => {
  redis = await startRedis();
  rx = await startWebhookReceiver(app);
  const env = {
    PUSH_REDIS_PREFIX: uniquePrefix(),
    PUSH_ADMIN_TOKEN: TOKEN,
    PUSH_WEBHOOK_URL: rx.url,
    PUSH_WEBHOOK_DELAY_MS: '1000',
    // A failing target is given up (dead-lettered) after 2 s of retries.
    PUSH_WEBHOOK_RETRY_WINDOW_MS: '2000',
    PUSH_WEBHOOK_TIMEOUT_MS: '1000',
    LOG_LEVEL: 'info',
  };
  [gwA, gwB, worker] = await Promise.all([
    startNode({ app, redisUrl: redis.url, role: 'gateway', nodeId: 'gateway-a', env }),
    startNode({ app, redisUrl: redis.url, role: 'gateway', nodeId: 'gateway-b', env }),
    startNode({ app, redisUrl: redis.url, role: 'worker', nodeId: 'w1', env }),
  ]);
  browser = await launchChromium();
  page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
}, 90_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  for (const close of closers) await close();
  await browser?.close();
  await Promise.all([gwA, gwB, worker].filter(Boolean).map((n) => n.kill()));
  await rx?.close();
  await redis?.stop();
});

const nodes = () => [gwA, gwB, worker];
/** Runs a step; a failure carries every node's output. */
async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(`${name}: ${(err as Error).message}\n${nodeOutputs(nodes(), 80)}`, { cause: err });
  }
}

async function signIn(p: Page, token: string) {
  await p.goto(`${gwA.apiUrl}/dashboard/`);
  await p.fill(id('signin-token'), token);
  await p.click(id('signin-submit'));
}

async function go(p: Page, nav: string) {
  const toggle = p.locator(id('nav-toggle'));
  if (await toggle.isVisible()) await toggle.click();
  await p.click(id(nav));
}

function pusherClient(node: NodeHandle, opts: { authEndpoint?: string } = {}): PusherClient {
  const c = connectPusherJs({ wsPort: node.wsPort, app }, opts);
  clients.push(c);
  return c;
}

const nextEvent = (ch: { bind(e: string, cb: (d: unknown) => void): void }, event: string) =>
  new Promise<unknown>((resolve) => ch.bind(event, (d: unknown) => resolve(d)));

describe('signing in', () => {
  it('refuses a wrong token, in the page and in the API', async () => {
    const p = await browser.newPage();
    await signIn(p, 'not-the-token-0123456789');
    await p.waitForSelector(id('signin-error'), { timeout: WAIT });
    await p.close();
    const r = await fetch(`${gwA.apiUrl}/dashboard/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"token":"nope"}' });
    expect(r.status).toBe(401);
    expect(((await r.json()) as { error_code: string }).error_code).toBe('PUSH_ERR_ADMIN_UNAUTHORIZED');
    expect((await fetch(`${gwA.apiUrl}/dashboard/api/overview`)).status).toBe(401);
  });

  it('signs in, and the session works on the other gateway (a cookie, never the token)', async () => {
    await signIn(page, TOKEN);
    await page.waitForSelector(id('overview-mode'), { timeout: WAIT });
    expect(page.url()).not.toContain(TOKEN);
    const cookies = await page.context().cookies(`${gwA.apiUrl}/dashboard/`);
    const session = cookies.find((c) => c.name === 'herald_dashboard');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    expect(session?.value).not.toContain(TOKEN);
    const onB = await fetch(`${gwB.apiUrl}/dashboard/api/overview`, { headers: { cookie: `herald_dashboard=${session!.value}` } });
    expect(onB.status).toBe(200);
    // A state-changing request with the cookie alone (what another site could make a browser send) is refused.
    const forged = await fetch(`${gwB.apiUrl}/dashboard/api/apps/${app.id}/events`, {
      method: 'POST',
      headers: { cookie: `herald_dashboard=${session!.value}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channels: ['public-x'], name: 'e', data: '1' }),
    });
    expect(forged.status).toBe(403);
  });
});

describe('overview', () => {
  it('lists both gateways and the worker, with live figures', async () => {
    await step('overview', async () => {
      await go(page, 'nav-overview');
      for (const n of ['gateway-a', 'gateway-b']) await page.waitForSelector(`${id('node-row')}[data-node-id="${n}"][data-role="gateway"]`, { timeout: WAIT });
      await page.waitForSelector(`${id('node-row')}[data-node-id="worker-w1"][data-role="worker"]`, { timeout: WAIT });
      await expect.poll(() => page.textContent(id('overview-mode')), { timeout: WAIT }).toContain('clustered');
      await page.waitForSelector(id('chart-connections'), { timeout: WAIT });
      await page.waitForSelector(id('chart-messages'), { timeout: WAIT });
    });
  });
});

describe('debug console', () => {
  let client: PusherClient;

  it("shows a pusher-js client's connection and subscription, made on the other gateway", async () => {
    await step('console', async () => {
      await go(page, 'nav-console');
      await expect.poll(() => page.textContent(id('console-status')), { timeout: WAIT }).toContain('live');
      // 'live' is this console's stream from gateway A. Gateway B records once it has read that a
      // console is open (on A's notice, or within seconds): a connection made on B before then is
      // not shown. A record of B's in the console says it has.
      const apiB = new Api(gwB.apiUrl, app.key, app.secret, { appId: app.id });
      closers.push(() => apiB.close());
      const probe = `${id('console-record')}[data-kind="api_event"][data-event="console-probe"]`;
      await expect
        .poll(
          async () => {
            await apiB.trigger('console-probe', 'console-probe', {});
            return page.locator(probe).count();
          },
          { timeout: WAIT },
        )
        .toBeGreaterThan(0);
      const started = Date.now();
      client = pusherClient(gwB);
      await waitForState(client, 'connected');
      await subscribeAndWait(client, 'public-dash');
      const socketId = client.connection.socket_id;
      await page.waitForSelector(`${id('console-record')}[data-kind="connection_opened"]:has-text("${socketId}")`, { timeout: WAIT });
      await page.waitForSelector(`${id('console-record')}[data-kind="subscribed"][data-channel="public-dash"]`, { timeout: WAIT });
      console.log(`dashboard: connection and subscription shown ${Date.now() - started} ms after the client started connecting`);
    });
  });

  it('shows an event sent with the Node SDK, which reaches the client', async () => {
    await step('sdk event', async () => {
      const api = new Api(gwB.apiUrl, app.key, app.secret, { appId: app.id });
      closers.push(() => api.close());
      const got = nextEvent(client.channel('public-dash'), 'sdk-event');
      await api.trigger('public-dash', 'sdk-event', { hello: 'from the sdk' });
      expect(await got).toEqual({ hello: 'from the sdk' });
      await page.waitForSelector(`${id('console-record')}[data-kind="api_event"][data-event="sdk-event"]`, { timeout: WAIT });
    });
  });

  it("sends the event creator's event to the client", async () => {
    await step('event creator', async () => {
      const got = nextEvent(client.channel('public-dash'), 'creator-event');
      await page.fill(id('creator-channel'), 'public-dash');
      await page.fill(id('creator-event'), 'creator-event');
      await page.fill(id('creator-data'), '{"made":"in the dashboard"}');
      await page.click(id('creator-send'));
      expect(await got).toEqual({ made: 'in the dashboard' });
      await page.waitForSelector(`${id('console-record')}[data-kind="api_event"][data-event="creator-event"]`, { timeout: WAIT });
    });
  });

  it('shows a private subscription with a bad signature as failed, with its reason, and never the signature', async () => {
    await step('bad signature', async () => {
      const wrong = new Pusher({ appId: app.id, key: app.key, secret: randomBytes(16).toString('hex'), cluster: 'mt1' });
      const auth = await startAuthServer(wrong);
      closers.push(() => auth.close());
      const bad = pusherClient(gwB, { authEndpoint: auth.authEndpoint });
      await waitForState(bad, 'connected');
      await expect(subscribeAndWait(bad, 'private-dash')).rejects.toThrow();
      const row = page.locator(`${id('console-record')}[data-kind="subscription_failed"][data-channel="private-dash"]`).first();
      await row.waitFor({ timeout: WAIT });
      expect((await row.textContent())?.toLowerCase()).toContain('signature');
      const sent = auth.requests.find((b) => b.get('channel_name') === 'private-dash');
      expect(sent).toBeDefined();
      const signature = wrong.authorizeChannel(sent!.get('socket_id')!, 'private-dash').auth.split(':')[1]!;
      expect(await page.content()).not.toContain(signature);
      expect(await page.content()).not.toContain(app.secret);
      await page.screenshot({ path: join(shots, 'dashboard-console.png') });
    });
  });

  it('filters by kind, channel and event; pauses and clears', async () => {
    await step('filters', async () => {
      const records = page.locator(id('console-record'));
      await page.fill(id('console-filter-event'), 'creator-event');
      await expect.poll(() => records.count(), { timeout: WAIT }).toBe(1);
      await page.fill(id('console-filter-event'), '');
      await page.fill(id('console-filter-channel'), 'private-dash');
      await expect
        .poll(async () => (await records.evaluateAll((els) => els.map((e) => e.getAttribute('data-channel')))).every((c) => c === 'private-dash'), {
          timeout: WAIT,
        })
        .toBe(true);
      await page.fill(id('console-filter-channel'), '');
      await page.uncheck(id('console-kind-subscribed'));
      await expect.poll(() => page.locator(`${id('console-record')}[data-kind="subscribed"]`).count(), { timeout: WAIT }).toBe(0);
      await page.check(id('console-kind-subscribed'));
      await page.click(id('console-pause'));
      const shown = await records.count();
      const api = new Api(gwB.apiUrl, app.key, app.secret, { appId: app.id });
      closers.push(() => api.close());
      await api.trigger('public-dash', 'while-paused', {});
      await page.click(id('console-clear'));
      await expect.poll(() => records.count(), { timeout: WAIT }).toBe(0);
      expect(shown).toBeGreaterThan(0);
      await page.click(id('console-pause'));
      await api.trigger('public-dash', 'after-resume', {});
      await page.waitForSelector(`${id('console-record')}[data-event="after-resume"]`, { timeout: WAIT });
    });
  });
});

describe('channels', () => {
  it('lists channels by prefix, with counts, presence members and the cached event', async () => {
    await step('channels', async () => {
      const auth = await startAuthServer(new Pusher({ appId: app.id, key: app.key, secret: app.secret, cluster: 'mt1' }), {
        presence: ({ socketId }) => ({ user_id: `ada-${socketId.split('.')[1]}`, user_info: { name: 'Ada Lovelace' } }),
      });
      closers.push(() => auth.close());
      const member = pusherClient(gwB, { authEndpoint: auth.authEndpoint });
      await subscribeAndWait(member, 'presence-room');
      const cacher = pusherClient(gwA);
      await subscribeAndWait(cacher, 'cache-prices');
      const api = new Api(gwA.apiUrl, app.key, app.secret, { appId: app.id });
      closers.push(() => api.close());
      await api.trigger('cache-prices', 'price', { eur: 42 });

      await go(page, 'nav-channels');
      await page.fill(id('channel-search'), 'pre');
      await page.waitForSelector(`${id('channel-row')}[data-channel="presence-room"]`, { timeout: WAIT });
      await expect.poll(() => page.locator(`${id('channel-row')}[data-channel="public-dash"]`).count(), { timeout: WAIT }).toBe(0);
      await page.click(`${id('channel-row')}[data-channel="presence-room"]`);
      const userId = `ada-${member.connection.socket_id.split('.')[1]}`;
      const row = page.locator(`${id('member-row')}[data-user-id="${userId}"]`);
      await row.waitFor({ timeout: WAIT });
      expect(await row.textContent()).toContain('Ada Lovelace');
      await page.screenshot({ path: join(shots, 'dashboard-channels.png') });

      await page.fill(id('channel-search'), 'cache-');
      await page.click(`${id('channel-row')}[data-channel="cache-prices"]`);
      await expect.poll(() => page.textContent(id('cached-event')), { timeout: WAIT }).toContain('42');
    });
  });
});

describe('webhooks', () => {
  it('shows a failing delivery and its dead letter, which replays once the target is back; another is deleted', { timeout: 180_000 }, async () => {
    await step('webhooks', async () => {
      // Other channels' transitions may fail too while the receiver is down (their dead letters are
      // left alone): the letter acted on is the one holding the test channel's event.
      const letterFor = async (channel: string) => {
        const r = await page.request.get(`${gwA.apiUrl}/dashboard/api/apps/${app.id}/webhooks/dead-letters`);
        const body = (await r.json()) as { deadLetters: { id: string; events: { channel?: string }[] }[] };
        return body.deadLetters.find((d) => d.events.some((e) => e.channel === channel))?.id;
      };
      const rowOf = (letterId: string) => page.locator(`${id('deadletter-row')}[data-id="${letterId}"]`);
      const gone = (letterId: string) =>
        expect
          .poll(
            async () => {
              await page.reload();
              await page.waitForSelector(`${id('deadletter-row')}, ${id('deadletters-empty')}`, { timeout: WAIT });
              return rowOf(letterId).count();
            },
            { timeout: WAIT, interval: 500 },
          )
          .toBe(0);

      rx.setMode('down');
      const c = pusherClient(gwB);
      await subscribeAndWait(c, 'public-hooked');
      await go(page, 'nav-webhooks');
      await expect.poll(() => letterFor('public-hooked'), { timeout: 60_000, interval: 500 }).toBeDefined();
      const first = (await letterFor('public-hooked'))!;
      await page.reload();
      await rowOf(first).waitFor({ timeout: WAIT });
      await page.waitForSelector(`${id('delivery-row')}[data-outcome="dead_lettered"]`, { timeout: WAIT });
      expect(await page.locator(`${id('delivery-row')}[data-status="503"]`).count()).toBeGreaterThan(0);
      rx.setMode('up');
      await rowOf(first).locator(id('deadletter-replay')).click();
      await expect
        .poll(() => rx.events().filter((e) => e.name === 'channel_occupied' && e.channel === 'public-hooked').length, { timeout: 60_000 })
        .toBeGreaterThan(0);
      await gone(first);

      // Another failure, deleted this time: it is never delivered.
      rx.setMode('down');
      const c2 = pusherClient(gwB);
      await subscribeAndWait(c2, 'public-hooked-2');
      await expect.poll(() => letterFor('public-hooked-2'), { timeout: 60_000, interval: 500 }).toBeDefined();
      const second = (await letterFor('public-hooked-2'))!;
      rx.setMode('up');
      await page.reload();
      await rowOf(second).locator(id('deadletter-delete')).click();
      await page.click(id('confirm-ok'));
      await gone(second);
      expect(await letterFor('public-hooked-2')).toBeUndefined();
      expect(rx.events().some((e) => e.channel === 'public-hooked-2')).toBe(false);
    });
  });
});

describe('apps and screens', () => {
  it('creates, edits, disables, rotates the secret of and deletes an app', async () => {
    await step('apps', async () => {
      await go(page, 'nav-apps');
      await page.click(id('app-create'));
      await page.fill(id('app-form-id'), 'made-in-dashboard');
      await page.click(id('app-form-submit'));
      const row = page.locator(`${id('app-row')}[data-app-id="made-in-dashboard"]`);
      await row.waitFor({ timeout: WAIT });
      const admin = (path: string) => fetch(`${gwB.apiUrl}/admin/v1/apps/${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
      const made = (await (await admin('made-in-dashboard')).json()) as { secret: string; enabled: boolean; cacheTtlSeconds: number };
      expect(made.enabled).toBe(true);
      expect(await page.content()).not.toContain(made.secret);

      await row.locator(id('app-edit')).click();
      await page.fill(id('app-form-cache-ttl'), '77');
      await page.click(id('app-form-submit'));
      await expect
        .poll(async () => ((await (await admin('made-in-dashboard')).json()) as { cacheTtlSeconds: number }).cacheTtlSeconds, { timeout: WAIT })
        .toBe(77);

      await row.locator(id('app-toggle-enabled')).click();
      await page.click(id('confirm-ok'));
      await expect.poll(() => row.getAttribute('data-enabled'), { timeout: WAIT }).toBe('false');
      expect(((await (await admin('made-in-dashboard')).json()) as { enabled: boolean }).enabled).toBe(false);

      await row.locator(id('app-rotate-secret')).click();
      await page.click(id('confirm-ok'));
      await expect.poll(async () => ((await (await admin('made-in-dashboard')).json()) as { secret: string }).secret, { timeout: WAIT }).not.toBe(made.secret);

      await row.locator(id('app-delete')).click();
      await page.click(id('confirm-ok'));
      await expect.poll(() => row.count(), { timeout: WAIT }).toBe(0);
      expect((await admin('made-in-dashboard')).status).toBe(404);
    });
  });

  it('shows the secret only on demand', async () => {
    await go(page, 'nav-apps');
    const row = page.locator(`${id('app-row')}[data-app-id="${app.id}"]`);
    await row.waitFor({ timeout: WAIT });
    expect(await page.content()).not.toContain(app.secret);
    await row.locator(id('app-show-secret')).click();
    await expect.poll(() => page.textContent(id('app-secret')), { timeout: WAIT }).toContain(app.secret);
  });

  it('is usable on a phone, and its overview screenshot is taken', async () => {
    await go(page, 'nav-overview');
    await page.waitForSelector(`${id('node-row')}[data-node-id="gateway-b"]`, { timeout: WAIT });
    await page.screenshot({ path: join(shots, 'dashboard-overview.png') });
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.context().addCookies(await page.context().cookies());
    await phone.goto(`${gwA.apiUrl}/dashboard/`);
    await phone.waitForSelector(`${id('node-row')}[data-node-id="gateway-a"]`, { timeout: WAIT });
    expect(await phone.locator(id('nav-toggle')).isVisible()).toBe(true);
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await go(phone, 'nav-console');
    await expect.poll(() => phone.textContent(id('console-status')), { timeout: WAIT }).toContain('live');
    await phone.close();
  });

  it('never logged the token', () => {
    for (const n of nodes()) expect(n.output()).not.toContain(TOKEN);
  });
});
