import mysql, { type Pool } from 'mysql2/promise';
import { CONNECT_TIMEOUT_MS, DEFAULT_POOL_SIZE, type SqlStoreOptions } from './store-options.js';

/**
 * A pool for `mysql://` or `mariadb://` URLs (the driver reads host, port, user, password and
 * database from either). Times come back as the server's text (`dateStrings`), so no time zone
 * conversion happens on the way: Herald writes UTC_TIMESTAMP(3) and reads it as UTC.
 */
export function createMysqlPool(url: string, opts: SqlStoreOptions): Pool {
  const pool = mysql.createPool({
    uri: url,
    connectionLimit: opts.poolSize ?? DEFAULT_POOL_SIZE,
    waitForConnections: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    enableKeepAlive: true,
    dateStrings: true,
  });
  // A pooled connection that drops while idle (a restart, KILL) leaves the pool by itself; this
  // listener keeps a second error event on it from ending the process, and reports it.
  pool.on('connection', (conn) => {
    conn.on('error', (err: Error) => opts.onError?.(err));
  });
  return pool;
}

/** `2026-01-02 03:04:05.678` (a DATETIME(3) holding UTC) as ISO 8601. */
export function fromMysqlTime(value: string): string {
  return new Date(`${value.replace(' ', 'T')}Z`).toISOString();
}
