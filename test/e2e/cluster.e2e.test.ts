import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  metric,
  type NodeHandle,
  type PusherClient,
  randomTestApp,
  RawClient,
  type RedisHandle,
  sdkFor,
  startNode,
  startRedis,
  subscribeAndWait,
  type TestApp,
  uniquePrefix,
  waitForState,
} from '@herald/test-support';

/**
 * Three gateway processes on one real redis-server, clients spread over the nodes, events
 * triggered through the official SDK on another node.
 */
describe('clustered mode: three gateways on one Redis', () => {
  let redis: RedisHandle;
  let app: TestApp;
  let prefix: string;
  let nodes: NodeHandle[] = [];
  const clients: PusherClient[] = [];
  const raws: RawClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  const start = async (n: number, env: Record<string, string> = {}) => {
    app = randomTestApp();
    prefix = uniquePrefix();
    nodes = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        startNode({ app, redisUrl: redis.url, prefix, nodeId: `n${i}-${prefix}`, env: { PUSH_NODE_LEASE_MS: '2000', ...env } }),
      ),
    );
  };
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const r of raws.splice(0)) await r[Symbol.asyncDispose]();
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    nodes = [];
  });

  const sdk = (node: NodeHandle) => sdkFor(app, node);
  const pusherOn = async (node: NodeHandle) => {
    const c = connectPusherJs({ wsPort: node.wsPort, app });
    clients.push(c);
    await waitForState(c, 'connected');
    return c;
  };
  const rawOn = async (node: NodeHandle) => {
    const r = await RawClient.established({ wsPort: node.wsPort, app });
    raws.push(r);
    return r;
  };
  const channelEvents = (r: RawClient, event: string) => r.frames.filter((f) => f.event === event);

  it('delivers each triggered event exactly once to subscribers on every node', async () => {
    await start(3);
    const subs = await Promise.all(
      nodes.map(async (n) => {
        const c = await pusherOn(n);
        const ch = await subscribeAndWait(c, 'orders');
        const got: unknown[] = [];
        ch.bind('created', (d: unknown) => got.push(d));
        return got;
      }),
    );
    for (let i = 0; i < 20; i++) await sdk(nodes[i % 3]!).trigger('orders', 'created', { i });
    for (const got of subs) await expect.poll(() => got.length).toBe(20);
    // A later marker proves no duplicate was still on its way.
    await sdk(nodes[0]!).trigger('orders', 'created', { i: 'end' });
    for (const got of subs) await expect.poll(() => got.length).toBe(21);
    for (const got of subs) expect(got.map((d) => (d as { i: unknown }).i)).toEqual([...Array.from({ length: 20 }, (_, i) => i), 'end']);
  });

  it('excludes socket_id wherever the socket lives, and only that socket', async () => {
    await start(3);
    const a = await rawOn(nodes[0]!);
    const b = await rawOn(nodes[1]!);
    await a.subscribe('room');
    await b.subscribe('room');
    await sdk(nodes[2]!).trigger('room', 'ev', { n: 1 }, { socket_id: a.socketId });
    await sdk(nodes[2]!).trigger('room', 'ev', { n: 2 });
    await b.waitFor((f) => f.event === 'ev' && f.data === '{"n":2}');
    await a.waitFor((f) => f.event === 'ev' && f.data === '{"n":2}');
    expect(channelEvents(a, 'ev').map((f) => f.data)).toEqual(['{"n":2}']);
    expect(channelEvents(b, 'ev').map((f) => f.data)).toEqual(['{"n":1}', '{"n":2}']);
  });

  it('relays client events across nodes but never to the sender', async () => {
    await start(3);
    const rs = await Promise.all(nodes.map((n) => rawOn(n)));
    const s = sdk(nodes[0]!);
    for (const r of rs) {
      const { auth } = s.authorizeChannel(r.socketId, 'private-chat');
      expect((await r.subscribe('private-chat', { auth })).event).toBe('pusher_internal:subscription_succeeded');
    }
    rs[0]!.send({ event: 'client-typing', channel: 'private-chat', data: { who: 0 } });
    await rs[1]!.waitFor((f) => f.event === 'client-typing');
    await rs[2]!.waitFor((f) => f.event === 'client-typing');
    expect(channelEvents(rs[1]!, 'client-typing')[0]!.data).toBe('{"who":0}');
    rs[1]!.send({ event: 'client-typing', channel: 'private-chat', data: { who: 1 } });
    await rs[0]!.waitFor((f) => f.event === 'client-typing');
    await rs[2]!.waitFor((f) => f.event === 'client-typing' && f.data === '{"who":1}');
    expect(channelEvents(rs[0]!, 'client-typing').map((f) => f.data)).toEqual(['{"who":1}']);
    expect(channelEvents(rs[1]!, 'client-typing').map((f) => f.data)).toEqual(['{"who":0}']);
  });

  it('keeps presence cluster-wide: lists, member_added/removed once per user, queries from every node', async () => {
    await start(3);
    const s = sdk(nodes[0]!);
    const join = async (r: RawClient, userId: string) => {
      const channel_data = JSON.stringify({ user_id: userId, user_info: { name: userId } });
      const { auth } = s.authorizeChannel(r.socketId, 'presence-room', { user_id: userId, user_info: { name: userId } });
      return r.subscribe('presence-room', { auth, channel_data });
    };
    const alice = await rawOn(nodes[0]!);
    const bob1 = await rawOn(nodes[1]!);
    const bob2 = await rawOn(nodes[2]!);
    await join(alice, 'alice');
    const ok = await join(bob1, 'bob');
    expect(JSON.parse(ok.data as string).presence).toMatchObject({ count: 2, hash: { alice: { name: 'alice' }, bob: { name: 'bob' } } });
    await alice.waitFor((f) => f.event === 'pusher_internal:member_added');
    await join(bob2, 'bob');
    for (const n of nodes) {
      const r = await sdk(n).get({ path: '/channels/presence-room/users' });
      expect(((await r.json()) as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual(['alice', 'bob']);
      const info = await sdk(n).get({ path: '/channels/presence-room', params: { info: 'user_count,subscription_count' } });
      expect(await info.json()).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });
    }
    await bob1[Symbol.asyncDispose]();
    await bob2[Symbol.asyncDispose]();
    await alice.waitFor((f) => f.event === 'pusher_internal:member_removed');
    expect(channelEvents(alice, 'pusher_internal:member_added')).toHaveLength(1);
    expect(channelEvents(alice, 'pusher_internal:member_removed')).toHaveLength(1);
    const chans = await sdk(nodes[2]!).get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } });
    expect(await chans.json()).toEqual({ channels: { 'presence-room': { user_count: 1 } } });
  });

  it('enforces the app connection quota and API rate cluster-wide', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-quota-'));
    const file = join(dir, 'apps.json');
    app = randomTestApp();
    prefix = uniquePrefix();
    writeFileSync(file, JSON.stringify([{ ...app, maxConnections: 3, maxApiRequestsPerSecond: 4 }]));
    nodes = await Promise.all([0, 1].map((i) => startNode({ app, redisUrl: redis.url, prefix, nodeId: `q${i}-${prefix}`, env: { PUSH_APPS_FILE: file } })));
    const [n0, n1] = nodes as [NodeHandle, NodeHandle];
    await rawOn(n0);
    await rawOn(n0);
    await rawOn(n1);
    // Counts are shared about once a second: within a few seconds a 4th connection on either node is refused.
    await expect
      .poll(
        async () => {
          const extra = await RawClient.connect(`ws://127.0.0.1:${n1.wsPort}/app/${app.key}`);
          const f = await extra.waitFor((x) => x.event === 'pusher:connection_established' || x.event === 'pusher:error');
          await extra[Symbol.asyncDispose]();
          return f.event === 'pusher:error' ? (f.data as { code: number }).code : 0;
        },
        { interval: 300 },
      )
      .toBe(4004);
    const t0 = Date.now();
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        sdk(nodes[i % 2]!)
          .trigger('x', 'e', {})
          .then(
            (r) => r.status,
            (e: { status: number }) => e.status,
          ),
      ),
    );
    const seconds = Math.floor((Date.now() - t0) / 1000) + 2; // the one-second windows the burst touched
    const ok = statuses.filter((st) => st === 200).length;
    // 4 per second for the app as a whole, though requests went to two nodes.
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(4 * seconds);
    expect(statuses.filter((st) => st === 429).length).toBe(20 - ok);
    expect(20 - ok).toBeGreaterThan(0);
  });

  it('terminates a user on every node', async () => {
    await start(3);
    const s = sdk(nodes[0]!);
    const signIn = async (r: RawClient, id: string) => {
      const { auth, user_data } = s.authenticateUser(r.socketId, { id });
      r.send({ event: 'pusher:signin', data: { auth, user_data } });
      await r.waitFor((f) => f.event === 'pusher:signin_success');
    };
    const u1 = await Promise.all(nodes.map((n) => rawOn(n)));
    for (const r of u1) await signIn(r, 'u1');
    const other = await rawOn(nodes[1]!);
    await signIn(other, 'u2');
    await sdk(nodes[2]!).terminateUserConnections('u1');
    for (const r of u1) expect(await r.closed).toBe(4009);
    other.send({ event: 'pusher:ping' });
    await other.waitFor((f) => f.event === 'pusher:pong');
  });

  it('routes by interest: a node without subscribers of a channel receives nothing for it', async () => {
    await start(3);
    const a = await rawOn(nodes[0]!);
    await a.subscribe('only-on-a');
    const probe = new Redis(redis.url);
    try {
      const numsub = async () => (await probe.pubsub('NUMSUB', `${prefix}:{${app.id}:only-on-a}:t`)) as [string, number];
      await expect.poll(async () => (await numsub())[1]).toBe(1);
      for (let i = 0; i < 5; i++) await sdk(nodes[1]!).trigger('only-on-a', 'ev', { i });
      await expect.poll(() => channelEvents(a, 'ev').length).toBe(5);
      const received = async (n: NodeHandle) => metric(n.apiUrl, 'herald_redis_publications_in');
      expect(await received(nodes[0]!)).toBe(5);
      expect(await received(nodes[1]!)).toBe(0);
      expect(await received(nodes[2]!)).toBe(0);
      await a[Symbol.asyncDispose]();
      raws.splice(raws.indexOf(a), 1);
      await expect.poll(async () => (await numsub())[1]).toBe(0);
    } finally {
      probe.disconnect();
    }
  });

  it('removes the members of a SIGKILLed gateway within the lease bound', async () => {
    await start(3);
    const s = sdk(nodes[0]!);
    const join = async (r: RawClient, userId: string) => {
      const { auth } = s.authorizeChannel(r.socketId, 'presence-x', { user_id: userId });
      return r.subscribe('presence-x', { auth, channel_data: JSON.stringify({ user_id: userId }) });
    };
    const watcher = await rawOn(nodes[0]!);
    await join(watcher, 'watcher');
    const doomed = await rawOn(nodes[2]!);
    await join(doomed, 'doomed');
    await watcher.waitFor((f) => f.event === 'pusher_internal:member_added');
    const t0 = Date.now();
    await nodes[2]!.kill('SIGKILL');
    await watcher.waitFor((f) => f.event === 'pusher_internal:member_removed');
    const took = Date.now() - t0;
    // The lease is 2 s (expired after ~2.5 s); generous for a busy machine, while a removal that waited
    // for anything but the lease (a restart, a client's activity timeout) would still fail it.
    expect(took).toBeLessThan(2000 + 8000);
    const users = await (await s.get({ path: '/channels/presence-x/users' })).json();
    expect(users).toEqual({ users: [{ id: 'watcher' }] });
    const info = await (await s.get({ path: '/channels/presence-x', params: { info: 'subscription_count' } })).json();
    expect(info).toEqual({ occupied: true, subscription_count: 1 });
  });

  it('a restarted node with the same id leaves no ghosts', async () => {
    await start(1);
    const s = sdk(nodes[0]!);
    const r = await rawOn(nodes[0]!);
    const { auth } = s.authorizeChannel(r.socketId, 'presence-g', { user_id: 'ghost' });
    await r.subscribe('presence-g', { auth, channel_data: JSON.stringify({ user_id: 'ghost' }) });
    const { wsPort, apiPort, nodeId } = nodes[0]!;
    await nodes[0]!.kill('SIGKILL');
    nodes[0] = await startNode({ app, redisUrl: redis.url, prefix, nodeId, wsPort, apiPort, env: { PUSH_NODE_LEASE_MS: '60000' } });
    const users = await (await sdk(nodes[0]).get({ path: '/channels/presence-g/users' })).json();
    expect(users).toEqual({ users: [] });
    expect(await (await sdk(nodes[0]).get({ path: '/channels' })).json()).toEqual({ channels: {} });
  });

  it('survives a Redis restart under traffic: /ready 503 meanwhile, nothing duplicated, delivery resumes, counts converge', async () => {
    await start(2);
    const s0 = sdk(nodes[0]!);
    const a = await rawOn(nodes[0]!);
    const b = await rawOn(nodes[1]!);
    await a.subscribe('news');
    await b.subscribe('news');
    const { auth } = s0.authorizeChannel(b.socketId, 'presence-p', { user_id: 'bee' });
    await b.subscribe('presence-p', { auth, channel_data: JSON.stringify({ user_id: 'bee' }) });
    // A publisher through node 1 runs during the whole outage; failed triggers are simply lost.
    let seq = 0;
    let running = true;
    const publisher = (async () => {
      while (running) {
        await sdk(nodes[1]!)
          .trigger('news', 'tick', { seq: seq++ })
          .catch(() => undefined);
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await expect.poll(() => channelEvents(a, 'tick').length).toBeGreaterThan(3);
    await redis.kill();
    for (const n of nodes) await expect.poll(async () => (await fetch(`${n.apiUrl}/ready`)).status).toBe(503);
    // Sockets stay open while Redis is away.
    a.send({ event: 'pusher:ping' });
    await a.waitFor((f) => f.event === 'pusher:pong');
    await redis.restart();
    for (const n of nodes) await n.waitReady();
    await expect
      .poll(async () => {
        const r = await (await sdk(nodes[1]!).get({ path: '/channels', params: { info: 'subscription_count' } })).json();
        return r;
      })
      .toEqual({ channels: { news: { subscription_count: 2 }, 'presence-p': { subscription_count: 1 } } });
    const resumedAt = seq;
    await expect.poll(() => channelEvents(a, 'tick').some((f) => JSON.parse(f.data as string).seq > resumedAt + 5)).toBe(true);
    running = false;
    await publisher;
    for (const r of [a, b]) {
      const seqs = channelEvents(r, 'tick').map((f) => (JSON.parse(f.data as string) as { seq: number }).seq);
      // At most once and in order: strictly increasing, so nothing was delivered twice.
      expect(seqs.every((v, i) => i === 0 || v > seqs[i - 1]!)).toBe(true);
      // Everything published after recovery arrived.
      const after = seqs.filter((v) => v >= resumedAt);
      expect(after).toEqual(Array.from({ length: after.length }, (_, i) => resumedAt + i));
    }
    expect(a.closeCode).toBeUndefined();
    expect(b.closeCode).toBeUndefined();
    expect(await (await s0.get({ path: '/channels/presence-p/users' })).json()).toEqual({ users: [{ id: 'bee' }] });
  });
});
