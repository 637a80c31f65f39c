import type { AppDocument } from '@herald/config';

/** One app as a store holds it: its document and the store's bookkeeping. */
export interface StoredApp {
  doc: AppDocument;
  /** Starts at 1 and grows by one with every change of this app: the `If-Match` precondition compares it. */
  version: number;
  /** ISO 8601. */
  createdAt: string;
  updatedAt: string;
}

export type AuditAction = 'create' | 'update' | 'delete' | 'rotate-secret';

/** What a change records besides itself: who asked, and what changed (field names and values, never a secret). */
export interface AuditInput {
  action: AuditAction;
  appId: string;
  /** Where the request came from (the admin API puts the client address here). */
  actor: string;
  /** Changed fields with their new values; a secret's value is `"(changed)"`, never the secret. */
  changes: Record<string, unknown>;
}

export interface AuditEntry extends AuditInput {
  /** Increasing per store: the newest entry has the highest. */
  seq: number;
  /** ISO 8601. */
  at: string;
  /** The app's version after the change (the last version, for a delete). */
  version: number;
}

/** The id or key of a new app, or the key of an updated one, belongs to another app. */
export class AppExistsError extends Error {
  constructor(
    readonly field: 'id' | 'key',
    readonly value: string,
  ) {
    super(`an app with ${field} ${value} exists`);
  }
}

export class AppNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`no app with id ${id}`);
  }
}

/** The app's version is not the one the change was made against. */
export class AppVersionConflictError extends Error {
  constructor(
    readonly id: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`app ${id} is at version ${actual}, not ${expected}`);
  }
}

/** A write to a store that cannot be written (an apps file, soketi's table). */
export class ReadOnlyStoreError extends Error {}

/** The store cannot be reached (the database is down): the caller may retry. */
export class StoreUnavailableError extends Error {}

/**
 * Where apps are kept. Gateways and workers read the whole set at start and again on every
 * notification and resync; the admin API writes through it. Writes are atomic (document, version
 * and audit entry together) and tell every watcher, on every node.
 */
export interface AppStore {
  /** `file`, `local`, `redis`, `postgres`, `mysql`; for the logs and /admin/v1. */
  readonly kind: string;
  /** Why this store cannot be written; undefined when it can. */
  readonly readOnly: string | undefined;
  /** Every app. What it returns is read, never changed: a store may hand out what it keeps. */
  list(): Promise<StoredApp[]>;
  get(id: string): Promise<StoredApp | undefined>;
  /** Stores a new app at version 1; AppExistsError when its id or key is taken. */
  create(doc: AppDocument, audit: AuditInput): Promise<StoredApp>;
  /**
   * Replaces an app's document when its version is `expectedVersion` (version + 1 after).
   * AppNotFoundError, AppVersionConflictError, AppExistsError (the key of another app).
   */
  update(id: string, doc: AppDocument, expectedVersion: number, audit: AuditInput): Promise<StoredApp>;
  /** Removes an app at `expectedVersion`, or at any version when undefined; AppNotFoundError, AppVersionConflictError. */
  delete(id: string, expectedVersion: number | undefined, audit: AuditInput): Promise<void>;
  /** The newest audit entries first, at most `limit`, older than `beforeSeq` when given. */
  audit(limit: number, beforeSeq?: number): Promise<AuditEntry[]>;
  /**
   * Calls `onChange` whenever an app may have changed, anywhere (`ids` when known, else
   * undefined: read everything). Resolves once listening. A notification can be lost (a
   * reconnect); the catalog's periodic resync covers that.
   */
  watch(onChange: (ids: string[] | undefined) => void): Promise<void>;
  close(): Promise<void>;
}
