export { RedisWebhookWorker } from './redis-worker.js';
export type { RedisWebhookWorkerOptions, RedisWebhookWorkerStats } from './redis-worker.js';
export { KeyspaceConfigError, KeyspaceSources, REQUIRED_KEYSPACE_FLAGS, ensureKeyspaceFlags } from './keyspace-source.js';
export { createWorkerHttp } from './worker-http.js';
export type { WorkerHttpOptions } from './worker-http.js';
export { WorkerHttpError, WorkerHttpErrorCode } from './worker-http-error.js';
