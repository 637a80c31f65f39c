import { StateUnavailableError } from '../../errors/state-unavailable.js';
import type { BrokerLog } from '../redis-log.js';

export interface StateGuardsOptions {
  /** The connections are up. */
  connected: () => boolean;
  /** Redis answers: connected and the lease fresh (a stalled link stays connected). */
  answering: () => boolean;
  /** Registers the local state again (Reconciler.registerAgain); retried until it succeeds. */
  repair: () => Promise<void>;
  log: BrokerLog;
}

/** How long after a failed write the local state is registered again. */
const REPAIR_DELAY_MS = 1000;

/**
 * What the shared state does when Redis does not answer. Writes are skipped rather than queued
 * (the caller gets a partial answer, and the local state is registered again once Redis is back);
 * reads throw StateUnavailableError rather than answering from nothing.
 */
export class StateGuards {
  readonly #o: StateGuardsOptions;
  #repairTimer: NodeJS.Timeout | undefined;
  #closing = false;

  constructor(options: StateGuardsOptions) {
    this.#o = options;
  }

  /**
   * Runs a write. While Redis is unreachable it is skipped (`fallback`; the reconnect repairs);
   * when it fails on a connection that looks up (a shard failing over), the same, with a repair
   * scheduled.
   */
  async write<T>(op: () => Promise<T>, fallback: T): Promise<T> {
    if (!this.#o.connected()) return fallback;
    try {
      return await op();
    } catch (err) {
      if (this.#o.connected()) this.repairLater(err as Error);
      return fallback;
    }
  }

  /**
   * Runs a read when Redis answers; while it does not (disconnected, stalled: the lease is overdue,
   * or the command fails: a shard failing over), throws StateUnavailableError.
   */
  async read<T>(op: () => Promise<T>): Promise<T> {
    if (!this.#o.answering()) throw new StateUnavailableError();
    try {
      return await op();
    } catch (err) {
      throw new StateUnavailableError(undefined, { cause: err });
    }
  }

  /** No repair runs after this. */
  close(): void {
    this.#closing = true;
    if (this.#repairTimer !== undefined) clearTimeout(this.#repairTimer);
  }

  /**
   * A write failed while the connection looked up (a Redis Cluster shard failing over, a command
   * refused mid-failover), or a registration did (after a reconnect, or a lapsed lease): the local
   * state is registered again shortly, by the same diff as after an outage, and again until it
   * succeeds; answers given as partial meanwhile are completed then.
   */
  repairLater(err: Error): void {
    if (this.#repairTimer !== undefined || this.#closing) return;
    this.#o.log.warn({ err: err.message }, 'a redis write failed: local state will be registered again');
    this.#repairTimer = setTimeout(() => {
      this.#repairTimer = undefined;
      // Disconnected: the reconnect re-registers by itself.
      if (!this.#o.connected() || this.#closing) return;
      this.#o.repair().catch((e: Error) => this.repairLater(e));
    }, REPAIR_DELAY_MS);
    this.#repairTimer.unref();
  }
}
