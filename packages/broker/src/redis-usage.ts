import type { UsageCounters } from './broker.js';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-state.js';

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

  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly ready: () => boolean,
    private readonly onError: (err: Error) => void,
  ) {
    this.#timer = setInterval(() => void this.sync().catch(onError), 1000);
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
    if (!this.ready()) return true;
    const key = this.keys.apiRate(appId, Math.floor(Date.now() / 1000));
    const n = await this.client.incr(key);
    if (n === 1) await this.client.expire(key, 2);
    return n <= perSecond;
  }

  /** Writes this node's counts and reads the cluster totals (every second; exposed for tests). */
  async sync(): Promise<void> {
    if (!this.ready()) return;
    const now = Date.now();
    for (const appId of new Set([...this.#local.keys(), ...this.#seen.keys()])) {
      const mine = this.#local.get(appId) ?? 0;
      const key = this.keys.appConnections(appId);
      await this.client.hset(key, this.nodeId, `${mine}:${now + this.ttlMs}`);
      const all = await this.client.hgetall(key);
      let total = 0;
      for (const [node, v] of Object.entries(all)) {
        const [count, expires] = v.split(':').map(Number) as [number, number];
        if (expires < now) await this.client.hdel(key, node);
        else total += count;
      }
      this.#seen.set(appId, { total, mine });
    }
    this.#dirty.clear();
  }

  async release(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.ready()) return;
    for (const appId of this.#local.keys()) await this.client.hdel(this.keys.appConnections(appId), this.nodeId).catch(this.onError);
  }
}
