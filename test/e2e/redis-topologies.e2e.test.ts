import { afterEach, describe, expect, it } from 'vitest';
import {
  type NodeHandle,
  randomTestApp,
  RawClient,
  sdkFor,
  startNode,
  startRedisCluster,
  startSentinelSet,
  type TestApp,
  uniquePrefix,
} from '@herald/test-support';

/**
 * The end-to-end delivery and presence checks on the Redis deployments users grow into: a
 * Sentinel-managed primary (with a forced failover) and a six-node Redis Cluster (sharded pub/sub).
 */
describe('Redis topologies', () => {
  let nodes: NodeHandle[] = [];
  const raws: RawClient[] = [];
  afterEach(async () => {
    for (const r of raws.splice(0)) await r[Symbol.asyncDispose]();
    await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
    nodes = [];
  });

  const rawOn = async (app: TestApp, node: NodeHandle) => {
    const r = await RawClient.established({ wsPort: node.wsPort, app });
    raws.push(r);
    return r;
  };

  /** Delivery across nodes, presence lists and events, channel queries: the core of clustered mode. */
  async function checkCluster(app: TestApp, round: string) {
    const [n0, n1] = nodes as [NodeHandle, NodeHandle];
    const a = await rawOn(app, n0);
    const b = await rawOn(app, n1);
    const channel = `news-${round}`;
    await a.subscribe(channel);
    await b.subscribe(channel);
    await sdkFor(app, n1).trigger(channel, 'ev', { round });
    await a.waitFor((f) => f.event === 'ev' && f.channel === channel);
    await b.waitFor((f) => f.event === 'ev' && f.channel === channel);
    const presence = `presence-${round}`;
    const join = (r: RawClient, user: string) => {
      const { auth } = sdkFor(app, n0).authorizeChannel(r.socketId, presence, { user_id: user });
      return r.subscribe(presence, { auth, channel_data: JSON.stringify({ user_id: user }) });
    };
    await join(a, 'ann');
    const ok = await join(b, 'bob');
    expect(JSON.parse(ok.data as string).presence.count).toBe(2);
    await a.waitFor((f) => f.event === 'pusher_internal:member_added' && f.channel === presence);
    const users = await (await sdkFor(app, n0).get({ path: `/channels/${presence}/users` })).json();
    expect((users as { users: { id: string }[] }).users.map((u) => u.id).sort()).toEqual(['ann', 'bob']);
    const list = (await (await sdkFor(app, n1).get({ path: '/channels', params: { info: 'subscription_count' } })).json()) as {
      channels: Record<string, { subscription_count: number }>;
    };
    expect(list.channels[channel]).toEqual({ subscription_count: 2 });
    expect(list.channels[presence]).toEqual({ subscription_count: 2 });
    b.send({ event: 'pusher:unsubscribe', data: { channel: presence } });
    await a.waitFor((f) => f.event === 'pusher_internal:member_removed' && f.channel === presence);
  }

  it('Sentinel: delivery and presence across gateways, before and after a failover', async () => {
    await using set = await startSentinelSet();
    const app = randomTestApp();
    const prefix = uniquePrefix();
    const env = {
      REDIS_SENTINELS: set.sentinels.map((s) => `${s.host}:${s.port}`).join(','),
      REDIS_SENTINEL_NAME: set.name,
      PUSH_REDIS_PREFIX: prefix,
    };
    nodes = await Promise.all([0, 1].map(() => startNode({ app, role: 'gateway', env })));
    await checkCluster(app, 'before');
    await set.failover();
    for (const n of nodes) await n.waitReady();
    // The nodes follow the new primary and re-register their state there.
    await expect
      .poll(
        async () =>
          (
            (await (await sdkFor(app, nodes[0]!).get({ path: '/channels/news-before', params: { info: 'subscription_count' } })).json()) as {
              subscription_count?: number;
            }
          ).subscription_count,
        { timeout: 30_000 },
      )
      .toBe(2);
    await checkCluster(app, 'after');
  }, 90_000);

  it('Redis Cluster: delivery and presence across gateways over sharded pub/sub', async () => {
    await using cluster = await startRedisCluster();
    const app = randomTestApp();
    const env = {
      REDIS_CLUSTER_NODES: cluster.nodes.map((n) => `${n.host}:${n.port}`).join(','),
      PUSH_REDIS_PREFIX: uniquePrefix(),
    };
    nodes = await Promise.all([0, 1].map(() => startNode({ app, role: 'gateway', env })));
    await checkCluster(app, 'one');
    await checkCluster(app, 'two');
  }, 90_000);
});
