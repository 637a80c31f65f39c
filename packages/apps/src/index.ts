export type { AppStore, AuditAction, AuditEntry, AuditInput, StoredApp } from './store.js';
export { AppExistsError, AppNotFoundError, AppVersionConflictError, ReadOnlyStoreError, StoreUnavailableError } from './store.js';
export { AppCatalog, catalogGauges } from './catalog.js';
export type { CatalogLog, CatalogOptions, CatalogStats } from './catalog.js';
export { AppAdmin, AppValidationError } from './admin.js';
export type { AppView } from './admin.js';
export { createRedisStore } from './redis-store.js';
export type { RedisStoreOptions } from './redis-store.js';
export { createLocalStore } from './local-store.js';
export { createFileStore } from './file-store.js';
export { openAppCatalog } from './open.js';
export type { AppsConfig } from './open.js';
// SQL stores
export { createPostgresStore } from './sql/postgres-store.js';
export { createMysqlStore } from './sql/mysql-store.js';
export { createSoketiSqlStore } from './sql/soketi-store.js';
export type { SoketiSqlStoreOptions } from './sql/soketi-store.js';
export type { PollingStoreOptions, SqlStoreOptions } from './sql/store-options.js';
