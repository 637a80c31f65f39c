import { ChangeSource } from './change-source.js';
import { ListedApps } from '../listed-apps.js';
import pg from 'pg';
import type { AppDocument } from '@herald/config';
import { AppExistsError, AppNotFoundError, AppVersionConflictError, type AppStore, type AuditEntry, type AuditInput, type StoredApp } from '../store.js';
import { assertSameId, checkedDocument, documentFromColumn, redactSecrets } from './documents.js';
import { migrate } from './migrations.js';
import { POSTGRES_CHANNEL, PostgresListener } from './postgres-listener.js';
import { POSTGRES_MIGRATIONS, POSTGRES_UNIQUE_FIELDS, postgresMigrationSession } from './postgres-migrations.js';
import { CONNECT_TIMEOUT_MS, QUERY_TIMEOUT_MS, DEFAULT_POOL_SIZE, type SqlStoreOptions } from './store-options.js';
import { MAX_TRANSACTION_ATTEMPTS, isPostgresConnectionError, isRetryableConflict, unavailable } from './unavailable.js';

/** Documents fetched per query when the whole set is read. */
const LIST_CHUNK = 1000;

interface AppRow {
  id: string;
  key: string;
  doc: unknown;
  version: number;
  created_at: Date;
  updated_at: Date;
}

interface AuditRow {
  seq: string;
  at: Date;
  action: AuditEntry['action'];
  app_id: string;
  actor: string;
  changes: Record<string, unknown>;
  version: number;
}

const APP_COLUMNS = 'id, key, doc, version, created_at, updated_at';

/**
 * Apps in PostgreSQL: one row per app holding its whole document as JSONB, and an audit table.
 * Every write is one transaction with its audit entry and a NOTIFY naming the app, which
 * PostgreSQL delivers to every listening node when (and only if) the transaction commits.
 */
class PostgresAppStore implements AppStore {
  readonly kind = 'postgres';
  readonly readOnly = undefined;
  readonly #url: string;
  readonly #pool: pg.Pool;
  readonly #opts: SqlStoreOptions;
  readonly #changes = new ChangeSource<PostgresListener>(
    (notify) => this.#listen(notify),
    (l) => l.close(),
  );
  #closed = false;
  /** The last full read, so the next one fetches only the documents whose version changed. */
  readonly #listed = new ListedApps();

  constructor(url: string, pool: pg.Pool, opts: SqlStoreOptions) {
    this.#url = url;
    this.#pool = pool;
    this.#opts = opts;
  }

  async list(): Promise<StoredApp[]> {
    const lines = await this.#read<{ id: string; version: number; created_at: Date }>('SELECT id, version, created_at FROM herald_apps');
    const byId = new Map(lines.map((l) => [l.id, `${l.version}|${l.created_at.toISOString()}`]));
    const changed = this.#listed.changed(byId);
    for (let i = 0; i < changed.length; i += LIST_CHUNK) {
      const ids = changed.slice(i, i + LIST_CHUNK);
      const rows = await this.#read<AppRow>(`SELECT ${APP_COLUMNS} FROM herald_apps WHERE id = ANY($1)`, [ids]);
      const found = new Map(rows.map((r) => [r.id, r]));
      for (const id of ids) {
        const row = found.get(id);
        this.#listed.set(id, byId.get(id)!, row === undefined ? undefined : this.#stored(row));
      }
    }
    return this.#listed.all();
  }

  async get(id: string): Promise<StoredApp | undefined> {
    const [row] = await this.#read<AppRow>(`SELECT ${APP_COLUMNS} FROM herald_apps WHERE id = $1`, [id]);
    return row === undefined ? undefined : this.#stored(row);
  }

  async create(input: AppDocument, audit: AuditInput): Promise<StoredApp> {
    const doc = checkedDocument(input);
    return this.#transaction(async (c) => {
      let row: AppRow | undefined;
      try {
        const r = await c.query<AppRow>(`INSERT INTO herald_apps (id, key, doc, version) VALUES ($1, $2, $3, 1) RETURNING ${APP_COLUMNS}`, [
          doc.id,
          doc.key,
          JSON.stringify(doc),
        ]);
        row = r.rows[0];
      } catch (err) {
        throw existsError(err, doc) ?? err;
      }
      if (row === undefined) throw new Error('INSERT … RETURNING returned no row');
      await this.#audit(c, doc.id, 1, audit, doc);
      return storedApp(row, doc);
    });
  }

  async update(id: string, input: AppDocument, expectedVersion: number, audit: AuditInput): Promise<StoredApp> {
    const doc = checkedDocument(input);
    assertSameId(id, doc);
    return this.#transaction(async (c) => {
      const current = await this.#lockApp(c, id, expectedVersion);
      let row: AppRow | undefined;
      try {
        const r = await c.query<AppRow>(
          `UPDATE herald_apps SET key = $2, doc = $3, version = version + 1, updated_at = now() WHERE id = $1 RETURNING ${APP_COLUMNS}`,
          [id, doc.key, JSON.stringify(doc)],
        );
        row = r.rows[0];
      } catch (err) {
        throw existsError(err, doc) ?? err;
      }
      if (row === undefined) throw new AppNotFoundError(id);
      await this.#audit(c, id, row.version, audit, doc, current.doc);
      return storedApp(row, doc);
    });
  }

  async delete(id: string, expectedVersion: number | undefined, audit: AuditInput): Promise<void> {
    await this.#transaction(async (c) => {
      const current = await this.#lockApp(c, id, expectedVersion);
      await c.query('DELETE FROM herald_apps WHERE id = $1', [id]);
      await this.#audit(c, id, current.version, audit, current.doc);
    });
  }

  async audit(limit: number, beforeSeq?: number): Promise<AuditEntry[]> {
    const rows = await this.#read<AuditRow>(
      `SELECT seq, at, action, app_id, actor, changes, version FROM herald_apps_audit
       WHERE ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $1`,
      [Math.max(0, Math.floor(limit)), beforeSeq ?? null],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: r.at.toISOString(),
      action: r.action,
      appId: r.app_id,
      actor: r.actor,
      changes: r.changes,
      version: r.version,
    }));
  }

  async watch(onChange: (ids: string[] | undefined) => void): Promise<void> {
    this.#assertOpen();
    await this.#changes.watch(onChange);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#changes.stop();
    await this.#pool.end();
  }

  async #listen(notify: (ids: string[] | undefined) => void): Promise<PostgresListener> {
    const listener = new PostgresListener(
      this.#url,
      (ids) => {
        notify(ids);
      },
      (err) => this.#opts.onError?.(err),
    );
    await listener.start();
    return listener;
  }

  /** Locks the app's row until the transaction ends, after checking its version. */
  async #lockApp(c: pg.PoolClient, id: string, expectedVersion: number | undefined): Promise<{ version: number; doc: AppDocument | undefined }> {
    const r = await c.query<{ version: number; doc: unknown }>('SELECT version, doc FROM herald_apps WHERE id = $1 FOR UPDATE', [id]);
    const row = r.rows[0];
    if (row === undefined) throw new AppNotFoundError(id);
    if (expectedVersion !== undefined && row.version !== expectedVersion) throw new AppVersionConflictError(id, expectedVersion, row.version);
    // The stored document only lends its secrets to the audit redaction; an invalid one is no obstacle.
    return { version: row.version, doc: documentFromColumn(id, undefined, row.doc) };
  }

  async #audit(c: pg.PoolClient, id: string, version: number, audit: AuditInput, ...docs: (AppDocument | undefined)[]): Promise<void> {
    await c.query('INSERT INTO herald_apps_audit (action, app_id, actor, changes, version) VALUES ($1, $2, $3, $4, $5)', [
      audit.action,
      id,
      audit.actor,
      JSON.stringify(redactSecrets(audit.changes, ...docs)),
      version,
    ]);
    // Delivered at COMMIT, to every node listening, this one included; dropped on ROLLBACK.
    await c.query('SELECT pg_notify($1, $2)', [POSTGRES_CHANNEL, id]);
  }

  #stored(row: AppRow): StoredApp | undefined {
    const doc = documentFromColumn(row.id, row.key, row.doc, this.#opts.onInvalid);
    return doc === undefined ? undefined : storedApp(row, doc);
  }

  async #read<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<R[]> {
    return this.#withClient(async (c) => (await c.query<R>(sql, params)).rows);
  }

  async #transaction<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#withClient(async (c) => {
          await c.query('BEGIN');
          try {
            const result = await fn(c);
            await c.query('COMMIT');
            return result;
          } catch (err) {
            if (!isPostgresConnectionError(err)) await c.query('ROLLBACK');
            throw err;
          }
        });
      } catch (err) {
        if (!isRetryableConflict(err) || attempt >= MAX_TRANSACTION_ATTEMPTS) throw err;
      }
    }
  }

  /** A pooled client for `fn`; a lost connection becomes StoreUnavailableError and is not pooled again. */
  async #withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      // Whatever keeps a connection from opening (refused, timed out, login refused) makes the
      // store unreachable for the caller.
      throw unavailable('PostgreSQL', err);
    }
    let broken: Error | undefined;
    try {
      return await fn(client);
    } catch (err) {
      if (isPostgresConnectionError(err)) {
        broken = err instanceof Error ? err : new Error(String(err));
        throw unavailable('PostgreSQL', err);
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the PostgreSQL app store is closed');
  }
}

function storedApp(row: AppRow, doc: AppDocument): StoredApp {
  return { doc, version: row.version, createdAt: row.created_at.toISOString(), updatedAt: row.updated_at.toISOString() };
}

/** The AppExistsError of a unique violation (SQLSTATE 23505), by the constraint it names. */
function existsError(err: unknown, doc: AppDocument): AppExistsError | undefined {
  const e = err as { code?: unknown; constraint?: unknown };
  if (e.code !== '23505' || typeof e.constraint !== 'string') return undefined;
  const field = POSTGRES_UNIQUE_FIELDS[e.constraint];
  return field === undefined ? undefined : new AppExistsError(field, doc[field]);
}

/**
 * An app store in PostgreSQL at `url` (`postgres://user:password@host:5432/database`). The schema
 * is created or brought up to date before it resolves; StoreUnavailableError when the database
 * cannot be reached.
 */
/**
 * A pooled connection that drops (a restart, pg_terminate_backend, a dead link) emits 'error'; the
 * pool listens on idle ones only. One checked out, or one the pool is closing after a failed query
 * (its socket may die later), would end the process with an unheard error: every connection the
 * pool opens gets a listener of its own for as long as it lives.
 */
export function listenForClientErrors(pool: pg.Pool, opts: Pick<SqlStoreOptions, 'onError'>): void {
  pool.on('error', (err) => opts.onError?.(err));
  pool.on('connect', (client) => {
    client.on('error', (err) => opts.onError?.(err));
  });
}

export async function createPostgresStore(url: string, opts: SqlStoreOptions = {}): Promise<AppStore> {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolSize ?? DEFAULT_POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    query_timeout: QUERY_TIMEOUT_MS,
    keepAlive: true,
  });
  listenForClientErrors(pool, opts);
  try {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw unavailable('PostgreSQL', err);
    }
    try {
      await migrate(postgresMigrationSession(client), POSTGRES_MIGRATIONS);
    } catch (err) {
      client.release(true);
      throw isPostgresConnectionError(err) ? unavailable('PostgreSQL', err) : err;
    }
    client.release();
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new PostgresAppStore(url, pool, opts);
}
