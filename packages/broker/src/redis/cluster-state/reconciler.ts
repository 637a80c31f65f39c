import { randomUUID } from 'node:crypto';
import type { Broker } from '../../broker.js';
import type { LocalContribution } from '../../cluster-state.js';
import { encodeContribution } from '../contribution.js';
import type { RedisKeys } from '../keys.js';
import type { RedisClient } from '../redis-client.js';
import type { BrokerLog } from '../redis-log.js';
import type { RedisStores } from '../redis-stores.js';
import { forEachInOrderPerKey, STATE_WRITE_CONCURRENCY } from './limited.js';
import type { Reaper } from './reaper.js';

export interface ReconcilerOptions {
  client: RedisClient;
  keys: RedisKeys;
  nodeId: string;
  stores: Pick<RedisStores, 'channels' | 'presence' | 'users'>;
  /** Where a re-registered user's online transition is announced. */
  broker: Pick<Broker, 'publishControl'>;
  /** Removes the stored entries this node no longer holds. */
  reaper: Pick<Reaper, 'removeContributions'>;
  log: BrokerLog;
}

/**
 * Makes Redis hold exactly this node's local state, as the gateway lists it: after an outage (Redis
 * possibly restarted empty), a lapsed lease or a failed write. Re-registering publishes the member
 * and user events the gap hid; then the `onRecovered` listeners run, in order.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  #listLocal: () => LocalContribution[] = () => [];
  readonly #recovered: (() => void)[] = [];
  #running: Promise<void> | undefined;
  #next: Promise<void> | undefined;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  setLocalState(list: () => LocalContribution[]): void {
    this.#listLocal = list;
  }

  onRecovered(cb: () => void): void {
    this.#recovered.push(cb);
  }

  /**
   * Registers the local state again, then tells the listeners (a listener's error is logged, not
   * thrown). One registration runs at a time (a reconnect, a lapsed lease and a repair often come
   * together): a call made while one runs gets the next one, which every call made until it starts
   * shares (the running one may have listed the local state before the call's reason arose).
   */
  registerAgain(): Promise<void> {
    if (this.#next !== undefined) return this.#next;
    if (this.#running === undefined) return this.#start();
    this.#next = this.#running
      .catch(() => undefined /* its own callers are told */)
      .then(() => {
        this.#next = undefined;
        return this.#start();
      });
    return this.#next;
  }

  #start(): Promise<void> {
    const run = this.#registerOnce().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #registerOnce(): Promise<void> {
    await this.#reconcile();
    for (const cb of this.#recovered) {
      try {
        cb();
      } catch (err) {
        this.#o.log.error({ err }, 'recovery listener failed');
      }
    }
  }

  /** A new token each time this node's state is registered: the webhook worker waits for it after an outage. */
  async markRegistered(): Promise<void> {
    await this.#o.client.hset(this.#o.keys.registered(), this.#o.nodeId, randomUUID().slice(0, 8));
  }

  /**
   * Joins what the gateway lists, then removes what Redis holds beyond what it lists now. The
   * stored entries are compared with a listing made after Redis answered, never before: on Redis
   * Cluster a command caught in a failover is retried on its own timer, so a join the gateway made
   * after an earlier listing can land before this read, and would then be taken for stale and
   * undone (a subscription the cluster, and the webhooks, would never see). Joining first lets the
   * same comparison remove an entry whose socket left while it was being joined.
   */
  async #reconcile(): Promise<void> {
    const { client, keys, nodeId, stores, broker, reaper, log } = this.#o;
    const local = this.#listLocal();
    // As the reaper removes them: sockets side by side, each socket's entries in its order.
    await forEachInOrderPerKey(
      local,
      (c) => c.socketId,
      STATE_WRITE_CONCURRENCY,
      async (c) => {
        if (c.kind === 'subscription') {
          await stores.channels.join(c.appId, c.channel, c.socketId);
        } else if (c.kind === 'presence') {
          // member_added is published by the store when the user was missing.
          await stores.presence.add(c.appId, c.channel, c.socketId, c.member);
        } else {
          const { first, version } = await stores.users.signin(c.appId, c.userId, c.socketId);
          if (first) await broker.publishControl({ kind: 'user-presence', appId: c.appId, userId: c.userId, online: true, version });
        }
      },
    );
    const stored = await client.smembers(keys.contributions(nodeId));
    const wanted = new Set(this.#listLocal().map(encodeContribution));
    const stale = stored.filter((s) => !wanted.has(s));
    await reaper.removeContributions(nodeId, stale);
    log.info({ entries: local.length, removed: stale.length }, 'registered local state in redis');
    await this.markRegistered();
  }
}
