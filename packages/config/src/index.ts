export type { App, WebhookTarget, WebhookEventName, DefaultAppInput } from './apps.js';
export { AppRegistry, ConfigError, createApp, loadOrCreateCredentials, parseAppsJson } from './apps.js';
export type { Config, RedisConfig } from './config.js';
export { loadConfig } from './config.js';
