import type { ClusterState, ClusterStats } from '../cluster-state.js';
import type { SessionLink } from '../session-link.js';
import { ReconnectWatch, connectRedis } from './cluster-state/connection.js';
import { guardStores } from './cluster-state/guarded-stores.js';
import { StateGuards } from './cluster-state/guards.js';
import { NodeLease } from './cluster-state/lease.js';
import { Reaper } from './cluster-state/reaper.js';
import { Reconciler } from './cluster-state/reconciler.js';
import { readStats } from './cluster-state/stats.js';
import { RedisKeys } from './keys.js';
import { RedisBroker } from './redis-broker.js';
import { RedisHistory } from './redis-history.js';
import type { RedisClient } from './redis-client.js';
import type { RedisTopology } from '@herald/config';
import type { RedisConnectOptions } from './redis-connection.js';
import type { BrokerLog } from './redis-log.js';
import { createRedisStores } from './redis-stores.js';
import { RedisSessionLink } from './redis-session-link.js';
import { RedisUsageCounters } from './redis-usage-counters.js';
import { defineStateScripts } from './state-scripts.js';

export interface RedisStateOptions extends Omit<RedisConnectOptions, 'topology'> {
  /** Where Redis is; or `url` for one server (`redis://[:password@]host:port[/db]`, `rediss://` for TLS). */
  topology?: RedisTopology;
  url?: string;
  /** Prefix of every key and topic, so deployments can share a Redis. @default 'herald' */
  prefix?: string;
  nodeId: string;
  /** A node whose lease is older than this is dead; its state is removed. @default 10000 */
  leaseMs?: number;
  log: BrokerLog;
}

export type RedisClusterState = ClusterState & {
  broker: RedisBroker;
  sessions: SessionLink;
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

  const conn = await connectRedis({ topology, username: opts.username, password: opts.password, tls: opts.tls }, log);
  const { client } = conn;
  const connected = () => conn.ready();
  const stores = createRedisStores({ client, keys, scripts: defineStateScripts(client), nodeId, pubsub: conn.pubsub });
  const history = new RedisHistory(client, keys, conn.pubsub.publishCommand);
  const broker = new RedisBroker(conn.pubsub, keys, log, history, nodeId);
  const lease = new NodeLease({ client, keys, nodeId, leaseMs, connected });
  const reaper = new Reaper({ client, keys, nodeId, stores, broker, connected, judging: () => lease.heldMs >= leaseMs, log });
  const reconciler = new Reconciler({ client, keys, nodeId, stores, broker, reaper, log });
  const isReady = () => connected() && lease.isFresh();
  const guards = new StateGuards({ connected, answering: isReady, repair: () => reconciler.registerAgain(), log });

  // A restart with the same node id: whatever the previous incarnation left is removed first.
  await reaper.removeAll(nodeId);
  await lease.renew();
  await reconciler.markRegistered();

  // Until it succeeds: a registration that fails once (a command refused as Redis comes back) is
  // retried, or this node's state would stay missing from Redis for as long as its sockets live.
  const registerAgain = () => reconciler.registerAgain().catch((err: Error) => guards.repairLater(err));
  const reconnects = new ReconnectWatch({
    conn,
    log,
    onBack: () =>
      void lease
        .renew()
        .catch(() => false /* its timer renews it again */)
        .then(registerAgain),
  });
  const usage = new RedisUsageCounters({
    client,
    keys,
    nodeId,
    ttlMs: leaseMs,
    connected,
    onError: (err) => log.warn({ err: err.message }, 'usage counters sync failed'),
  });

  const leaseTimer = setInterval(() => {
    // A renewal answered late is acted on once, by the tick that sent it: a tick sharing it would
    // warn again and register the whole local state a second time.
    if (lease.inFlight) return;
    lease.renew().then(
      // A lapsed lease (a stall or an outage longer than leaseMs): another node may have removed our state.
      (lapsed) => {
        if (!lapsed) return;
        log.warn({ gapMs: lease.gapMs, rttMs: Math.round(lease.rttMs), leaseMs }, 'lease lapsed: registering local state again');
        return registerAgain();
      },
      (err: Error) => log.warn({ err: err.message }, 'lease renewal failed'),
    );
  }, lease.intervalMs);
  const reapTimer = setInterval(
    () => {
      reaper.reapExpired().catch((err: Error) => log.warn({ err: err.message }, 'reaping dead nodes failed'));
    },
    Math.max(200, Math.floor(leaseMs / 4)),
  );
  leaseTimer.unref();
  reapTimer.unref();

  return {
    broker,
    redis: client,
    keys,
    ...guardStores(stores, guards),
    history: { read: (a, c, p, o) => guards.read(() => history.read(a, c, p, o)) },
    usage,
    sessions: new RedisSessionLink(nodeId, client, keys, conn.pubsub),
    isReady,
    onReconnect: (cb) => reconnects.onReconnect(cb),
    onRecovered: (cb) => reconciler.onRecovered(cb),
    setLocalState: (list) => reconciler.setLocalState(list),
    reapExpired: () => reaper.reapExpired(),
    stats: () => readStats({ lease, reconnects, broker }),
    async close() {
      guards.close();
      clearInterval(leaseTimer);
      clearInterval(reapTimer);
      await broker.close();
      await usage.release();
      if (connected()) {
        // A clean stop releases the lease and the node's state at once (no wait for expiry).
        try {
          await reaper.release(nodeId);
        } catch (err) {
          log.warn({ err: (err as Error).message }, 'releasing node state failed; it expires with the lease');
        }
      }
      conn.disconnect();
    },
  };
}
