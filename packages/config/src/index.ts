export type { App, WebhookTarget, DefaultAppInput } from './apps.js';
export { AppRegistry, createApp, loadOrCreateCredentials, parseAppsJson } from './apps.js';
export type { Config, RedisConfig, RedisTopology } from './config.js';
export { loadConfig } from './config.js';
export { MIN_SECRET_LENGTH, PLACEHOLDER_SECRETS, weakSecretReason } from './secret-policy.js';
export { ConfigError, STARTUP_ERRORS, StartupError } from './config-error.js';
export type { StartupErrorCode, StartupErrorName } from './config-error.js';
