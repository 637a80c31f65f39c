import { ChangeSource } from './change-source.js';
import { ListedApps } from '../listed-apps.js';
import type { Pool, PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { AppDocument } from '@herald/config';
import { AppExistsError, AppNotFoundError, AppVersionConflictError, type AppStore, type AuditEntry, type AuditInput, type StoredApp } from '../store.js';
import { assertSameId, checkedDocument, documentFromColumn, jsonColumn, redactSecrets } from './documents.js';
import { migrate } from './migrations.js';
import { MYSQL_MIGRATIONS, mysqlMigrationSession } from './mysql-migrations.js';
import { Poller } from './poller.js';
import { DEFAULT_POLL_MS, type PollingStoreOptions } from './store-options.js';
import { MAX_TRANSACTION_ATTEMPTS, isMysqlConnectionError, isRetryableConflict, unavailable } from './unavailable.js';
import { createMysqlPool, fromMysqlTime } from './mysql-pool.js';

/** Documents fetched per query when the whole set is read. */
const LIST_CHUNK = 1000;

interface AppRow extends RowDataPacket {
  id: string;
  app_key: string;
  doc: unknown;
  version: number;
  created_at: string;
  updated_at: string;
}

interface AuditRow extends RowDataPacket {
  seq: number | string;
  at: string;
  action: AuditEntry['action'];
  app_id: string;
  actor: string;
  changes: unknown;
  version: number;
}

// The key is VARBINARY (exact comparison); read back as text.
const APP_COLUMNS = 'id, CONVERT(`key` USING utf8mb4) AS app_key, doc, version, created_at, updated_at';
const ER_DUP_ENTRY = 1062;

/**
 * Apps in MySQL or MariaDB: one row per app holding its whole document as JSON, an audit table,
 * and a one-row change counter that every write bumps in its transaction. MySQL has no NOTIFY, so
 * watchers poll the counter every `pollMs`.
 */
class MysqlAppStore implements AppStore {
  readonly kind = 'mysql';
  readonly readOnly = undefined;
  readonly #pool: Pool;
  readonly #opts: PollingStoreOptions;
  readonly #changes = new ChangeSource<Poller>(
    (notify) => this.#poll(notify),
    (p) => p.stop(),
  );
  #closed = false;
  /** The last full read, so the next one fetches only the documents whose version changed. */
  readonly #listed = new ListedApps();

  constructor(pool: Pool, opts: PollingStoreOptions) {
    this.#pool = pool;
    this.#opts = opts;
  }

  async list(): Promise<StoredApp[]> {
    const lines = await this.#read<RowDataPacket>('SELECT id, version, created_at FROM herald_apps');
    const byId = new Map(lines.map((l) => [String(l.id), `${String(l.version)}|${String(l.created_at)}`]));
    const changed = this.#listed.changed(byId);
    for (let i = 0; i < changed.length; i += LIST_CHUNK) {
      const ids = changed.slice(i, i + LIST_CHUNK);
      const rows = await this.#read<AppRow>(`SELECT ${APP_COLUMNS} FROM herald_apps WHERE id IN (?)`, [ids]);
      const found = new Map(rows.map((r) => [r.id, r]));
      for (const id of ids) {
        const row = found.get(id);
        this.#listed.set(id, byId.get(id)!, row === undefined ? undefined : this.#stored(row));
      }
    }
    return this.#listed.all();
  }

  async get(id: string): Promise<StoredApp | undefined> {
    const [row] = await this.#read<AppRow>(`SELECT ${APP_COLUMNS} FROM herald_apps WHERE id = ?`, [id]);
    return row === undefined ? undefined : this.#stored(row);
  }

  async create(input: AppDocument, audit: AuditInput): Promise<StoredApp> {
    const doc = checkedDocument(input);
    return this.#transaction(async (c) => {
      try {
        await c.query('INSERT INTO herald_apps (id, `key`, doc, version, created_at, updated_at) VALUES (?, ?, ?, 1, UTC_TIMESTAMP(3), UTC_TIMESTAMP(3))', [
          doc.id,
          Buffer.from(doc.key, 'utf8'),
          JSON.stringify(doc),
        ]);
      } catch (err) {
        throw existsError(err, doc) ?? err;
      }
      await this.#audit(c, doc.id, 1, audit, doc);
      return this.#reread(c, doc);
    });
  }

  async update(id: string, input: AppDocument, expectedVersion: number, audit: AuditInput): Promise<StoredApp> {
    const doc = checkedDocument(input);
    assertSameId(id, doc);
    return this.#transaction(async (c) => {
      const current = await this.#lockApp(c, id, expectedVersion);
      try {
        await c.query('UPDATE herald_apps SET `key` = ?, doc = ?, version = version + 1, updated_at = UTC_TIMESTAMP(3) WHERE id = ?', [
          Buffer.from(doc.key, 'utf8'),
          JSON.stringify(doc),
          id,
        ]);
      } catch (err) {
        throw existsError(err, doc) ?? err;
      }
      await this.#audit(c, id, current.version + 1, audit, doc, current.doc);
      return this.#reread(c, doc);
    });
  }

  async delete(id: string, expectedVersion: number | undefined, audit: AuditInput): Promise<void> {
    await this.#transaction(async (c) => {
      const current = await this.#lockApp(c, id, expectedVersion);
      await c.query('DELETE FROM herald_apps WHERE id = ?', [id]);
      await this.#audit(c, id, current.version, audit, current.doc);
    });
  }

  async audit(limit: number, beforeSeq?: number): Promise<AuditEntry[]> {
    const rows = await this.#read<AuditRow>(
      `SELECT seq, at, action, app_id, actor, changes, version FROM herald_apps_audit
       WHERE ? IS NULL OR seq < ? ORDER BY seq DESC LIMIT ?`,
      [beforeSeq ?? null, beforeSeq ?? null, Math.max(0, Math.floor(limit))],
    );
    return rows.map((r) => ({
      seq: Number(r.seq),
      at: fromMysqlTime(r.at),
      action: r.action,
      appId: r.app_id,
      actor: r.actor,
      changes: jsonColumn(r.changes) as Record<string, unknown>,
      version: Number(r.version),
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

  async #poll(notify: (ids: string[] | undefined) => void): Promise<Poller> {
    const poller = new Poller({
      intervalMs: this.#opts.pollMs ?? DEFAULT_POLL_MS,
      read: async () => {
        const [row] = await this.#read<RowDataPacket>('SELECT counter FROM herald_apps_changes WHERE id = 1');
        return String(row?.counter);
      },
      onChange: (ids) => {
        notify(ids);
      },
      onError: (err) => this.#opts.onError?.(err),
    });
    await poller.start();
    return poller;
  }

  /** Locks the app's row until the transaction ends (a read of the newest version), after checking its version. */
  async #lockApp(c: PoolConnection, id: string, expectedVersion: number | undefined): Promise<{ version: number; doc: AppDocument | undefined }> {
    const [rows] = await c.query<RowDataPacket[]>('SELECT version, doc FROM herald_apps WHERE id = ? FOR UPDATE', [id]);
    const row = rows[0];
    if (row === undefined) throw new AppNotFoundError(id);
    const version = Number(row.version);
    if (expectedVersion !== undefined && version !== expectedVersion) throw new AppVersionConflictError(id, expectedVersion, version);
    // The stored document only lends its secrets to the audit redaction; an invalid one is no obstacle.
    return { version, doc: documentFromColumn(id, undefined, row.doc) };
  }

  async #audit(c: PoolConnection, id: string, version: number, audit: AuditInput, ...docs: (AppDocument | undefined)[]): Promise<void> {
    await c.query('INSERT INTO herald_apps_audit (at, action, app_id, actor, changes, version) VALUES (UTC_TIMESTAMP(3), ?, ?, ?, ?, ?)', [
      audit.action,
      id,
      audit.actor,
      JSON.stringify(redactSecrets(audit.changes, ...docs)),
      version,
    ]);
    // Watchers on every node see the counter move once this transaction commits.
    await c.query('UPDATE herald_apps_changes SET counter = counter + 1 WHERE id = 1');
  }

  async #reread(c: PoolConnection, doc: AppDocument): Promise<StoredApp> {
    const [rows] = await c.query<AppRow[]>(`SELECT ${APP_COLUMNS} FROM herald_apps WHERE id = ?`, [doc.id]);
    const row = rows[0];
    if (row === undefined) throw new AppNotFoundError(doc.id);
    return storedApp(row, doc);
  }

  #stored(row: AppRow): StoredApp | undefined {
    const doc = documentFromColumn(row.id, row.app_key, row.doc, this.#opts.onInvalid);
    return doc === undefined ? undefined : storedApp(row, doc);
  }

  async #read<R extends RowDataPacket>(sql: string, params: unknown[] = []): Promise<R[]> {
    return this.#withConnection(async (c) => (await c.query<R[]>(sql, params))[0]);
  }

  async #transaction<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#withConnection(async (c) => {
          await c.beginTransaction();
          try {
            const result = await fn(c);
            await c.commit();
            return result;
          } catch (err) {
            if (!isMysqlConnectionError(err)) await c.rollback();
            throw err;
          }
        });
      } catch (err) {
        if (!isRetryableConflict(err) || attempt >= MAX_TRANSACTION_ATTEMPTS) throw err;
      }
    }
  }

  /** A pooled connection for `fn`; a lost connection becomes StoreUnavailableError and is not pooled again. */
  async #withConnection<T>(fn: (c: PoolConnection) => Promise<T>): Promise<T> {
    this.#assertOpen();
    let conn: PoolConnection;
    try {
      conn = await this.#pool.getConnection();
    } catch (err) {
      // Whatever keeps a connection from opening (refused, timed out, login refused) makes the
      // store unreachable for the caller.
      throw unavailable('MySQL', err);
    }
    try {
      return await fn(conn);
    } catch (err) {
      if (isMysqlConnectionError(err)) {
        conn.destroy();
        throw unavailable('MySQL', err);
      }
      throw err;
    } finally {
      // release() after destroy() is a no-op: the connection has left the pool.
      conn.release();
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('the MySQL app store is closed');
  }
}

function storedApp(row: AppRow, doc: AppDocument): StoredApp {
  return { doc, version: Number(row.version), createdAt: fromMysqlTime(row.created_at), updatedAt: fromMysqlTime(row.updated_at) };
}

/**
 * The AppExistsError of a duplicate entry (1062). The message names the index: `PRIMARY` for the
 * id, `herald_apps_key` (MariaDB) or `herald_apps.herald_apps_key` (MySQL 8) for the key.
 */
function existsError(err: unknown, doc: AppDocument): AppExistsError | undefined {
  const e = err as { errno?: unknown; message?: unknown };
  if (e.errno !== ER_DUP_ENTRY || typeof e.message !== 'string') return undefined;
  if (/for key '(?:herald_apps\.)?PRIMARY'/.test(e.message)) return new AppExistsError('id', doc.id);
  if (/for key '(?:herald_apps\.)?herald_apps_key'/.test(e.message)) return new AppExistsError('key', doc.key);
  return undefined;
}

/**
 * An app store in MySQL or MariaDB at `url` (`mysql://user:password@host:3306/database`;
 * `mariadb://` is the same). The schema is created or brought up to date before it resolves;
 * StoreUnavailableError when the database cannot be reached.
 */
export async function createMysqlStore(url: string, opts: PollingStoreOptions = {}): Promise<AppStore> {
  const pool = createMysqlPool(url, opts);
  try {
    let conn: PoolConnection;
    try {
      conn = await pool.getConnection();
    } catch (err) {
      throw unavailable('MySQL', err);
    }
    try {
      await migrate(mysqlMigrationSession(conn), MYSQL_MIGRATIONS);
    } catch (err) {
      conn.destroy();
      throw isMysqlConnectionError(err) ? unavailable('MySQL', err) : err;
    }
    conn.release();
  } catch (err) {
    await pool.end();
    throw err;
  }
  return new MysqlAppStore(pool, opts);
}
