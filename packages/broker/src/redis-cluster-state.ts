import { randomUUID } from 'node:crypto';
import type {
  CacheStore,
  ChannelChange,
  ChannelStore,
  ClusterState,
  ClusterStats,
  LocalContribution,
  PresenceChannelStore,
  PresenceStore,
  UserStore,
} from './broker.js';
import { RedisKeys } from './keys.js';
import { RedisBroker, type BrokerLog } from './redis-broker.js';
import { RedisUsageCounters } from './redis-usage.js';
import type { RedisTopology } from '@herald/config';
import { createRedisConnections, type RedisConnectOptions } from './redis-connection.js';
import {
  RedisCacheStore,
  RedisChannelStore,
  RedisPresenceChannelStore,
  RedisPresenceStore,
  RedisUserStore,
  decodeContribution,
  defineScripts,
  encodeContribution,
  type RedisClient,
} from './redis-state.js';
import { StateUnavailableError } from './state-unavailable.js';

export interface RedisStateOptions extends Omit<RedisConnectOptions, 'topology'> {
  /** Where Redis is; or `url` for one server (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). */
  topology?: RedisTopology;
  url?: string;
  /** Prefix of every key and topic, so deployments can share a Redis. @default 'herald' */
  prefix?: string;
  nodeId: string;
  /** A node whose lease is older than this is dead; its state is removed. @default 10000 */
  leaseMs?: number;
  log: BrokerLog & { info(obj: object, msg: string): void };
}

export type RedisClusterState = ClusterState & {
  broker: RedisBroker;
  /** The command connection and key builder, for the webhook worker and outbox producers. */
  redis: RedisClient;
  keys: RedisKeys;
  /** Runs `cb` each time the connection comes back after a loss. */
  onReconnect(cb: () => void): void;
  /** Removes the contributions of nodes whose lease expired (runs periodically; exposed for tests). */
  reapExpired(): Promise<number>;
  stats(): ClusterStats;
};

/**
 * The clustered state: Redis pub/sub by interest, occupancy, presence, users and cache in Redis,
 * and a lease per node. Writes made while Redis is unreachable are skipped rather than queued; when
 * the connection returns (Redis possibly restarted empty), the node's local state is re-registered
 * and the member/user events the outage hid are published, so counts converge to the truth.
 */
export async function createRedisState(opts: RedisStateOptions): Promise<RedisClusterState> {
  const keys = new RedisKeys(opts.prefix ?? 'herald');
  const leaseMs = opts.leaseMs ?? 10_000;
  const { log, nodeId } = opts;
  const topology = opts.topology ?? (opts.url !== undefined ? { kind: 'single' as const, url: opts.url } : undefined);
  if (topology === undefined) throw new Error('createRedisState needs a topology or a url');
  let lastError: Error | undefined;
  const conn = createRedisConnections(
    { topology, username: opts.username, password: opts.password, tls: opts.tls },
    (connection, err) => {
      lastError = err;
      log.debug({ connection, err: err.message }, 'redis error');
    },
  );
  try {
    await conn.connect();
  } catch (err) {
    // ioredis reports "Connection is closed" here; the reason (NOAUTH, WRONGPASS, ECONNREFUSED...)
    // came through its error event.
    conn.disconnect();
    throw new Error(`cannot connect to Redis: ${lastError?.message ?? (err as Error).message}`, { cause: err });
  }
  const client: RedisClient = conn.client;
  const scripts = defineScripts(client);
  const deps = { client, keys, scripts, nodeId, pubsub: conn.pubsub };
  const channels = new RedisChannelStore(deps);
  const presence = new RedisPresenceStore(deps);
  const presenceChannels = new RedisPresenceChannelStore(deps);
  const users = new RedisUserStore(deps);
  const cache = new RedisCacheStore(deps);
  const broker = new RedisBroker(conn.pubsub, keys, log);

  const ready = () => conn.ready();
  let repairTimer: NodeJS.Timeout | undefined;
  let closing = false;
  /**
   * A write failed while the connection looked up (a Redis Cluster shard failing over, a command
   * refused mid-failover): the local state is registered again shortly, by the same diff as after an
   * outage, and again until it succeeds; answers given as partial meanwhile are completed then.
   */
  const scheduleRepair = (err: Error) => {
    if (repairTimer !== undefined || closing) return;
    log.warn({ err: err.message }, 'a redis write failed: local state will be registered again');
    repairTimer = setTimeout(() => {
      repairTimer = undefined;
      // Disconnected: the reconnect re-registers by itself.
      if (!ready() || closing) return;
      reconcile().then(recovered, (e: Error) => scheduleRepair(e));
    }, 1000);
    repairTimer.unref();
  };
  /**
   * Runs a write. While Redis is unreachable it is skipped (`fallback`, reconcile repairs); when it
   * fails on a connection that looks up (a shard failing over), the same, with a repair scheduled.
   */
  const guard = async <T>(op: () => Promise<T>, fallback: T): Promise<T> => {
    if (!ready()) return fallback;
    try {
      return await op();
    } catch (err) {
      if (ready()) scheduleRepair(err as Error);
      return fallback;
    }
  };
  /**
   * Runs a read when Redis answers; while it does not (disconnected, stalled: the lease is overdue,
   * or the command fails: a shard failing over), throws StateUnavailableError rather than answering
   * from nothing.
   */
  const read = async <T>(op: () => Promise<T>): Promise<T> => {
    if (!isReady()) throw new StateUnavailableError();
    try {
      return await op();
    } catch (err) {
      throw new StateUnavailableError(undefined, { cause: err });
    }
  };

  const guardedChannels: ChannelStore = {
    join: (a, c, s) => guard<ChannelChange & { added: boolean }>(() => channels.join(a, c, s), { count: 1, added: true, partial: true }),
    leave: (a, c, s) => guard<ChannelChange & { removed: boolean }>(() => channels.leave(a, c, s), { count: 0, removed: true, partial: true }),
    count: (a, c) => read(() => channels.count(a, c)),
    channels: (a, p) => read(() => channels.channels(a, p)),
  };
  const guardedPresence: PresenceStore = {
    add: (a, c, s, m) => guard(() => presence.add(a, c, s, m), { first: false }),
    remove: (a, c, s) => guard(() => presence.remove(a, c, s), { last: false }),
    members: (a, c) => read(() => presence.members(a, c)),
    userCount: (a, c) => read(() => presence.userCount(a, c)),
    wouldExceed: (a, c, u, max) => guard(() => presence.wouldExceed(a, c, u, max), false),
  };
  const guardedPresenceChannels: PresenceChannelStore = {
    join: (a, c, s, m) => guard(() => presenceChannels.join(a, c, s, m), { count: 1, added: true, first: false, members: [], partial: true }),
    leave: (a, c, s, u) => guard(() => presenceChannels.leave(a, c, s, u), { count: 0, removed: true, last: false, partial: true }),
  };
  const guardedUsers: UserStore = {
    signin: (a, u, s) => guard(() => users.signin(a, u, s), { first: false, version: 0 }),
    signout: (a, u, s) => guard(() => users.signout(a, u, s), { last: false, version: 0 }),
    online: (a, ids) => read(() => users.online(a, ids)),
  };
  const guardedCache: CacheStore = {
    set: (a, c, e, d, t) => guard(() => cache.set(a, c, e, d, t), undefined),
    get: (a, c) => read(() => cache.get(a, c)),
  };

  /** Removes what `node` contributed; real leaves are announced (member_removed by the store, offline here). */
  async function removeContributions(node: string, entries: string[]): Promise<void> {
    for (const raw of entries) {
      const c = decodeContribution(raw);
      if (c === undefined) {
        await client.srem(keys.contributions(node), raw);
        continue;
      }
      if (c.kind === 's') {
        await channels.leaveFor(node, c.appId, c.channel, c.socketId);
      } else if (c.kind === 'p') {
        await presence.removeFor(node, c.appId, c.channel, c.socketId);
      } else {
        const { last, version } = await users.signoutFor(node, c.appId, c.userId, c.socketId);
        if (last) await broker.publishControl({ kind: 'user-presence', appId: c.appId, userId: c.userId, online: false, version });
      }
    }
  }

  async function reapNode(node: string): Promise<boolean> {
    const locked = await client.set(keys.reapLock(node), nodeId, 'PX', 30_000, 'NX');
    if (locked !== 'OK') return false;
    try {
      const entries = await client.smembers(keys.contributions(node));
      await removeContributions(node, entries);
      await client.del(keys.contributions(node));
      await client.zrem(keys.nodes(), node);
      await client.hdel(keys.registered(), node);
      log.info({ deadNode: node, entries: entries.length }, 'removed state of a dead node');
      return true;
    } finally {
      await client.del(keys.reapLock(node));
    }
  }

  async function reapExpired(): Promise<number> {
    if (!ready()) return 0;
    const dead = await client.zrangebyscore(keys.nodes(), 0, Date.now());
    let n = 0;
    for (const node of dead) if (node !== nodeId && (await reapNode(node))) n++;
    return n;
  }

  let listLocal: () => LocalContribution[] = () => [];
  let leaseAt = 0;
  // Connected is not enough: a stalled link (no FIN, no answers) keeps ioredis 'ready' forever.
  // The lease is renewed every leaseMs/3: two renewals missed means Redis is not answering.
  function isReady(): boolean {
    return ready() && leaseAt !== 0 && Date.now() - leaseAt < Math.max(1000, (2 * leaseMs) / 3);
  }
  const recoveredListeners: (() => void)[] = [];
  const recovered = () => {
    for (const cb of recoveredListeners) {
      try {
        cb();
      } catch (err) {
        log.error({ err }, 'recovery listener failed');
      }
    }
  };
  let reconnects = 0;
  let rttMs = 0;

  /** Makes Redis hold exactly this node's local state (after an outage, or at start). */
  async function reconcile(): Promise<void> {
    const local = listLocal();
    const wanted = new Map(local.map((c) => [encodeContribution(c), c] as const));
    const stored = await client.smembers(keys.contributions(nodeId));
    await removeContributions(nodeId, stored.filter((s) => !wanted.has(s)));
    for (const c of local) {
      if (c.kind === 's') {
        await channels.join(c.appId, c.channel, c.socketId);
      } else if (c.kind === 'p') {
        // member_added is published by the store when the user was missing.
        await presence.add(c.appId, c.channel, c.socketId, c.member);
      } else {
        const { first, version } = await users.signin(c.appId, c.userId, c.socketId);
        if (first) await broker.publishControl({ kind: 'user-presence', appId: c.appId, userId: c.userId, online: true, version });
      }
    }
    log.info({ entries: local.length, removed: stored.length - [...wanted.keys()].filter((k) => stored.includes(k)).length }, 'registered local state in redis');
    await markRegistered();
  }

  /** A new token each time this node's state is registered: the webhook worker waits for it after an outage. */
  async function markRegistered(): Promise<void> {
    await client.hset(keys.registered(), nodeId, randomUUID().slice(0, 8));
  }

  async function renewLease(): Promise<void> {
    if (!ready()) return;
    const t0 = performance.now();
    const known = await client.zscore(keys.nodes(), nodeId);
    rttMs = performance.now() - t0;
    await client.zadd(keys.nodes(), Date.now() + leaseMs, nodeId);
    leaseAt = Date.now();
    // Our lease lapsed (a stall longer than leaseMs) and another node may have removed our state.
    if (known === null && started) {
      await reconcile();
      recovered();
    }
  }

  let started = false;
  // A restart with the same node id: whatever the previous incarnation left is removed first.
  await removeContributions(nodeId, await client.smembers(keys.contributions(nodeId)));
  await renewLease();
  await markRegistered();
  started = true;

  let wasLost = false;
  const reconnectListeners: (() => void)[] = [];
  conn.onLost(() => (wasLost = true));
  conn.onReady(() => {
    if (!wasLost) return;
    wasLost = false;
    reconnects++;
    for (const cb of reconnectListeners) cb();
    log.info({}, 'redis connection back: re-registering local state');
    void renewLease()
      .then(() => reconcile())
      .then(recovered)
      .catch((err: Error) => log.error({ err: err.message }, 're-registering local state failed'));
  });

  const usage = new RedisUsageCounters(client, keys, nodeId, leaseMs, ready, (err) => log.warn({ err: err.message }, 'usage counters sync failed'));

  const leaseTimer = setInterval(() => {
    renewLease().catch((err: Error) => log.warn({ err: err.message }, 'lease renewal failed'));
  }, Math.max(200, Math.floor(leaseMs / 3)));
  const reapTimer = setInterval(() => {
    reapExpired().catch((err: Error) => log.warn({ err: err.message }, 'reaping dead nodes failed'));
  }, Math.max(200, Math.floor(leaseMs / 4)));
  leaseTimer.unref();
  reapTimer.unref();

  return {
    broker,
    redis: client,
    keys,
    onReconnect: (cb) => void reconnectListeners.push(cb),
    onRecovered: (cb) => void recoveredListeners.push(cb),
    usage,
    channels: guardedChannels,
    presence: guardedPresence,
    presenceChannels: guardedPresenceChannels,
    users: guardedUsers,
    cache: guardedCache,
    isReady,
    setLocalState(list) {
      listLocal = list;
    },
    reapExpired,
    stats: () => ({
      redisRttMs: rttMs,
      reconnects,
      leaseAgeMs: leaseAt === 0 ? -1 : Date.now() - leaseAt,
      topics: broker.topicCount,
      published: broker.publishedCount,
      received: broker.receivedCount,
    }),
    async close() {
      closing = true;
      if (repairTimer !== undefined) clearTimeout(repairTimer);
      clearInterval(leaseTimer);
      clearInterval(reapTimer);
      await broker.close();
      await usage.release();
      if (ready()) {
        // A clean stop releases the lease and the node's state at once (no wait for expiry).
        try {
          await removeContributions(nodeId, await client.smembers(keys.contributions(nodeId)));
          await client.del(keys.contributions(nodeId));
          await client.zrem(keys.nodes(), nodeId);
          await client.hdel(keys.registered(), nodeId);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'releasing node state failed; it expires with the lease');
        }
      }
      conn.disconnect();
    },
  };
}
