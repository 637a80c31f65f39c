export type { App, HistoryPolicy, AppChanges, AppDocument, DefaultAppInput, DocumentCheck, FieldIssue, WebhookTarget } from './apps.js';
export { AppRegistry, appFromDocument, createApp, documentFromApp, loadOrCreateCredentials, parseAppsJson, validateAppDocument } from './apps.js';
export type { AppsStoreConfig, Config, RedisConfig, RedisTopology } from './config.js';
export { loadConfig } from './config.js';
export { MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS, weakSecretReason } from './secret-policy.js';
export { ConfigError, STARTUP_ERRORS, StartupError } from './config-error.js';
export type { StartupErrorCode, StartupErrorName } from './config-error.js';
export { createAdminAuth } from './admin-auth.js';
export type { AdminAuth } from './admin-auth.js';
