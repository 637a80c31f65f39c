import { StoreUnavailableError } from '../store.js';

/** Socket-level failures: the server is down, restarting or unreachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

/**
 * PostgreSQL SQLSTATEs of a lost or refused connection: class 08 (connection exception), and
 * 57P01-57P03 (terminated by an administrator, crash shutdown, not accepting connections yet).
 */
const PG_LOST = /^(08...|57P0[123])$/;

/** node-postgres reports some losses by message only. */
const PG_LOST_MESSAGES = [
  /Connection terminated/i,
  /not queryable/i,
  /timeout exceeded when trying to connect/i,
  /Connection ended unexpectedly/i,
  /Query read timeout/i,
];

/**
 * MySQL/MariaDB server errors of a lost connection: 1053 server shutdown, 1927 connection killed
 * (MariaDB), 4031 disconnected for inactivity (MySQL 8), 2006/2013 server gone away / lost.
 */
const MYSQL_LOST_ERRNOS = new Set([1053, 1927, 4031, 2006, 2013]);

interface DriverError {
  code?: unknown;
  errno?: unknown;
  fatal?: unknown;
  message?: unknown;
}

const asDriverError = (err: unknown): DriverError => (err !== null && typeof err === 'object' ? err : {});

export function isPostgresConnectionError(err: unknown): boolean {
  const e = asDriverError(err);
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || PG_LOST.test(e.code))) return true;
  const message = e.message;
  return typeof message === 'string' && PG_LOST_MESSAGES.some((m) => m.test(message));
}

export function isMysqlConnectionError(err: unknown): boolean {
  const e = asDriverError(err);
  // mysql2 marks every error that ends the connection (socket lost, handshake refused) as fatal.
  if (e.fatal === true) return true;
  if (typeof e.code === 'string' && (NETWORK_CODES.has(e.code) || e.code === 'PROTOCOL_CONNECTION_LOST')) return true;
  return typeof e.errno === 'number' && MYSQL_LOST_ERRNOS.has(e.errno);
}

export function unavailable(what: string, err: unknown): StoreUnavailableError {
  const reason = err instanceof Error ? err.message : String(err);
  return new StoreUnavailableError(`${what} is unavailable: ${reason}`, { cause: err });
}

/** Deadlocks and serialization failures: the transaction did nothing and can run again. */
export function isRetryableConflict(err: unknown): boolean {
  const e = asDriverError(err);
  return e.code === '40P01' || e.code === '40001' || e.errno === 1213;
}

/** A transaction that lost a deadlock runs again, at most this many times in all. */
export const MAX_TRANSACTION_ATTEMPTS = 3;
