import Pusher from 'pusher';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NodeHandle,
  type PusherClient,
  PusherJs,
  randomTestApp,
  RawClient,
  type RedisHandle,
  startNode,
  startRedis,
  startTcpBalancer,
  subscribeAndWait,
  uniquePrefix,
  waitForState,
} from '@herald/test-support';

/**
 * The "done when", as a user would try it: three `npm run gateway` processes on one Redis
 * behind a plain TCP balancer serve unmodified pusher-js clients as one server.
 */
describe('three gateways behind a TCP balancer', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('serves as one server, survives a node crash and a Redis restart', async () => {
    const app = randomTestApp();
    const prefix = uniquePrefix();
    const env = { PUSH_NODE_LEASE_MS: '3000' };
    const nodes: NodeHandle[] = await Promise.all([0, 1, 2].map((i) => startNode({ app, redisUrl: redis.url, prefix, nodeId: `bal-${i}-${prefix}`, env })));
    const alive = new Set(nodes);
    await using lb = await startTcpBalancer(() => nodes.filter((n) => alive.has(n)).map((n) => n.wsPort));
    const sdk = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(nodes[0]!.apiPort), useTLS: false });
    const clients: PusherClient[] = [];
    try {
      // Six users, spread over the three nodes by the balancer; each on a public and a presence channel.
      const received: unknown[][] = [];
      const members: Array<() => string[]> = [];
      for (let i = 0; i < 6; i++) {
        // Each client is its own user: presence auth signed by the SDK in a custom handler.
        const c = new PusherJs(app.key, {
          cluster: '',
          wsHost: '127.0.0.1',
          wsPort: lb.port,
          forceTLS: false,
          enabledTransports: ['ws'],
          disableStats: true,
          channelAuthorization: {
            endpoint: '/unused',
            transport: 'ajax',
            customHandler: (p: { socketId: string; channelName: string }, cb: (e: Error | null, d: never) => void) =>
              cb(null, sdk.authorizeChannel(p.socketId, p.channelName, { user_id: `user-${i}` }) as never),
          },
        });
        clients.push(c);
        await waitForState(c, 'connected');
        const pub = await subscribeAndWait(c, 'lobby-news');
        const got: unknown[] = [];
        pub.bind('msg', (d: unknown) => got.push(d));
        received.push(got);
        const pres = await subscribeAndWait(c, 'presence-lobby');
        members.push(() => {
          const ids: string[] = [];
          (pres as unknown as { members: { each(f: (m: { id: string }) => void): void } }).members.each((m) => ids.push(m.id));
          return ids.sort();
        });
      }
      const everyone = Array.from({ length: 6 }, (_, i) => `user-${i}`).sort();
      for (const m of members) await expect.poll(m).toEqual(everyone);
      await sdk.trigger('lobby-news', 'msg', { n: 1 });
      for (const got of received) await expect.poll(() => got).toEqual([{ n: 1 }]);

      // Kill the node holding the first client: its clients reconnect through the balancer.
      // A socket id starts with its node's own number: learn each node's from a probe connection.
      const nodePart = async (n: NodeHandle) => {
        await using probe = await RawClient.established({ wsPort: n.wsPort, app });
        return probe.socketId.split('.')[0]!;
      };
      const parts = await Promise.all(nodes.map(nodePart));
      const nodeOf = (c: PusherClient) => nodes[parts.indexOf(c.connection.socket_id.split('.')[0]!)]!;
      const victim = nodeOf(clients[0]!);
      const moved = clients.filter((c) => nodeOf(c) === victim).map((c) => [c, c.connection.socket_id] as const);
      expect(moved.length).toBeGreaterThan(0);
      alive.delete(victim);
      await victim.kill('SIGKILL');
      const survivor = nodes.find((n) => alive.has(n))!;
      const sdk2 = new Pusher({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1', port: String(survivor.apiPort), useTLS: false });
      for (const [c, oldId] of moved) {
        await expect.poll(() => c.connection.state === 'connected' && c.connection.socket_id !== oldId).toBe(true);
        expect(alive.has(nodeOf(c))).toBe(true);
      }
      // pusher-js resubscribes by itself; everyone is back in the list, nobody twice.
      for (const m of members) await expect.poll(m).toEqual(everyone);
      await expect
        .poll(async () => await (await sdk2.get({ path: '/channels/presence-lobby', params: { info: 'user_count,subscription_count' } })).json())
        .toEqual({ occupied: true, user_count: 6, subscription_count: 6 });
      await sdk2.trigger('lobby-news', 'msg', { n: 2 });
      for (const got of received) await expect.poll(() => got).toEqual([{ n: 1 }, { n: 2 }]);

      // Restart Redis: clients stay connected on their nodes, keep subscriptions, receive again.
      const states: string[] = [];
      for (const c of clients) c.connection.bind('state_change', (s: { current: string }) => states.push(s.current));
      await redis.restart();
      for (const n of alive) await n.waitReady();
      await expect
        .poll(async () => await (await sdk2.get({ path: '/channels/presence-lobby', params: { info: 'user_count,subscription_count' } })).json())
        .toEqual({ occupied: true, user_count: 6, subscription_count: 6 });
      await sdk2.trigger('lobby-news', 'msg', { n: 3 });
      for (const got of received) await expect.poll(() => got).toEqual([{ n: 1 }, { n: 2 }, { n: 3 }]);
      expect(states).toEqual([]);
    } finally {
      for (const c of clients) c.disconnect();
      await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    }
  }, 120_000);
});
