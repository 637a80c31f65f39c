import type { FieldIssue } from '@herald/config';

/** Options every SQL store takes. */
export interface SqlStoreOptions {
  /**
   * A stored row that is not a valid app (edited by hand, written by an older release with other
   * rules): it is left out of `list()` and `get()` and reported here, so one bad row never hides
   * the others. Called on every read that meets the row.
   */
  onInvalid?: (id: string, issues: FieldIssue[]) => void;
  /**
   * Errors no caller can receive: an idle pooled connection lost, the change listener or poller
   * failing while the database is down. The store recovers from each by itself; this is for the log.
   */
  onError?: (err: Error) => void;
  /** Connections in the pool. @default 4 */
  poolSize?: number;
}

/** Options of the stores that find changes by polling (MySQL/MariaDB and soketi's table). */
export interface PollingStoreOptions extends SqlStoreOptions {
  /** Milliseconds between two polls for a change. @default 200 */
  pollMs?: number;
}

export const DEFAULT_POLL_MS = 200;
export const DEFAULT_POOL_SIZE = 4;
/** How long opening a connection may take before the database counts as unreachable. */
export const CONNECT_TIMEOUT_MS = 5000;
/**
 * How long a PostgreSQL query may wait for its answer: a database behind a dead link (no reset,
 * nothing answered) would otherwise hold a node's reads of the store until TCP gives up.
 */
export const QUERY_TIMEOUT_MS = 10_000;
