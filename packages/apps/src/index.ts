export type { AppStore, AuditAction, AuditEntry, AuditInput, StoredApp } from './store.js';
export { AppExistsError, AppNotFoundError, AppVersionConflictError, ReadOnlyStoreError, StoreUnavailableError } from './store.js';
// SQL stores
export { createPostgresStore } from './sql/postgres-store.js';
export { createMysqlStore } from './sql/mysql-store.js';
export { createSoketiSqlStore } from './sql/soketi-store.js';
export type { SoketiSqlStoreOptions } from './sql/soketi-store.js';
export type { PollingStoreOptions, SqlStoreOptions } from './sql/store-options.js';
