import type { UsageCounters } from '../usage-counters.js';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';

export interface RedisUsageCountersOptions {
  client: RedisClient;
  keys: RedisKeys;
  nodeId: string;
  /** How long this node's count stands without a sync (the node lease's length). */
  ttlMs: number;
  /** Syncs and API counts are skipped while the connections are down. */
  connected: () => boolean;
  /** A failed background sync or release. */
  onError: (err: Error) => void;
}

/**
 * Cluster-wide admission counters. Each node writes its own connection count per app into a hash
 * (`field = node`, value `count:expiresAtMs`) about once a second and reads the others' at the same
 * time, so the connect path never waits for Redis; entries of dead nodes expire with their lease.
 * API requests are counted per app and second with INCR.
 */
export class RedisUsageCounters implements UsageCounters {
  readonly #local = new Map<string, number>();
  readonly #dirty = new Set<string>();
  /** appId → cluster total at the last sync, and our own count included in it. */
  readonly #seen = new Map<string, { total: number; mine: number }>();
  readonly #timer: NodeJS.Timeout;
  readonly #o: RedisUsageCountersOptions;

  constructor(options: RedisUsageCountersOptions) {
    this.#o = options;
    this.#timer = setInterval(() => void this.sync().catch(options.onError), 1000);
    this.#timer.unref();
  }

  setLocalConnections(appId: string, count: number): void {
    this.#local.set(appId, count);
    this.#dirty.add(appId);
  }

  clusterConnections(appId: string): number {
    const mine = this.#local.get(appId) ?? 0;
    const seen = this.#seen.get(appId);
    return seen === undefined ? mine : Math.max(0, seen.total - seen.mine) + mine;
  }

  async hitApi(appId: string, perSecond: number): Promise<boolean> {
    const { client, keys, connected } = this.#o;
    if (!connected()) return true;
    const key = keys.apiRate(appId, Math.floor(Date.now() / 1000));
    const n = await client.incr(key);
    if (n === 1) await client.expire(key, 2);
    return n <= perSecond;
  }

  /** Writes this node's counts and reads the cluster totals (every second; exposed for tests). */
  async sync(): Promise<void> {
    const { client, keys, nodeId, ttlMs, connected } = this.#o;
    if (!connected()) return;
    const now = Date.now();
    for (const appId of new Set([...this.#local.keys(), ...this.#seen.keys()])) {
      const mine = this.#local.get(appId) ?? 0;
      const key = keys.appConnections(appId);
      await client.hset(key, nodeId, `${mine}:${now + ttlMs}`);
      const all = await client.hgetall(key);
      let total = 0;
      for (const [node, v] of Object.entries(all)) {
        const [count, expires] = v.split(':').map(Number) as [number, number];
        if (expires < now) await client.hdel(key, node);
        else total += count;
      }
      this.#seen.set(appId, { total, mine });
    }
    this.#dirty.clear();
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    const { client, keys, nodeId, connected, onError } = this.#o;
    if (!connected()) return;
    for (const appId of this.#local.keys()) await client.hdel(keys.appConnections(appId), nodeId).catch(onError);
  }
}
