import { createRedisConnections, type RedisConnectOptions, type RedisConnections } from '../redis-connection.js';
import type { BrokerLog } from '../redis-log.js';

/**
 * Opens the command and subscriber connections, or throws with the reason Redis gave: ioredis
 * rejects with "Connection is closed", the reason (NOAUTH, WRONGPASS, ECONNREFUSED...) having come
 * through its error event.
 */
export async function connectRedis(opts: RedisConnectOptions, log: BrokerLog): Promise<RedisConnections> {
  let lastError: Error | undefined;
  const conn = createRedisConnections(opts, (connection, err) => {
    lastError = err;
    log.debug({ connection, err: err.message }, 'redis error');
  });
  try {
    await conn.connect();
  } catch (err) {
    conn.disconnect();
    throw new Error(`cannot connect to Redis: ${lastError?.message ?? (err as Error).message}`, { cause: err });
  }
  return conn;
}

export interface ReconnectWatchOptions {
  conn: Pick<RedisConnections, 'onLost' | 'onReady'>;
  log: BrokerLog;
  /** Runs once each time the connection is back after a loss, after the `onReconnect` listeners. */
  onBack: () => void;
}

/** Counts the times the connection came back after a loss and tells the listeners, in order. */
export class ReconnectWatch {
  #reconnects = 0;
  #wasLost = false;
  readonly #listeners: (() => void)[] = [];

  constructor({ conn, log, onBack }: ReconnectWatchOptions) {
    conn.onLost(() => (this.#wasLost = true));
    conn.onReady(() => {
      if (!this.#wasLost) return;
      this.#wasLost = false;
      this.#reconnects++;
      for (const cb of this.#listeners) cb();
      log.info({}, 'redis connection back: re-registering local state');
      onBack();
    });
  }

  get reconnects(): number {
    return this.#reconnects;
  }

  onReconnect(cb: () => void): void {
    this.#listeners.push(cb);
  }
}
