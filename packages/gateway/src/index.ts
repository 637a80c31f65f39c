export type { Gateway, GatewayConfig } from './gateway.js';
export { startGateway } from './gateway.js';
export type { Config } from '@herald/config';
export { loadConfig } from '@herald/config';
export type { App } from '@herald/config';
export { AppRegistry, ConfigError, createApp, parseAppsJson } from '@herald/config';
export { createLogger } from '@herald/logger';
export { loadUws, UwsFallbackError } from './uws.js';
