import type { Broker } from '../../broker.js';
import { decodeContribution } from '../contribution.js';
import { forEachInOrderPerKey, STATE_WRITE_CONCURRENCY } from './limited.js';
import type { RedisKeys } from '../keys.js';
import type { RedisClient } from '../redis-client.js';
import type { BrokerLog } from '../redis-log.js';
import type { RedisStores } from '../redis-stores.js';

export interface ReaperOptions {
  client: RedisClient;
  keys: RedisKeys;
  /** This node: never reaped by itself. */
  nodeId: string;
  stores: Pick<RedisStores, 'channels' | 'presence' | 'users'>;
  /** Where a reaped user's offline transition is announced. */
  broker: Pick<Broker, 'publishControl'>;
  connected: () => boolean;
  /**
   * Whether this node's own view of the leases can be believed: false until its own lease has been
   * renewed on time for a whole lease after it lapsed or renewals were missed (an outage it shared
   * expires every lease, the live nodes' included, and they need one renewal to show it).
   */
  judging: () => boolean;
  log: BrokerLog;
}

/**
 * Removes what a node contributed to the shared state: a dead node's (lease expired; one reaper at
 * a time per dead node, by a lock that expires if the reaper dies too), or this node's own on a
 * restart or a clean stop. Real leaves are announced: member_removed by the presence store, the
 * user's offline transition here.
 */
export class Reaper {
  readonly #o: ReaperOptions;

  constructor(options: ReaperOptions) {
    this.#o = options;
  }

  /** Removes the given entries of `node`'s contributions; an entry that does not decode is dropped. */
  async removeContributions(node: string, entries: string[]): Promise<void> {
    const { client, keys, stores, broker } = this.#o;
    // Sockets at once, each socket's entries in the order stored.
    const decoded = entries.map((raw) => ({ raw, c: decodeContribution(raw) }));
    await forEachInOrderPerKey(
      decoded,
      ({ raw, c }) => c?.socketId ?? raw,
      STATE_WRITE_CONCURRENCY,
      async ({ raw, c }) => {
        if (c === undefined) {
          await client.srem(keys.contributions(node), raw);
        } else if (c.kind === 'subscription') {
          await stores.channels.leaveFor(node, c.appId, c.channel, c.socketId);
        } else if (c.kind === 'presence') {
          await stores.presence.removeFor(node, c.appId, c.channel, c.socketId);
        } else {
          const { last, version } = await stores.users.signoutFor(node, c.appId, c.userId, c.socketId);
          if (last) await broker.publishControl({ kind: 'user-presence', appId: c.appId, userId: c.userId, online: false, version });
        }
      },
    );
  }

  /** Removes every contribution of `node` (a previous incarnation of this node id, at start). */
  async removeAll(node: string): Promise<void> {
    await this.removeContributions(node, await this.#o.client.smembers(this.#o.keys.contributions(node)));
  }

  /** Removes `node`'s contributions, lease and registration; returns how many entries it had. */
  async release(node: string): Promise<number> {
    const { client, keys } = this.#o;
    const entries = await client.smembers(keys.contributions(node));
    await this.removeContributions(node, entries);
    await client.del(keys.contributions(node));
    await client.zrem(keys.nodes(), node);
    await client.hdel(keys.registered(), node);
    return entries.length;
  }

  /** Removes the contributions of nodes whose lease expired; returns how many nodes it reaped. */
  async reapExpired(): Promise<number> {
    const { client, keys, nodeId, connected, judging } = this.#o;
    if (!connected() || !judging()) return 0;
    const dead = await client.zrangebyscore(keys.nodes(), 0, Date.now());
    let n = 0;
    for (const node of dead) if (node !== nodeId && (await this.#reapNode(node))) n++;
    return n;
  }

  async #reapNode(node: string): Promise<boolean> {
    const { client, keys, nodeId, log } = this.#o;
    const locked = await client.set(keys.reapLock(node), nodeId, 'PX', 30_000, 'NX');
    if (locked !== 'OK') return false;
    try {
      // Renewed since it was listed: alive (or gone: reaped by another node in between). A renewal
      // landing after this check finds the lease expired, so the node registers its state again,
      // and again after this removal's ZREM: whatever is removed here is put back.
      const expiry = await client.zscore(keys.nodes(), node);
      if (expiry === null || Number(expiry) > Date.now()) return false;
      // Asked again now that Redis answered: a listing sent before an outage is answered after it.
      if (!this.#o.judging()) return false;
      const entries = await this.release(node);
      log.info({ deadNode: node, entries }, 'removed state of a dead node');
      return true;
    } finally {
      await client.del(keys.reapLock(node));
    }
  }
}
