import type { RedisKeys } from '../keys.js';
import type { RedisClient } from '../redis-client.js';

export interface NodeLeaseOptions {
  client: RedisClient;
  keys: RedisKeys;
  nodeId: string;
  /** A node whose lease is older than this is dead and reaped by the others. */
  leaseMs: number;
  /** Whether the connections are up (a renewal is skipped while they are not). */
  connected: () => boolean;
}

/**
 * This node's lease in the nodes sorted set (score: expiry). Renewed every leaseMs/3 by its owner;
 * another node that finds it expired removes this node's state (Reaper).
 */
export class NodeLease {
  readonly #o: NodeLeaseOptions;
  #renewedAt = 0;
  #rttMs = 0;

  constructor(options: NodeLeaseOptions) {
    this.#o = options;
  }

  /** How often the owner renews: two missed renewals stay within the lease. */
  get intervalMs(): number {
    return Math.max(200, Math.floor(this.#o.leaseMs / 3));
  }

  /**
   * Extends the lease. Resolves true when the lease had lapsed (a stall longer than leaseMs): another
   * node may have removed this node's state, which must then be registered again.
   */
  async renew(): Promise<boolean> {
    const { client, keys, nodeId, leaseMs, connected } = this.#o;
    if (!connected()) return false;
    const t0 = performance.now();
    const known = await client.zscore(keys.nodes(), nodeId);
    this.#rttMs = performance.now() - t0;
    await client.zadd(keys.nodes(), Date.now() + leaseMs, nodeId);
    this.#renewedAt = Date.now();
    return known === null;
  }

  /**
   * Connected is not enough: a stalled link (no FIN, no answers) keeps ioredis 'ready' forever. Two
   * renewals missed means Redis is not answering.
   */
  isFresh(): boolean {
    return this.#renewedAt !== 0 && Date.now() - this.#renewedAt < Math.max(1000, (2 * this.#o.leaseMs) / 3);
  }

  /** Round trip of the last renewal's first command, ms. */
  get rttMs(): number {
    return this.#rttMs;
  }

  /** Ms since the last renewal, -1 before the first. */
  get ageMs(): number {
    return this.#renewedAt === 0 ? -1 : Date.now() - this.#renewedAt;
  }
}
