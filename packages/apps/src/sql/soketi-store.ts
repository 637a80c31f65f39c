import { listenForClientErrors } from './postgres-store.js';
import { ChangeSource } from './change-source.js';
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Pool as MysqlPool, RowDataPacket } from 'mysql2/promise';
import { ReadOnlyStoreError, type AppStore, type AuditEntry, type StoredApp } from '../store.js';
import { createMysqlPool } from './mysql-pool.js';
import { Poller } from './poller.js';
import { documentFromSoketiRow, type SoketiRow } from './soketi.js';
import { CONNECT_TIMEOUT_MS, QUERY_TIMEOUT_MS, DEFAULT_POLL_MS, DEFAULT_POOL_SIZE, type PollingStoreOptions } from './store-options.js';
import { isMysqlConnectionError, isPostgresConnectionError, unavailable } from './unavailable.js';

export interface SoketiSqlStoreOptions extends PollingStoreOptions {
  /** soketi's apps table (`apps` in its documentation), optionally `schema.table`. */
  table: string;
}

/** soketi's table keeps no times: a stored app's createdAt and updatedAt say so by being the epoch. */
const NO_TIME = new Date(0).toISOString();

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

/** Read-only access to a table, the same for both dialects. */
interface TableReader {
  readonly kind: 'postgres' | 'mysql';
  /** Every row, ordered by id (`id` given: that row only). */
  rows(id?: string): Promise<SoketiRow[]>;
  close(): Promise<void>;
}

function postgresReader(url: string, table: string, opts: PollingStoreOptions): TableReader {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
  });
  listenForClientErrors(pool, opts);
  const quoted = table
    .split('.')
    .map((p) => `"${p}"`)
    .join('.');
  return {
    kind: 'postgres',
    async rows(id) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (err) {
        throw unavailable('PostgreSQL', err);
      }
      let broken: Error | undefined;
      try {
        const r =
          id === undefined
            ? await client.query<SoketiRow>(`SELECT * FROM ${quoted} ORDER BY id`)
            : await client.query<SoketiRow>(`SELECT * FROM ${quoted} WHERE id = $1`, [id]);
        return r.rows;
      } catch (err) {
        if (!isPostgresConnectionError(err)) throw err;
        broken = err instanceof Error ? err : new Error(String(err));
        throw unavailable('PostgreSQL', err);
      } finally {
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}

function mysqlReader(url: string, table: string, opts: PollingStoreOptions): TableReader {
  const pool: MysqlPool = createMysqlPool(url, opts);
  const quoted = table
    .split('.')
    .map((p) => `\`${p}\``)
    .join('.');
  return {
    kind: 'mysql',
    async rows(id) {
      try {
        const [rows] =
          id === undefined
            ? await pool.query<RowDataPacket[]>(`SELECT * FROM ${quoted} ORDER BY id`)
            : await pool.query<RowDataPacket[]>(`SELECT * FROM ${quoted} WHERE id = ?`, [id]);
        return rows;
      } catch (err) {
        // The pool drops a connection that failed; any error of opening one is fatal here.
        throw isMysqlConnectionError(err) ? unavailable('MySQL', err) : err;
      }
    },
    close: () => pool.end(),
  };
}

/**
 * soketi's apps table, read as it is and never written. Each row is mapped to a Herald app
 * (documentFromSoketiRow); one that does not map is left out and reported through `onInvalid`.
 * Changes are found by polling: every `pollMs` the whole table is read and hashed.
 */
class SoketiSqlStore implements AppStore {
  readonly kind: 'postgres' | 'mysql';
  readonly readOnly: string;
  readonly #reader: TableReader;
  readonly #opts: SoketiSqlStoreOptions;
  readonly #changes = new ChangeSource<Poller>(
    (notify) => this.#poll(notify),
    (p) => p.stop(),
  );
  #closed = false;

  constructor(reader: TableReader, opts: SoketiSqlStoreOptions) {
    this.#reader = reader;
    this.#opts = opts;
    this.kind = reader.kind;
    this.readOnly = `apps are read from soketi's ${opts.table} table; change them there`;
  }

  async list(): Promise<StoredApp[]> {
    return (await this.#rows()).flatMap((r) => this.#stored(r) ?? []);
  }

  async get(id: string): Promise<StoredApp | undefined> {
    const [row] = await this.#rows(id);
    return row === undefined ? undefined : this.#stored(row);
  }

  async create(): Promise<StoredApp> {
    throw new ReadOnlyStoreError(this.readOnly);
  }

  async update(): Promise<StoredApp> {
    throw new ReadOnlyStoreError(this.readOnly);
  }

  async delete(): Promise<void> {
    throw new ReadOnlyStoreError(this.readOnly);
  }

  /** soketi keeps no history of its apps. */
  async audit(): Promise<AuditEntry[]> {
    return [];
  }

  async watch(onChange: (ids: string[] | undefined) => void): Promise<void> {
    this.#assertOpen();
    await this.#changes.watch(onChange);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#changes.stop();
    await this.#reader.close();
  }

  async #poll(notify: (ids: string[] | undefined) => void): Promise<Poller> {
    const poller = new Poller({
      intervalMs: this.#opts.pollMs ?? DEFAULT_POLL_MS,
      // The table is small (one row per app) and has no change counter or timestamps to ask
      // for: its whole content, hashed, is the fingerprint.
      read: async () => {
        const rows = await this.#rows();
        return createHash('sha256').update(JSON.stringify(rows)).digest('hex');
      },
      onChange: (ids) => {
        notify(ids);
      },
      onError: (err) => this.#opts.onError?.(err),
    });
    await poller.start();
    return poller;
  }

  async #rows(id?: string): Promise<SoketiRow[]> {
    this.#assertOpen();
    return this.#reader.rows(id);
  }

  #stored(row: SoketiRow): StoredApp | undefined {
    const mapped = documentFromSoketiRow(row);
    if (!mapped.ok) {
      this.#opts.onInvalid?.(mapped.id, mapped.issues);
      return undefined;
    }
    return { doc: mapped.doc, version: 1, createdAt: NO_TIME, updatedAt: NO_TIME };
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the soketi app store is closed');
  }
}

/**
 * A read-only store over soketi's apps table at `url` (`postgres://…`, `mysql://…` or
 * `mariadb://…`). It checks that the table can be read before it resolves: StoreUnavailableError
 * when the database cannot be reached, an Error when the table is missing.
 */
export async function createSoketiSqlStore(url: string, opts: SoketiSqlStoreOptions): Promise<AppStore> {
  if (!TABLE_NAME.test(opts.table)) throw new Error(`soketi table name ${JSON.stringify(opts.table)}: letters, digits and _ only, optionally schema.table`);
  const scheme = new URL(url).protocol;
  let reader: TableReader;
  if (scheme === 'postgres:' || scheme === 'postgresql:') reader = postgresReader(url, opts.table, opts);
  else if (scheme === 'mysql:' || scheme === 'mariadb:') reader = mysqlReader(url, opts.table, opts);
  else throw new Error(`a soketi apps table is read over postgres://, mysql:// or mariadb://, not ${scheme}`);
  try {
    await reader.rows();
  } catch (err) {
    await reader.close();
    throw err;
  }
  return new SoketiSqlStore(reader, opts);
}
