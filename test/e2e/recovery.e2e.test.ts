import Echo from 'laravel-echo';
import Pusher from 'pusher';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Push, type RecoveredEvent, type RecoveryFailedEvent } from '@herald/client';
import { enableRecovery } from '@herald/client/pusher-recovery';
import {
  launchChromium,
  type NodeHandle,
  nodeOutputs,
  type PusherClient,
  PusherJs,
  randomTestApp,
  RawClient,
  wsPushPlatform,
  type RedisHandle,
  startNode,
  startRedis,
  startTcpBalancer,
  startWebServer,
  uniquePrefix,
  watchPage,
  type WebServer,
} from '@herald/test-support';

/**
 * Message recovery end to end, with real processes: two gateways on one Redis behind a TCP
 * balancer, history on for the environment's app, and the three recovering clients (push.js in
 * Node, pusher-js with `enableRecovery`, push.js in Chromium) on the same gateway. A publisher keeps
 * sending numbered events (REST, to the other gateway) while that gateway is killed or drained, while
 * a client is offline, and after Redis restarted empty; every client must end with every event once,
 * in order, and the outcome it was told (`pusher:recovered` / `pusher:recovery_failed`). Stock
 * pusher-js and Laravel Echo on a history channel must see nothing of it.
 */

const HISTORY_ENV = { PUSH_HISTORY_SIZE: '2000', PUSH_HISTORY_TTL_SECONDS: '600', PUSH_NODE_LEASE_MS: '3000' };
/** Backstop for a client to get somewhere (connected, subscribed, every event): not a measurement. */
const BACKSTOP_MS = 30_000;
const poll = { timeout: BACKSTOP_MS, interval: 20 };

/** What a recovering client saw on the channel. */
interface Seen {
  seqs: number[];
  recovered: Array<{ at: number; position?: string }>;
  failed: Array<{ at: number; reason: string; position?: string }>;
  subscribed: boolean;
  connected: boolean;
}

interface TestClient {
  name: string;
  seen(): Promise<Seen>;
  /** Goes offline (stops reconnecting) and back, keeping its subscriptions. */
  offline(): Promise<void>;
  online(): Promise<void>;
  close(): Promise<void>;
}

function newSeen(): Seen {
  return { seqs: [], recovered: [], failed: [], subscribed: false, connected: false };
}

/** "ok", or what is wrong with a list of sequence numbers that should be exactly 1..n. */
function checkSeqs(seqs: number[], n: number): string {
  const problems: string[] = [];
  const count = new Map<number, number>();
  for (const s of seqs) count.set(s, (count.get(s) ?? 0) + 1);
  const missing = Array.from({ length: n }, (_, i) => i + 1).filter((s) => !count.has(s));
  const dup = [...count].filter(([, c]) => c > 1).map(([s]) => s);
  const disorder = seqs.findIndex((s, i) => i > 0 && s <= seqs[i - 1]!);
  if (missing.length) problems.push(`missing ${missing.length} (${missing.slice(0, 20).join(',')}…)`);
  if (dup.length) problems.push(`duplicated ${dup.length} (${dup.slice(0, 20).join(',')}…)`);
  if (disorder >= 0) problems.push(`out of order at index ${disorder}: …${seqs.slice(Math.max(0, disorder - 3), disorder + 3).join(',')}…`);
  if (seqs.length !== n) problems.push(`${seqs.length} received, ${n} expected`);
  return problems.length ? problems.join('; ') : 'ok';
}

function pushNode(lbPort: number, key: string, channel: string): TestClient {
  const seen = newSeen();
  const push = new Push({ url: `ws://127.0.0.1:${lbPort}`, app_key: key, platform: wsPushPlatform, reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
  const ch = push.subscribe(channel);
  ch.on('seq', (d: { seq: number }) => seen.seqs.push(d.seq));
  ch.on('pusher:recovered', (e: RecoveredEvent) => seen.recovered.push({ at: Date.now(), position: e.position }));
  ch.on('pusher:recovery_failed', (e: RecoveryFailedEvent) => seen.failed.push({ at: Date.now(), reason: e.reason, position: e.position }));
  return {
    name: 'push.js (Node)',
    seen: () => Promise.resolve({ ...seen, subscribed: ch.subscribed, connected: push.connection.state === 'connected' }),
    offline: () => Promise.resolve(push.disconnect()),
    online: () => Promise.resolve(push.connect()),
    close: () => Promise.resolve(push.disconnect()),
  };
}

function pusherJsNode(lbPort: number, key: string, channel: string): TestClient {
  const seen = newSeen();
  const pusher: PusherClient = new PusherJs(key, {
    cluster: '',
    wsHost: '127.0.0.1',
    wsPort: lbPort,
    forceTLS: false,
    enabledTransports: ['ws'],
    disableStats: true,
  });
  const stop = enableRecovery(pusher);
  const ch = pusher.subscribe(channel);
  ch.bind('seq', (d: { seq: number }) => seen.seqs.push(d.seq));
  ch.bind('pusher:recovered', (e: RecoveredEvent) => seen.recovered.push({ at: Date.now(), position: e.position }));
  ch.bind('pusher:recovery_failed', (e: RecoveryFailedEvent) => seen.failed.push({ at: Date.now(), reason: e.reason, position: e.position }));
  return {
    name: 'pusher-js + enableRecovery (Node)',
    seen: () => Promise.resolve({ ...seen, subscribed: ch.subscribed, connected: pusher.connection.state === 'connected' }),
    offline: () => Promise.resolve(pusher.disconnect()),
    online: () => Promise.resolve(pusher.connect()),
    close: () => {
      stop();
      pusher.disconnect();
      return Promise.resolve();
    },
  };
}

async function pushBrowser(browser: Browser, web: WebServer, pushJsUrl: string, lbPort: number, key: string, channel: string): Promise<TestClient> {
  const context = await browser.newContext();
  const page: Page = await context.newPage();
  const watched = watchPage(page);
  const url = web.page(`<!doctype html><meta charset="utf-8"><title>recovery</title>
<script src="${pushJsUrl}"></script>
<script>
  window.seen = { seqs: [], recovered: [], failed: [] };
  window.push = new Push({ url: 'ws://127.0.0.1:${lbPort}', app_key: ${JSON.stringify(key)}, reconnect: { minDelayMs: 50, maxDelayMs: 300 } });
  window.ch = push.subscribe(${JSON.stringify(channel)});
  ch.on('seq', function (d) { seen.seqs.push(d.seq); });
  ch.on('pusher:recovered', function (e) { seen.recovered.push({ at: Date.now(), position: e.position }); });
  ch.on('pusher:recovery_failed', function (e) { seen.failed.push({ at: Date.now(), reason: e.reason, position: e.position }); });
</script>`);
  await page.goto(url);
  const evaluate = <T>(fn: () => T): Promise<T> =>
    page.evaluate(fn).catch((err: unknown) => {
      throw new Error(`${(err as Error).message}\npage errors: ${watched.pageErrors.join('\n')}\nconsole: ${watched.console.join('\n')}`);
    });
  return {
    name: 'push.js (Chromium)',
    seen: () =>
      evaluate(() => {
        const w = window as unknown as { seen: Seen; ch: { subscribed: boolean }; push: { connection: { state: string } } };
        return { ...w.seen, subscribed: w.ch.subscribed, connected: w.push.connection.state === 'connected' };
      }),
    offline: () => evaluate(() => (window as unknown as { push: { disconnect(): void } }).push.disconnect()),
    online: () => evaluate(() => (window as unknown as { push: { connect(): void } }).push.connect()),
    close: () => context.close(),
  };
}

/** Sends `seq` events 1..n, one at a time (so that the channel's order is 1..n), at `perSecond` on an absolute schedule. */
function startPublisher(sdk: Pusher, channel: string, n: number, perSecond: number, first = 1) {
  let sent = first - 1;
  /** When each event's trigger was answered (index: seq - first). */
  const sentAt: number[] = [];
  const waiters: Array<{ k: number; resolve(): void }> = [];
  const done = (async () => {
    const start = Date.now();
    for (let seq = first; seq < first + n; seq++) {
      const due = start + ((seq - first) * 1000) / perSecond;
      const wait = due - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      await sdk.trigger(channel, 'seq', { seq });
      sent = seq;
      sentAt.push(Date.now());
      for (const w of waiters.filter((x) => x.k <= sent)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    }
    return Date.now() - start;
  })();
  // a failed trigger fails whoever waits for the publisher
  done.catch(() => undefined);
  return {
    done,
    sent: () => sent,
    /** How many events had been published (answered) at `t`. */
    sentBy: (t: number) => sentAt.filter((x) => x <= t).length,
    reached: (k: number) =>
      sent >= k ? Promise.resolve() : Promise.race([new Promise<void>((resolve) => waiters.push({ k, resolve })), done.then(() => undefined)]),
  };
}

describe('message recovery end to end (two gateways, a balancer, Redis)', () => {
  let redis: RedisHandle;
  let browser: Browser;
  let web: WebServer;
  const app = randomTestApp();
  const prefix = uniquePrefix();
  const nodes: NodeHandle[] = [];
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    [redis, browser, web] = await Promise.all([startRedis(), launchChromium(), startWebServer()]);
  });
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    await browser?.close();
    await web?.close();
    await redis?.stop();
  });

  /** Gateways A and B; the balancer sends new connections to A until `route(b)`. */
  async function cluster(tag: string) {
    const [a, b] = (await Promise.all(
      ['a', 'b'].map((n) => startNode({ app, redisUrl: redis.url, prefix, nodeId: `rec-${tag}-${n}-${prefix}`, env: HISTORY_ENV })),
    )) as [NodeHandle, NodeHandle];
    nodes.push(a, b);
    let targets = [a];
    const lb = await startTcpBalancer(() => targets.filter((n) => n.proc.exitCode === null && n.proc.signalCode === null).map((n) => n.wsPort));
    cleanups.push(() => lb.close());
    const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(b.apiPort), useTLS: false });
    return { a, b, lb, sdk, route: (to: NodeHandle) => (targets = [to]) };
  }

  async function recoveringClients(lbPort: number, pushJsUrl: string, channel: string): Promise<TestClient[]> {
    const clients = [
      pushNode(lbPort, app.key, channel),
      pusherJsNode(lbPort, app.key, channel),
      await pushBrowser(browser, web, pushJsUrl, lbPort, app.key, channel),
    ];
    for (const c of clients) cleanups.push(() => c.close());
    for (const c of clients) await expect.poll(async () => (await c.seen()).subscribed, poll).toBe(true);
    return clients;
  }

  /** Runs `body`; a failure carries the gateways' output. */
  async function withOutputs(ns: NodeHandle[], body: () => Promise<void>): Promise<void> {
    try {
      await body();
    } catch (err) {
      (err as Error).message += `\n${nodeOutputs(ns, 150)}`;
      throw err;
    }
  }

  async function expectAll(clients: TestClient[], n: number): Promise<Record<string, Seen>> {
    const out: Record<string, Seen> = {};
    for (const c of clients) {
      await expect.poll(async () => (await c.seen()).seqs.at(-1), { ...poll, message: `${c.name} got to seq ${n}` }).toBe(n);
      const seen = await c.seen();
      expect(checkSeqs(seen.seqs, n), c.name).toBe('ok');
      out[c.name] = seen;
    }
    return out;
  }

  for (const [how, signal] of [
    ['killed (SIGKILL)', 'SIGKILL'],
    ['drained (SIGTERM, 4200)', 'SIGTERM'],
  ] as const) {
    it(`1,000 events at ~200/s, the clients' gateway ${how} mid-stream: every event once, in order, and pusher:recovered`, async () => {
      const { a, b, lb, sdk, route } = await cluster(signal.toLowerCase());
      const channel = `rec-${signal.toLowerCase()}-${prefix}`;
      await withOutputs([a, b], async () => {
        const clients = await recoveringClients(lb.port, `${b.apiUrl}/push.js`, channel);
        const pub = startPublisher(sdk, channel, 1000, 200);
        await pub.reached(300);
        // new connections go to B from now on; the clients, all on A, are cut off mid-stream
        route(b);
        const cutAt = Date.now();
        const exit = await a.kill(signal);
        const cutSeq = pub.sent();
        const publishMs = await pub.done;
        const seen = await expectAll(clients, 1000);
        const report: string[] = [];
        let replayed = 0;
        for (const c of clients) {
          const s = seen[c.name]!;
          expect(s.failed, c.name).toEqual([]);
          expect(s.recovered.length, `${c.name} saw pusher:recovered`).toBe(1);
          const { at, position } = s.recovered[0]!;
          // the channel is fresh, so an event's offset is its seq: what was published after the
          // client's position and before it was told `pusher:recovered` reached it through the replay
          const missed = pub.sentBy(at) - Number(position!.split(':')[1]);
          replayed += missed;
          report.push(`${c.name}: pusher:recovered ${at - cutAt} ms after the ${signal}, from ${position}, ${missed} events missed and replayed`);
        }
        // the cut did open a gap that the replay closed (a reconnect within 5 ms of every event would not)
        expect(replayed).toBeGreaterThan(0);
        if (signal === 'SIGTERM') expect(exit).toBe(0);
        console.log(`[recovery e2e] ${how} at seq ${cutSeq}; 1000 events published in ${publishMs} ms\n  ${report.join('\n  ')}`);
      });
    }, 90_000);
  }

  it('a client offline for 10 s while events continue: every event once, in order', async () => {
    const { a, b, lb, sdk } = await cluster('offline');
    const channel = `rec-offline-${prefix}`;
    await withOutputs([a, b], async () => {
      const clients = await recoveringClients(lb.port, `${b.apiUrl}/push.js`, channel);
      // 1,000 events at 80/s: 12.5 s; offline from the 100th received until 820 more are published
      // (10.25 s at 80/s), the publisher still going when they come back
      const pub = startPublisher(sdk, channel, 1000, 80);
      await Promise.all(clients.map((c) => expect.poll(async () => (await c.seen()).seqs.length >= 100, poll).toBe(true)));
      const offAt = Date.now();
      await Promise.all(clients.map((c) => c.offline()));
      for (const c of clients) expect((await c.seen()).connected, c.name).toBe(false);
      await pub.reached(pub.sent() + 820);
      const offlineMs = Date.now() - offAt;
      expect(offlineMs).toBeGreaterThanOrEqual(10_000);
      const back = clients.map(async (c) => ({ c, got: (await c.seen()).seqs.length }));
      const atReconnect = await Promise.all(back);
      await Promise.all(clients.map((c) => c.online()));
      const seen = await expectAll(clients, 1000);
      await pub.done;
      const report: string[] = [];
      for (const c of clients) {
        const s = seen[c.name]!;
        expect(s.failed, c.name).toEqual([]);
        expect(s.recovered.length, `${c.name} saw pusher:recovered`).toBe(1);
        report.push(
          `${c.name}: had ${atReconnect.find((x) => x.c === c)!.got} at reconnect, recovered from ${s.recovered[0]!.position}, ${pub.sentBy(s.recovered[0]!.at) - Number(s.recovered[0]!.position!.split(':')[1])} events missed and replayed`,
        );
      }
      console.log(`[recovery e2e] offline ${offlineMs} ms\n  ${report.join('\n  ')}`);
    });
  }, 90_000);

  it('Redis restarted empty: resubscribing clients get pusher:recovery_failed (epoch_changed), then live events', async () => {
    const { a, b, lb, sdk, route } = await cluster('epoch');
    const channel = `rec-epoch-${prefix}`;
    await withOutputs([a, b], async () => {
      const clients = await recoveringClients(lb.port, `${b.apiUrl}/push.js`, channel);
      await startPublisher(sdk, channel, 50, 500).done;
      await expectAll(clients, 50);
      await redis.restart();
      await Promise.all([a.waitReady(), b.waitReady()]);
      // the clients resubscribe with positions of the lost history
      route(b);
      await a.kill('SIGKILL');
      for (const c of clients) {
        await expect.poll(async () => (await c.seen()).failed.length, { ...poll, message: `${c.name} got pusher:recovery_failed` }).toBe(1);
        const s = await c.seen();
        expect(s.failed[0]!.reason, c.name).toBe('epoch_changed');
        expect(s.recovered, c.name).toEqual([]);
        await expect.poll(async () => (await c.seen()).subscribed, poll).toBe(true);
      }
      // REST may answer 5xx while the gateways reconnect to the new Redis: wait for it to take a publish
      await expect.poll(async () => (await sdk.trigger(`warmup-${prefix}`, 'x', {})).status, poll).toBe(200);
      await startPublisher(sdk, channel, 10, 500, 51).done;
      await expectAll(clients, 60);
    });
  }, 90_000);

  it('stock pusher-js and Laravel Echo on a history channel receive the events unchanged, before and after a reconnect', async () => {
    const { a, b, lb, sdk, route } = await cluster('stock');
    const channel = `rec-stock-${prefix}`;
    await withOutputs([a, b], async () => {
      const options = { cluster: '', wsHost: '127.0.0.1', wsPort: lb.port, forceTLS: false, enabledTransports: ['ws' as const], disableStats: true };
      const pusher = new PusherJs(app.key, options);
      cleanups.push(() => Promise.resolve(pusher.disconnect()));
      // a raw socket beside them shows what is on the wire
      await using raw = await RawClient.established({ wsPort: lb.port, app });
      await raw.subscribe(channel);
      const fromPusher: Array<[string, unknown]> = [];
      const ch = pusher.subscribe(channel);
      ch.bind_global((event: string, data: unknown) => fromPusher.push([event, data]));

      const echo = new Echo({ broadcaster: 'pusher', key: app.key, ...options, Pusher: PusherJs as never });
      cleanups.push(() => Promise.resolve(echo.disconnect()));
      const fromEcho: unknown[] = [];
      // every event Echo's listenToAll reports (names outside its namespace get a leading '.')
      const echoOthers: string[] = [];
      let echoSubscribed = 0;
      echo
        .channel(channel)
        .subscribed(() => echoSubscribed++)
        .listen('.msg', (d: unknown) => fromEcho.push(d))
        .listenToAll((event: string) => echoOthers.push(event));
      await expect.poll(() => ch.subscribed && echoSubscribed === 1, poll).toBe(true);

      const payloads: unknown[] = [{ seq: 1, text: 'héllo ✓', nested: { list: [1, 2, 3], none: null } }, 'plain text', 42, [{ a: 1 }], { seq: 5 }];
      for (const p of payloads) await sdk.trigger(channel, 'msg', p);
      await expect.poll(() => fromEcho.length, poll).toBe(payloads.length);
      await expect.poll(() => fromPusher.length, poll).toBe(payloads.length + 1);
      expect(fromPusher).toEqual([['pusher:subscription_succeeded', {}], ...payloads.map((p) => ['msg', p])]);
      expect(fromEcho).toEqual(payloads);
      // the channel does keep history: every event carried a position, which neither client passed on
      await expect.poll(() => raw.events('msg').length, poll).toBe(payloads.length);
      for (const f of raw.events('msg')) expect((f as { position?: string }).position).toMatch(/^[0-9a-z]{8,16}:\d+$/);
      expect(echoOthers).toEqual(payloads.map(() => '.msg'));

      // their gateway killed: they reconnect and subscribe again (without a position) and carry on
      route(b);
      await a.kill('SIGKILL');
      await expect.poll(() => fromPusher.length, poll).toBe(payloads.length + 2);
      await expect.poll(() => echoSubscribed, poll).toBe(2);
      const after = { seq: 6, text: 'after the reconnect' };
      await sdk.trigger(channel, 'msg', after);
      await expect.poll(() => fromEcho.length, poll).toBe(payloads.length + 1);
      await expect.poll(() => fromPusher.length, poll).toBe(payloads.length + 3);
      expect(fromPusher.slice(payloads.length + 1)).toEqual([
        ['pusher:subscription_succeeded', {}],
        ['msg', after],
      ]);
      expect(fromEcho.at(-1)).toEqual(after);
      expect(echoOthers).toEqual([...payloads, after].map(() => '.msg'));
    });
  }, 60_000);
});
