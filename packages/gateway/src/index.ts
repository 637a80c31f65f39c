export type { Gateway, GatewayConfig } from './gateway.js';
export { startGateway } from './gateway.js';
export type { Config } from './config.js';
export { loadConfig } from './config.js';
export type { App } from './apps.js';
export { AppRegistry, ConfigError, createApp, parseAppsJson } from './apps.js';
export { createLogger } from './logger.js';
export { loadUws, UwsFallbackError } from './uws.js';
