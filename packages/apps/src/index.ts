export type { AppStore, AuditAction, AuditEntry, AuditInput, StoredApp } from './store.js';
export { AppExistsError, AppNotFoundError, AppVersionConflictError, ReadOnlyStoreError, StoreUnavailableError } from './store.js';
