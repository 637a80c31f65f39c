import pg from 'pg';
import { CONNECT_TIMEOUT_MS } from './store-options.js';
import { unavailable } from './unavailable.js';

/** The NOTIFY channel every write names its app on. Channels are per database. */
export const POSTGRES_CHANNEL = 'herald_apps';

/** Reconnect delays double from the first to the last. */
const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;

type Status = 'connecting' | 'listening' | 'reconnecting' | 'closed';

/**
 * LISTEN on a connection of its own (a pooled one would be handed to other queries). When that
 * connection drops (a restart, a failover, an administrator), it reconnects with backoff and then
 * reports `undefined`: notifications sent while it was away are lost, so everything must be read.
 */
export class PostgresListener {
  readonly #url: string;
  readonly #onChange: (ids: string[] | undefined) => void;
  readonly #onError: (err: Error) => void;
  #client: pg.Client | undefined;
  #status: Status = 'connecting';
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(url: string, onChange: (ids: string[] | undefined) => void, onError: (err: Error) => void) {
    this.#url = url;
    this.#onChange = onChange;
    this.#onError = onError;
  }

  /** Resolves once listening; StoreUnavailableError when the first connection fails. */
  async start(): Promise<void> {
    try {
      await this.#connect();
    } catch (err) {
      this.#status = 'closed';
      throw unavailable('PostgreSQL', err);
    }
  }

  async close(): Promise<void> {
    this.#status = 'closed';
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {
      /* already disconnected: nothing left to end */
    });
  }

  async #connect(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: CONNECT_TIMEOUT_MS, keepAlive: true });
    client.on('notification', (n) => {
      if (n.channel === POSTGRES_CHANNEL) this.#onChange(n.payload ? [n.payload] : undefined);
    });
    // 'error' then 'end' when the server goes away; either one starts the reconnect, once.
    client.on('error', (err) => {
      this.#onError(err);
      this.#lost(client);
    });
    client.on('end', () => this.#lost(client));
    this.#client = client;
    try {
      await client.connect();
      await client.query(`LISTEN ${POSTGRES_CHANNEL}`);
    } catch (err) {
      if (this.#client === client) this.#client = undefined;
      await client.end().catch(() => {
        /* the failed connection may never have opened */
      });
      throw err;
    }
    if (this.#isClosed()) {
      // close() ran while this connection was opening.
      await client.end();
      return;
    }
    this.#status = 'listening';
    this.#attempt = 0;
  }

  #lost(client: pg.Client): void {
    // While connecting, a failure rejects #connect instead, and its caller decides.
    if (this.#client !== client || this.#status !== 'listening') return;
    this.#client = undefined;
    this.#status = 'reconnecting';
    client.end().catch(() => {
      /* the connection is already gone */
    });
    this.#schedule();
  }

  #schedule(): void {
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** this.#attempt++);
    this.#timer = setTimeout(() => void this.#reconnect(), delay);
  }

  async #reconnect(): Promise<void> {
    if (this.#isClosed()) return;
    try {
      await this.#connect();
    } catch (err) {
      if (this.#isClosed()) return;
      this.#onError(err instanceof Error ? err : new Error(String(err)));
      this.#schedule();
      return;
    }
    if (this.#status === 'listening') this.#onChange(undefined);
  }

  /** A method, not a comparison: close() may run during any await, which narrowing cannot see. */
  #isClosed(): boolean {
    return this.#status === 'closed';
  }
}
