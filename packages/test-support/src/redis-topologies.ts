/**
 * Redis Sentinel and Redis Cluster sets for the topology tests, from local redis-server processes
 * (they announce 127.0.0.1 addresses to each other, which containers cannot).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { requireLocal } from './redis-docker.js';
import { pollUntil, READY_BACKSTOP_MS, run, type RedisHandle } from './redis-handle.js';
import { launchOnFreePort, LocalRedis, startLocalRedis } from './redis-local.js';
import { command, infoSection, RedisReplyError, type Reply } from './redis-resp.js';

export interface SentinelSet extends AsyncDisposable {
  /** The process that was primary at start. After `failover()` it is a replica: ask a sentinel who leads. */
  primary: RedisHandle;
  /** The process that was replica at start. */
  replica: RedisHandle;
  /** Three sentinels monitoring `name` with quorum 2. */
  sentinels: RedisHandle[];
  /** The monitored name, `herald-primary`. */
  name: string;
  /** SENTINEL FAILOVER; resolves when every sentinel reports the current replica as the primary. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterSet extends AsyncDisposable {
  /** The six nodes (three primaries with one replica each); any of them works as a seed. */
  nodes: { host: string; port: number }[];
  urls: string[];
  /** The node processes, in `nodes` order, for tests that kill or restart one. */
  handles: RedisHandle[];
  stop(): Promise<void>;
}

const SENTINEL_NAME = 'herald-primary';

export async function startSentinelSet(): Promise<SentinelSet> {
  await requireLocal('startSentinelSet');
  const started: RedisHandle[] = [];
  const stopAll = async () => {
    // sentinels first, so none of them reacts to the data nodes going away
    const isSentinel = (h: RedisHandle) => h instanceof LocalRedis && h.kind === 'sentinel';
    await Promise.all(started.filter(isSentinel).map((h) => h.stop()));
    await Promise.all(started.filter((h) => !isSentinel(h)).map((h) => h.stop()));
  };
  try {
    // the default 5 s diskless-sync delay would hold every full sync (initial, and after a failover) for nothing
    const syncNow = ['--repl-diskless-sync-delay', '0'];
    const primary = await startLocalRedis({ args: syncNow });
    started.push(primary);
    const replica = await startLocalRedis({ args: [...syncNow, '--replicaof', primary.host, String(primary.port)] });
    started.push(replica);
    await pollUntil('the replica to sync with the primary', READY_BACKSTOP_MS, async () =>
      (await infoSection(replica, 'replication')).includes('master_link_status:up'),
    );

    const sentinels = await Promise.all([0, 1, 2].map(() => startSentinel(primary.host, primary.port)));
    started.push(...sentinels);
    // A failover needs a quorum of sentinels that know each other (hello messages, every 2 s) and a replica they
    // consider healthy; waiting here makes failover() and ioredis' sentinel discovery deterministic.
    await pollUntil('the sentinels to discover each other and the replica', READY_BACKSTOP_MS, async () => {
      for (const s of sentinels) {
        const peers = await command(s, ['SENTINEL', 'SENTINELS', SENTINEL_NAME]);
        if (!Array.isArray(peers) || peers.length !== sentinels.length - 1) return false;
        if (!(await sentinelSeesHealthyReplica(s, replica.port))) return false;
      }
      return true;
    });

    const set: SentinelSet = {
      primary,
      replica,
      sentinels,
      name: SENTINEL_NAME,
      async failover() {
        const current = await sentinelPrimaryPort(sentinels[0]!);
        const target = current === primary.port ? replica : primary;
        await pollUntil(`sentinel to see ${target.port} as a healthy replica`, READY_BACKSTOP_MS, () => sentinelSeesHealthyReplica(sentinels[0]!, target.port));
        const reply = await command(sentinels[0]!, ['SENTINEL', 'FAILOVER', SENTINEL_NAME]);
        if (reply instanceof RedisReplyError) throw new Error(`SENTINEL FAILOVER ${SENTINEL_NAME} failed: ${reply.message}`);
        await pollUntil(`every sentinel to report ${target.host}:${target.port} as primary`, READY_BACKSTOP_MS, async () => {
          for (const s of sentinels) if ((await sentinelPrimaryPort(s)) !== target.port) return false;
          return true;
        });
      },
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
    return set;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export async function startRedisCluster(): Promise<RedisClusterSet> {
  await requireLocal('startRedisCluster');
  const handles: RedisHandle[] = [];
  const stopAll = async () => {
    await Promise.all(handles.map((h) => h.stop()));
  };
  try {
    const started = await Promise.all(
      Array.from({ length: 6 }, () =>
        startLocalRedis({}, async () => [
          '--cluster-enabled',
          'yes',
          // relative to --dir, the node's own fresh temp dir
          '--cluster-config-file',
          'nodes.conf',
          '--cluster-node-timeout',
          '2000',
          // the default 5 s diskless-sync delay would leave a fresh replica unsynced, and so unable
          // to take over its primary (its data counts as too old), for the first seconds
          '--repl-diskless-sync-delay',
          '0',
          // an explicit bus port: the default (port + 10000) overflows for ports above 55535
          '--cluster-port',
          String(await freePort()),
        ]),
      ),
    );
    handles.push(...started);
    const addrs = handles.map((h) => `${h.host}:${h.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '1', '--cluster-yes'], READY_BACKSTOP_MS);
    await pollUntil('cluster_state:ok on every node', READY_BACKSTOP_MS, async () => {
      for (const h of handles) {
        const info = await command(h, ['CLUSTER', 'INFO']);
        if (typeof info !== 'string' || !info.includes('cluster_state:ok')) return false;
      }
      return true;
    });
    // Every replica synced with its primary: only then can it take over when a test kills one.
    await pollUntil('every replica to sync with its primary', 30_000, async () => {
      for (const h of handles) {
        const repl = await infoSection(h, 'replication');
        if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return false;
      }
      return true;
    });
    return {
      nodes: handles.map((h) => ({ host: h.host, port: h.port })),
      urls: handles.map((h) => h.url),
      handles,
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function startSentinel(primaryHost: string, primaryPort: number): Promise<LocalRedis> {
  return launchOnFreePort(
    async () =>
      ({ port, dir }) => {
        // sentinels rewrite their config file, so each gets its own in its own dir
        const conf = join(dir, 'sentinel.conf');
        writeFileSync(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            'daemonize no',
            `dir ${dir}`,
            `sentinel monitor ${SENTINEL_NAME} ${primaryHost} ${primaryPort} 2`,
            `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
            `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
            `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
            '',
          ].join('\n'),
        );
        return [conf, '--sentinel'];
      },
    undefined,
    'sentinel',
  );
}

async function sentinelPrimaryPort(sentinel: RedisHandle): Promise<number | undefined> {
  const addr = await command(sentinel, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME]);
  return Array.isArray(addr) && typeof addr[1] === 'string' ? Number(addr[1]) : undefined;
}

async function sentinelSeesHealthyReplica(sentinel: RedisHandle, port: number): Promise<boolean> {
  const replicas = await command(sentinel, ['SENTINEL', 'REPLICAS', SENTINEL_NAME]);
  if (!Array.isArray(replicas)) return false;
  return replicas.some((r) => {
    if (!Array.isArray(r)) return false;
    const fields = new Map<string, Reply>();
    for (let i = 0; i + 1 < r.length; i += 2) fields.set(String(r[i]), r[i + 1]!);
    return fields.get('port') === String(port) && fields.get('flags') === 'slave' && fields.get('master-link-status') === 'ok';
  });
}
