/**
 * Herald's test support, one concept per file: every package's tests and the cross-package tests in
 * test/ import it as `@herald/test-support`. Test-only: nothing here is built or shipped.
 */
// Processes and servers
export * from './ports.js';
export * from './redis.js';
export * from './redis-topologies.js';
export { command } from './redis-resp.js';
export * from './node-process.js';
export * from './apps-cli.js';
export * from './cluster.js';
export * from './metrics.js';
export * from './sdk.js';
export * from './gateway.js';
export * from './webhook-receiver.js';
// Clients and checks
export * from './pusher-js.js';
export * from './raw-client.js';
export * from './marker.js';
export * from './expect-open.js';
export * from './capture-logger.js';
// Raw HTTP and network faults
export * from './rest.js';
export * from './raw-http.js';
export * from './ws-frames.js';
export * from './xhr-client.js';
export * from './stall-proxy.js';
export * from './tcp-balancer.js';
export * from './http-fallback-wire.js';
export * from './websocket-blocking-proxy.js';
// Browsers
export * from './browser.js';
export * from './pusher-js-browser.js';
// Deployment files
export * from './repo.js';
export * from './deploy-files.js';
export * from './deploy-processes.js';
export * from './compose.js';
export * from './kubernetes.js';
export * from './sql-databases.js';
export { wsPushPlatform } from './push-platform.js';
