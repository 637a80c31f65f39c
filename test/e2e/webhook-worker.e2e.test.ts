import { Redis } from 'ioredis';
import Pusher from 'pusher';
import { RedisKeys } from '@herald/broker';
import { afterAll, describe, type ExpectStatic, it, type OnTestFinishedHandler } from 'vitest';
import {
  type NodeHandle,
  randomTestApp,
  RawClient,
  redisPerFile,
  startNode,
  startRedis,
  startWebhookReceiver,
  type TestApp,
  uniquePrefix,
  type WebhookEventRecord,
} from '@herald/test-support';

const names = (events: WebhookEventRecord[], channel?: string) =>
  events.filter((e) => channel === undefined || e.channel === channel).map((e) => (e.user_id ? `${e.name}:${e.user_id}` : String(e.name)));

/**
 * The processes and sockets of one test, closed and SIGKILLed once it finished, and its context's
 * `expect`: the tests of a file run concurrently.
 */
interface Scope {
  expect: ExpectStatic;
  procs: NodeHandle[];
  raws: RawClient[];
}
function scopeOf({ expect, onTestFinished }: { expect: ExpectStatic; onTestFinished: (fn: OnTestFinishedHandler) => void }): Scope {
  const scope: Scope = { expect, procs: [], raws: [] };
  onTestFinished(async () => {
    for (const r of scope.raws.splice(0)) await r[Symbol.asyncDispose]();
    await Promise.all(scope.procs.splice(0).map((n) => n.kill('SIGKILL')));
  });
  return scope;
}

// Each test has its own key prefix, gateways, workers and receiver on the file's redis-server, and
// spends its time waiting out the webhook delay, leases and retries: they run side by side.
describe.concurrent('webhook worker (clustered webhooks from Redis)', () => {
  const fx = redisPerFile();
  let redis: Redis | undefined;
  afterAll(() => redis?.disconnect());
  /** Names of the decided events of `channel` waiting in the outbox stream (entries leave it once delivered). */
  const outboxNames = async (prefix: string, channel: string) => {
    redis ??= new Redis(fx.redis.url);
    const entries = await redis.xrange(new RedisKeys(prefix).webhookOutbox(), '-', '+');
    return entries
      .map(([, f]) => JSON.parse(f[f.indexOf('ev') + 1]!) as { name: string; channel: string })
      .filter((e) => e.channel === channel)
      .map((e) => e.name);
  };

  async function cluster({ procs }: Scope, opts: { gateways?: number; workers?: number; env?: Record<string, string>; app?: TestApp; hookUrl: string }) {
    const app = opts.app!;
    const prefix = uniquePrefix();
    const env = { PUSH_WEBHOOK_URL: opts.hookUrl, PUSH_WEBHOOK_DELAY_MS: '1000', PUSH_NODE_LEASE_MS: '2000', ...opts.env };
    const gateways = await Promise.all(
      Array.from({ length: opts.gateways ?? 2 }, (_, i) => startNode({ app, redisUrl: fx.redis.url, prefix, nodeId: `g${i}-${prefix}`, env })),
    );
    const workers = await Promise.all(
      Array.from({ length: opts.workers ?? 1 }, (_, i) => startNode({ app, redisUrl: fx.redis.url, prefix, nodeId: `w${i}-${prefix}`, env, role: 'worker' })),
    );
    procs.push(...gateways, ...workers);
    const startWorker = async (i: number) => {
      const w = await startNode({ app, redisUrl: fx.redis.url, prefix, nodeId: `w${i}-${prefix}`, env, role: 'worker' });
      procs.push(w);
      return w;
    };
    return {
      app,
      prefix,
      gateways,
      workers,
      startWorker,
      sdk: (n: NodeHandle) => new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(n.apiPort), useTLS: false }),
    };
  }
  const raw = async ({ raws }: Scope, app: TestApp, n: NodeHandle) => {
    const r = await RawClient.established({ wsPort: n.wsPort, app });
    raws.push(r);
    return r;
  };
  const joinPresence = async (c: { sdk: (n: NodeHandle) => Pusher }, n: NodeHandle, r: RawClient, channel: string, user: string) => {
    const { auth } = c.sdk(n).authorizeChannel(r.socketId, channel, { user_id: user });
    return r.subscribe(channel, { auth, channel_data: JSON.stringify({ user_id: user }) });
  };
  const close = async ({ raws }: Scope, r: RawClient) => {
    await r[Symbol.asyncDispose]();
    raws.splice(raws.indexOf(r), 1);
  };

  it('sends one occupied and one vacated per real transition, nothing for a reload, members once per user across nodes', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      // The reload below must fit in the debounce delay on a busy machine: the longest Herald accepts.
      const DELAY = 3000;
      const c = await cluster(sc, { app, hookUrl: rx.url, env: { PUSH_WEBHOOK_DELAY_MS: String(DELAY) } });
      const [g0, g1] = c.gateways as [NodeHandle, NodeHandle];
      const a = await raw(sc, app, g0);
      await a.subscribe('user-1');
      await expect.poll(() => names(rx.events(), 'user-1')).toEqual(['channel_occupied']);
      // A page reload: leave and come back (on another node) within the window.
      const leftAt = Date.now();
      await close(sc, a);
      const b = await raw(sc, app, g1);
      await b.subscribe('user-1');
      expect(Date.now() - leftAt, 'the reload took longer than the delay: this run proves nothing').toBeLessThan(DELAY);
      // The same user on two nodes of a presence channel.
      const p1 = await raw(sc, app, g0);
      const p2 = await raw(sc, app, g1);
      await joinPresence(c, g0, p1, 'presence-room', 'alice');
      await joinPresence(c, g1, p2, 'presence-room', 'alice');
      await expect.poll(() => names(rx.events(), 'presence-room')).toEqual(['channel_occupied', 'member_added:alice']);
      await close(sc, p1);
      await close(sc, p2);
      await close(sc, b);
      await expect.poll(() => names(rx.events(), 'user-1')).toEqual(['channel_occupied', 'channel_vacated']);
      await expect
        .poll(() => names(rx.events(), 'presence-room'))
        .toEqual(['channel_occupied', 'member_added:alice', 'member_removed:alice', 'channel_vacated']);
      expect(rx.delivered().every((h) => h.valid)).toBe(true);
    } finally {
      await rx.close();
    }
  });

  it('reports the members and channels of a SIGKILLed gateway within the lease bound plus the delay', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      const c = await cluster(sc, { app, hookUrl: rx.url });
      const [g0, g1] = c.gateways as [NodeHandle, NodeHandle];
      const stay = await raw(sc, app, g0);
      await joinPresence(c, g0, stay, 'presence-crash', 'stayer');
      const doomed = await raw(sc, app, g1);
      await joinPresence(c, g1, doomed, 'presence-crash', 'doomed');
      await doomed.subscribe('only-on-g1');
      await expect.poll(() => names(rx.events(), 'only-on-g1')).toEqual(['channel_occupied']);
      await expect.poll(() => names(rx.events(), 'presence-crash').sort()).toEqual(['channel_occupied', 'member_added:doomed', 'member_added:stayer']);
      const t0 = Date.now();
      await g1.kill('SIGKILL');
      await expect.poll(() => names(rx.events(), 'only-on-g1'), { timeout: 30_000 }).toEqual(['channel_occupied', 'channel_vacated']);
      await expect
        .poll(() => names(rx.events(), 'presence-crash').filter((n) => n.startsWith('member_removed')), { timeout: 30_000 })
        .toEqual(['member_removed:doomed']);
      // lease 2 s (+ reaper period) + delay 1 s, with a generous margin for a busy machine; reports that
      // waited for anything but the lease (a restart of the gateway, say) would still fail it
      expect(Date.now() - t0).toBeLessThan(2000 + 1000 + 12_000);
    } finally {
      await rx.close();
    }
  });

  it('loses nothing and sends nothing twice when the worker is SIGKILLed mid-stream and restarted', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      const c = await cluster(sc, { app, hookUrl: rx.url, env: { PUSH_WEBHOOK_CLAIM_MS: '2000' } });
      const [g0] = c.gateways as [NodeHandle];
      const clients: RawClient[] = [];
      for (let i = 0; i < 10; i++) {
        const r = await raw(sc, app, g0);
        await r.subscribe(`ch-${i}`);
        clients.push(r);
      }
      await expect.poll(() => rx.events().length).toBe(10);
      // Kill the worker, change the world while it is away, restart it.
      await c.workers[0]!.kill('SIGKILL');
      for (let i = 0; i < 5; i++) await close(sc, clients[i]!);
      for (let i = 10; i < 13; i++) {
        const r = await raw(sc, app, g0);
        await r.subscribe(`ch-${i}`);
      }
      await c.startWorker(0);
      // Per channel, so that a failure shows which transitions did not come.
      const perChannel = () => Array.from({ length: 13 }, (_, i) => names(rx.unique(), `ch-${i}`));
      const expected = Array.from({ length: 13 }, (_, i) => (i < 5 ? ['channel_occupied', 'channel_vacated'] : ['channel_occupied']));
      await expect.poll(perChannel, { timeout: 30_000 }).toEqual(expected);
      // At-least-once: a worker killed between a 2xx and its acknowledgement re-sends, and the
      // re-sent events carry the same ids; every event has an id.
      expect(rx.ids()).toHaveLength(rx.events().length);
      const dupes = rx.ids().length - new Set(rx.ids()).size;
      expect(dupes).toBeLessThanOrEqual(10);
    } finally {
      await rx.close();
    }
  });

  it('two workers at once: every transition is sent once', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      const c = await cluster(sc, { app, hookUrl: rx.url, workers: 2 });
      const [g0, g1] = c.gateways as [NodeHandle, NodeHandle];
      const rs: RawClient[] = [];
      for (let i = 0; i < 8; i++) {
        const r = await raw(sc, app, i % 2 ? g1 : g0);
        await r.subscribe(`two-${i}`);
        await joinPresence(c, i % 2 ? g1 : g0, r, 'presence-two', `u${i}`);
        rs.push(r);
      }
      // Everyone was reported (a join and leave inside the delay would rightly send nothing)...
      await expect.poll(() => rx.events().length).toBe(8 + 1 + 8);
      for (const r of rs.slice(0, 4)) await close(sc, r);
      await expect.poll(() => rx.events().length).toBe(8 + 1 + 8 + 4 + 4);
      for (let i = 0; i < 8; i++) expect(names(rx.events(), `two-${i}`)).toEqual(i < 4 ? ['channel_occupied', 'channel_vacated'] : ['channel_occupied']);
      const pres = names(rx.events(), 'presence-two');
      expect(pres.filter((n) => n === 'channel_occupied')).toHaveLength(1);
      expect(pres.filter((n) => n.startsWith('member_added')).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `member_added:u${i}`));
      expect(pres.filter((n) => n.startsWith('member_removed')).sort()).toEqual(Array.from({ length: 4 }, (_, i) => `member_removed:u${i}`));
      const ids = rx.ids();
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      await rx.close();
    }
  });

  it('receiver down for a while: everything arrives afterwards, in order per channel', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      rx.setMode('down');
      const c = await cluster(sc, { app, hookUrl: rx.url });
      const [g0] = c.gateways as [NodeHandle];
      const r = await raw(sc, app, g0);
      await r.subscribe('flappy');
      // occupied decided (after the delay) while the receiver is down, then vacated behind it (were fixed 1.5 s sleeps)
      await expect.poll(() => outboxNames(c.prefix, 'flappy')).toEqual(['channel_occupied']);
      await close(sc, r);
      await expect.poll(() => outboxNames(c.prefix, 'flappy')).toEqual(['channel_occupied', 'channel_vacated']);
      expect(rx.events()).toEqual([]);
      rx.setMode('up');
      await expect.poll(() => names(rx.events(), 'flappy'), { timeout: 30_000 }).toEqual(['channel_occupied', 'channel_vacated']);
    } finally {
      await rx.close();
    }
  });

  it('receiver never up: dead-lettered, listed, then replayed on request', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      rx.setMode('down');
      const admin = { authorization: 'Bearer e2e-admin-token-0123456789' };
      const c = await cluster(sc, { app, hookUrl: rx.url, env: { PUSH_WEBHOOK_RETRY_WINDOW_MS: '1500', PUSH_ADMIN_TOKEN: 'e2e-admin-token-0123456789' } });
      const [g0] = c.gateways as [NodeHandle];
      const w = c.workers[0]!;
      const r = await raw(sc, app, g0);
      await r.subscribe('dead-end');
      const dead = async () =>
        (
          (await (await fetch(`${w.apiUrl}/dead-letters`, { headers: admin })).json()) as {
            dead_letters: { id: string; events: { name: string }[]; target: string }[];
          }
        ).dead_letters;
      await expect.poll(async () => (await dead()).length).toBe(1);
      const [d] = await dead();
      expect(d!.events.map((e) => e.name)).toEqual(['channel_occupied']);
      expect(d!.target).toBe(rx.url);
      rx.setMode('up');
      const res = await fetch(`${w.apiUrl}/dead-letters/replay`, {
        method: 'POST',
        headers: { ...admin, 'content-type': 'application/json' },
        body: '{"all":true}',
      });
      expect(await res.json()).toEqual({ replayed: 1 });
      await expect.poll(() => names(rx.events(), 'dead-end')).toEqual(['channel_occupied']);
      expect(await dead()).toEqual([]);
      const metrics = await (await fetch(`${w.apiUrl}/metrics`)).text();
      expect(metrics).toMatch(/herald_webhook_dead_lettered\{[^}]*\} 1/);
    } finally {
      await rx.close();
    }
  });

  it('client events and cache misses from gateways are delivered by the worker', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      const c = await cluster(sc, { app, hookUrl: rx.url });
      const [g0, g1] = c.gateways as [NodeHandle, NodeHandle];
      const a = await raw(sc, app, g0);
      const b = await raw(sc, app, g1);
      for (const r of [a, b]) {
        const { auth } = c.sdk(g0).authorizeChannel(r.socketId, 'private-chat');
        await r.subscribe('private-chat', { auth });
      }
      a.send({ event: 'client-typing', channel: 'private-chat', data: { on: true } });
      await b.waitFor((f) => f.event === 'client-typing');
      await b.subscribe('cache-empty');
      await expect
        .poll(() => rx.events().filter((e) => e.name === 'client_event' || e.name === 'cache_miss'))
        .toEqual([
          { name: 'client_event', channel: 'private-chat', event: 'client-typing', data: '{"on":true}', socket_id: a.socketId },
          { name: 'cache_miss', channel: 'cache-empty' },
        ]);
    } finally {
      await rx.close();
    }
  });

  it('refuses to start when CONFIG is forbidden, saying which flags to set', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    await using locked = await startRedis({ args: ['--rename-command', 'CONFIG', '""'] });
    const app = randomTestApp();
    const w = await startNode({ app, redisUrl: locked.url, prefix: uniquePrefix(), role: 'worker', waitReady: false });
    sc.procs.push(w);
    expect(await w.exited).toBe(1);
    expect(w.output()).toMatch(/notify-keyspace-events/);
    expect(w.output()).toMatch(/Khg/);
  });

  it('works when the flags are already configured and CONFIG is forbidden', async (ctx) => {
    const sc = scopeOf(ctx);
    const { expect } = sc;
    await using locked = await startRedis({ args: ['--notify-keyspace-events', 'Khg', '--rename-command', 'CONFIG', '""'] });
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    try {
      const prefix = uniquePrefix();
      const env = { PUSH_WEBHOOK_URL: rx.url, PUSH_WEBHOOK_DELAY_MS: '1000' };
      const g = await startNode({ app, redisUrl: locked.url, prefix, env });
      sc.procs.push(g);
      // CONFIG GET is refused too: the worker cannot check, and says so instead of guessing.
      const w = await startNode({ app, redisUrl: locked.url, prefix, env, role: 'worker', waitReady: false });
      sc.procs.push(w);
      expect(await w.exited).toBe(1);
      expect(w.output()).toMatch(/notify-keyspace-events/);
    } finally {
      await rx.close();
    }
  });
});

// Concurrent with the tests above: its own Redis Cluster, nodes and receiver.
describe.concurrent('webhook worker on Redis Cluster', () => {
  it('listens on every primary: occupancy on channels of every shard is reported', async ({ expect }) => {
    const { startRedisCluster } = await import('@herald/test-support');
    await using rc = await startRedisCluster();
    const app = randomTestApp();
    const rx = await startWebhookReceiver(app);
    const procs: NodeHandle[] = [];
    const clients: RawClient[] = [];
    try {
      const prefix = uniquePrefix();
      const env = {
        REDIS_CLUSTER_NODES: rc.nodes.map((n) => `${n.host}:${n.port}`).join(','),
        PUSH_REDIS_PREFIX: prefix,
        PUSH_WEBHOOK_URL: rx.url,
        PUSH_WEBHOOK_DELAY_MS: '1000',
      };
      procs.push(await startNode({ app, role: 'gateway', env }));
      procs.push(await startNode({ app, role: 'worker', env }));
      // Twelve channels hash to slots spread over the three primaries.
      for (let i = 0; i < 12; i++) {
        const r = await RawClient.established({ wsPort: procs[0]!.wsPort, app });
        clients.push(r);
        await r.subscribe(`shard-${i}`);
      }
      await expect.poll(() => rx.events().length, { timeout: 30_000 }).toBe(12);
      expect(new Set(rx.events().map((e) => e.channel)).size).toBe(12);
      for (const r of clients.splice(0, 6)) await r[Symbol.asyncDispose]();
      await expect.poll(() => rx.events().filter((e) => e.name === 'channel_vacated').length, { timeout: 30_000 }).toBe(6);
    } finally {
      for (const r of clients) await r[Symbol.asyncDispose]();
      await Promise.all(procs.map((p) => p.kill('SIGKILL')));
      await rx.close();
    }
  }, 90_000);
});
