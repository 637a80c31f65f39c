import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { assertStrongSecret } from './secret-policy.js';
import { HISTORY_MAX_SIZE, HISTORY_MAX_TTL_SECONDS, createApp, loadOrCreateCredentials, parseAppsJson, type App } from './apps.js';
import { ConfigError } from './config-error.js';

const Env = z.object({
  /** Address both listeners bind. @default 0.0.0.0 */
  PUSH_HOST: z.string().min(1).default('0.0.0.0'),
  /** @default 3131 */
  PUSH_WS_PORT: z.coerce.number().int().min(0).max(65535).default(3131),
  /** @default 3232 */
  PUSH_API_PORT: z.coerce.number().int().min(0).max(65535).default(3232),
  /** Address the API listener binds, when it must differ from PUSH_HOST (e.g. 127.0.0.1: internal only). */
  PUSH_API_HOST: z.string().min(1).optional(),
  PUSH_APP_ID: z.string().min(1).optional(),
  PUSH_APP_KEY: z.string().min(1).optional(),
  PUSH_APP_SECRET: z.string().min(1).optional(),
  PUSH_APPS_FILE: z.string().min(1).optional(),
  /**
   * Where apps live: `file` (the environment's app and PUSH_APPS_FILE, read-only), `redis` (the
   * deployment's Redis), `postgres://...`, `mysql://...` or `mariadb://...`. @default `file` with
   * PUSH_APPS_FILE; else `redis` clustered, and embedded a local file beside the credentials
   */
  PUSH_APPS_STORE: z
    .string()
    .min(1)
    .refine(
      (v) => v === 'file' || v === 'redis' || /^(postgres|postgresql|mysql|mariadb):\/\//.test(v),
      'must be file, redis, or a postgres://, mysql:// or mariadb:// URL',
    )
    .optional(),
  /** Read apps from soketi's apps table (this name) in the SQL store, read-only. */
  PUSH_APPS_SOKETI_TABLE: z
    .string()
    .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$/, 'must be a table name (letters, digits, _), optionally schema.table')
    .optional(),
  /** How often a MySQL/MariaDB store (and soketi mode) is asked whether apps changed. @default 200 */
  PUSH_APPS_STORE_POLL_MS: z.coerce.number().int().min(50).max(60_000).default(200),
  /** Every node reads all apps again this often, so a lost change notification heals. @default 30000 */
  PUSH_APPS_RESYNC_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
  /** /ready answers 503 once the apps were last read successfully longer ago than this. @default 3600000 */
  PUSH_APPS_STALE_AFTER_MS: z.coerce.number().int().min(1000).default(3_600_000),
  PUSH_WEBHOOK_URL: z.string().url().optional(),
  /** How long a channel must stay vacated (or occupied) before its webhook goes. @default 2000 */
  PUSH_WEBHOOK_DELAY_MS: z.coerce.number().int().min(1000).max(3000).default(2000),
  REDIS_URL: z.string().min(1).optional(),
  /** Sentinel: `host:port,host:port,...` and the monitored primary's name. */
  REDIS_SENTINELS: z.string().min(1).optional(),
  REDIS_SENTINEL_NAME: z.string().min(1).optional(),
  /** Redis Cluster seed nodes: `host:port,host:port,...` (sharded pub/sub is used). */
  REDIS_CLUSTER_NODES: z.string().min(1).optional(),
  /** Credentials and TLS for Sentinel and Cluster connections (a REDIS_URL carries its own). */
  REDIS_USERNAME: z.string().min(1).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: z.enum(['0', '1', 'true', 'false']).default('0'),
  /**
   * Prefix of every Redis key and topic, so deployments can share one Redis. Braces would break the
   * hash tags that keep a channel's keys on one Cluster shard, and glob characters the SCAN and
   * keyspace patterns that find them. @default herald
   */
  PUSH_REDIS_PREFIX: z
    .string()
    .min(1)
    .max(64)
    .refine((p) => !/[{}*?[\]\s\\]/.test(p), 'must not contain {, }, *, ?, [, ], \\ or whitespace')
    .default('herald'),
  /** A gateway silent for this long is dead and its members are removed. @default 10000 */
  PUSH_NODE_LEASE_MS: z.coerce.number().int().min(500).max(120_000).default(10_000),
  PUSH_NODE_ID: z.string().min(1).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Seconds announced to clients in connection_established. @default 30 */
  PUSH_ACTIVITY_TIMEOUT: z.coerce.number().int().min(5).max(120).default(30),
  /** Bytes buffered for a slow socket before it is closed. @default 1 MiB */
  PUSH_MAX_BACKPRESSURE_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(1024 * 1024),
  /** Largest WebSocket frame accepted; larger frames close the socket. @default 64 KiB */
  PUSH_MAX_FRAME_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .default(64 * 1024),
  /** Where embedded mode keeps generated credentials. @default .herald/credentials.json */
  PUSH_CREDENTIALS_FILE: z.string().min(1).default('.herald/credentials.json'),
  /** Run on the slow pure-JS uWebSockets.js fallback instead of refusing to start. */
  PUSH_ALLOW_UWS_FALLBACK: z.enum(['0', '1', 'true', 'false']).default('0'),
  /** The webhook worker's port: /ready, /health, /metrics, /dead-letters. @default 3233 */
  PUSH_WORKER_PORT: z.coerce.number().int().min(0).max(65535).default(3233),
  /** How long a failing webhook is retried before it is dead-lettered. @default 300000 (5 min, like Pusher) */
  PUSH_WEBHOOK_RETRY_WINDOW_MS: z.coerce.number().int().min(0).default(300_000),
  /** One webhook attempt's timeout. @default 10000 */
  PUSH_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).default(10_000),
  /** A worker that made no progress on a delivery for this long is presumed dead; another takes over. @default 30000 */
  PUSH_WEBHOOK_CLAIM_MS: z.coerce.number().int().min(500).default(30_000),
  /** New WebSocket connections this node accepts per second; beyond, refused with 4100 (clients back off). 0: unlimited. @default 1000 */
  PUSH_MAX_CONNECTIONS_PER_SECOND: z.coerce.number().int().min(0).default(1000),
  /** Milliseconds to spread client closes over on shutdown. @default 0 */
  PUSH_DRAIN_MS: z.coerce.number().int().min(0).default(0),
  /**
   * Bearer token of everything administrative (the worker's dead-letter endpoints, later the admin
   * API). Unset: those routes answer 404. At least 16 characters, so it cannot be guessed.
   */
  PUSH_ADMIN_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  /** How long a dashboard sign-in lasts, in seconds (5 minutes to 30 days). @default 43200 */
  PUSH_DASHBOARD_SESSION_SECONDS: z.coerce
    .number()
    .int()
    .min(300)
    .max(30 * 86_400)
    .default(43_200),
  /** A request's headers must arrive within this many ms of the connection (else 408). @default 10000 */
  PUSH_API_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  /** A whole request, body included, must arrive within this many ms (else 408). @default 30000 */
  PUSH_API_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
  /** Open connections the API port accepts; beyond, new ones are closed at once. @default 1000 */
  PUSH_API_MAX_CONNECTIONS: z.coerce.number().int().min(1).default(1000),
  /** Frames of one socket waiting to be handled; beyond, the socket is closed with 4301. @default 100 */
  PUSH_MAX_QUEUED_FRAMES: z.coerce.number().int().min(1).max(100_000).default(100),
  /** Clustered: webhook events the Redis outbox holds at most; beyond, new ones are dropped (counted, logged). @default 100000 */
  PUSH_WEBHOOK_OUTBOX_MAX: z.coerce.number().int().min(100).default(100_000),
  /**
   * Clustered: how long a trigger waits for Redis while it is unreachable or failing over (longer
   * than a Sentinel or Cluster failover); not published by then, it answers 503. @default 10000
   */
  PUSH_PUBLISH_WAIT_MS: z.coerce.number().int().min(0).max(120_000).default(10_000),
  /** Embedded: webhook batches being delivered or retried at once; beyond, new ones are dropped (counted, logged). @default 1000 */
  PUSH_WEBHOOK_MAX_IN_FLIGHT: z.coerce.number().int().min(1).default(1000),
  /** Message recovery of the environment's app: events kept per channel; 0: off. @default 0 */
  PUSH_HISTORY_SIZE: z.coerce.number().int().min(0).max(HISTORY_MAX_SIZE).default(0),
  /** ...and how long they are kept, seconds; 0: off. Both must be set for history to be on. @default 0 */
  PUSH_HISTORY_TTL_SECONDS: z.coerce.number().int().min(0).max(HISTORY_MAX_TTL_SECONDS).default(0),
});

/**
 * Where Redis is: one server, a Sentinel-managed primary, or a Redis Cluster. Parsed here from
 * REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES; the broker connects to what it describes.
 */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; sentinels: { host: string; port: number }[]; name: string }
  | { kind: 'cluster'; nodes: { host: string; port: number }[] };

export interface RedisConfig {
  topology: RedisTopology;
  prefix: string;
  leaseMs: number;
  username?: string | undefined;
  password?: string | undefined;
  tls?: boolean | undefined;
}

const hostPorts = (list: string, name: string) =>
  list.split(',').map((hp) => {
    const m = /^\s*\[?([^\]]+?)\]?:(\d{1,5})\s*$/.exec(hp);
    if (!m) throw new ConfigError(`${name}: "${hp}" is not host:port`);
    return { host: m[1]!, port: Number(m[2]) };
  });

function redisTopology(e: z.infer<typeof Env>): RedisTopology | undefined {
  const set = [e.REDIS_URL && 'REDIS_URL', e.REDIS_SENTINELS && 'REDIS_SENTINELS', e.REDIS_CLUSTER_NODES && 'REDIS_CLUSTER_NODES'].filter(Boolean);
  if (set.length > 1) throw new ConfigError(`set only one of ${set.join(', ')}`);
  if (e.REDIS_URL) return { kind: 'single', url: e.REDIS_URL };
  if (e.REDIS_SENTINELS) {
    if (!e.REDIS_SENTINEL_NAME) throw new ConfigError('REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the monitored primary)');
    return { kind: 'sentinel', sentinels: hostPorts(e.REDIS_SENTINELS, 'REDIS_SENTINELS'), name: e.REDIS_SENTINEL_NAME };
  }
  if (e.REDIS_CLUSTER_NODES) return { kind: 'cluster', nodes: hostPorts(e.REDIS_CLUSTER_NODES, 'REDIS_CLUSTER_NODES') };
  return undefined;
}

/** Where apps are kept and read from (PUSH_APPS_STORE). */
export type AppsStoreConfig =
  | { kind: 'file'; readOnly: string }
  | { kind: 'local'; file: string }
  | { kind: 'redis' }
  | { kind: 'sql'; url: string; soketiTable?: string | undefined; pollMs: number };

export interface Config {
  nodeId: string;
  host: string;
  apiHost: string;
  wsPort: number;
  apiPort: number;
  logLevel: string;
  activityTimeout: number;
  webhookDelayMs: number;
  redis: RedisConfig | undefined;
  allowUwsFallback: boolean;
  drainMs: number;
  maxConnectionsPerSecond: number;
  /** Bearer token of the administrative routes; undefined: they answer 404. */
  adminToken: string | undefined;
  /** How long a dashboard session lasts (s). */
  dashboardSessionSeconds: number;
  /** The API listener's limits against slow or too many clients. */
  api: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number };
  /** Frames of one socket waiting to be handled before it is closed (4301). */
  maxQueuedFrames: number;
  /** How long a trigger waits for an unreachable or failing-over Redis before answering 503. */
  publishWaitMs: number;
  /** Bounds of the webhook buffers: the Redis outbox (clustered), batches in flight (embedded). */
  webhookBuffers: { outboxMax: number; maxInFlight: number };
  worker: { port: number; retryWindowMs: number; attemptTimeoutMs: number; claimMs: number };
  ws: { maxBackpressure: number; maxPayloadLength: number };
  /**
   * The apps known at start: PUSH_APPS_FILE's (the file store's content), or the app the
   * environment defines (PUSH_APP_*, or embedded mode's generated one), which every other store
   * serves beside its own, unchangeable through the admin API.
   */
  apps: readonly App[];
  appsStore: AppsStoreConfig;
  appsSync: { resyncMs: number; staleAfterMs: number };
  /** Set when embedded mode generated or loaded credentials from its local file. */
  credentials?: { file: string; created: boolean };
}

/** Reads and validates the environment once, at boot; lists every bad key. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = Env.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment:\n${lines.join('\n')}`);
  }
  const e = parsed.data;
  const topology = redisTopology(e);
  if ((e.PUSH_HISTORY_SIZE === 0) !== (e.PUSH_HISTORY_TTL_SECONDS === 0)) {
    throw new ConfigError('PUSH_HISTORY_SIZE and PUSH_HISTORY_TTL_SECONDS turn message recovery on together: set both above 0, or neither');
  }
  // The environment's app (not those of an apps file or store, which say it themselves).
  const history = e.PUSH_HISTORY_SIZE > 0 ? { size: e.PUSH_HISTORY_SIZE, ttlSeconds: e.PUSH_HISTORY_TTL_SECONDS } : undefined;
  let apps: App[];
  let credentials: Config['credentials'];
  if (e.PUSH_APPS_FILE !== undefined) {
    let text: string;
    try {
      text = readFileSync(e.PUSH_APPS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(`PUSH_APPS_FILE ${e.PUSH_APPS_FILE} cannot be read: ${(err as Error).message}`);
    }
    apps = parseAppsJson(text, e.PUSH_APPS_FILE);
  } else if (e.PUSH_APP_ID && e.PUSH_APP_KEY && e.PUSH_APP_SECRET) {
    assertStrongSecret(e.PUSH_APP_SECRET, 'PUSH_APP_SECRET');
    apps = [createApp(e.PUSH_APP_ID, e.PUSH_APP_KEY, e.PUSH_APP_SECRET, e.PUSH_WEBHOOK_URL, history)];
  } else if (e.PUSH_APP_ID || e.PUSH_APP_KEY || e.PUSH_APP_SECRET) {
    throw new ConfigError('PUSH_APP_ID, PUSH_APP_KEY and PUSH_APP_SECRET must be set together');
  } else if (topology !== undefined) {
    if (e.PUSH_APPS_STORE === 'file') {
      throw new ConfigError(
        'clustered mode (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES set) needs PUSH_APP_ID, PUSH_APP_KEY and PUSH_APP_SECRET, PUSH_APPS_FILE, or an app store (PUSH_APPS_STORE=redis or a database URL)',
      );
    }
    // Apps come from the store alone (the clustered default is the deployment's Redis).
    apps = [];
  } else {
    const c = loadOrCreateCredentials(e.PUSH_CREDENTIALS_FILE);
    apps = [createApp(c.id, c.key, c.secret, e.PUSH_WEBHOOK_URL, history)];
    credentials = { file: e.PUSH_CREDENTIALS_FILE, created: c.created };
  }
  const appsStore = appsStoreConfig(e, topology !== undefined);
  if (appsStore.kind !== 'file' && e.PUSH_APPS_FILE !== undefined) {
    throw new ConfigError('PUSH_APPS_FILE is the file store: it cannot be combined with PUSH_APPS_STORE=' + (e.PUSH_APPS_STORE ?? ''));
  }
  return {
    nodeId: e.PUSH_NODE_ID ?? randomUUID(),
    host: e.PUSH_HOST,
    apiHost: e.PUSH_API_HOST ?? e.PUSH_HOST,
    wsPort: e.PUSH_WS_PORT,
    apiPort: e.PUSH_API_PORT,
    logLevel: e.LOG_LEVEL,
    activityTimeout: e.PUSH_ACTIVITY_TIMEOUT,
    webhookDelayMs: e.PUSH_WEBHOOK_DELAY_MS,
    redis:
      topology === undefined
        ? undefined
        : {
            topology,
            prefix: e.PUSH_REDIS_PREFIX,
            leaseMs: e.PUSH_NODE_LEASE_MS,
            username: e.REDIS_USERNAME,
            password: e.REDIS_PASSWORD,
            tls: e.REDIS_TLS === '1' || e.REDIS_TLS === 'true',
          },
    allowUwsFallback: e.PUSH_ALLOW_UWS_FALLBACK === '1' || e.PUSH_ALLOW_UWS_FALLBACK === 'true',
    drainMs: e.PUSH_DRAIN_MS,
    maxConnectionsPerSecond: e.PUSH_MAX_CONNECTIONS_PER_SECOND,
    adminToken: e.PUSH_ADMIN_TOKEN,
    dashboardSessionSeconds: e.PUSH_DASHBOARD_SESSION_SECONDS,
    api: { headersTimeoutMs: e.PUSH_API_HEADERS_TIMEOUT_MS, requestTimeoutMs: e.PUSH_API_REQUEST_TIMEOUT_MS, maxConnections: e.PUSH_API_MAX_CONNECTIONS },
    maxQueuedFrames: e.PUSH_MAX_QUEUED_FRAMES,
    publishWaitMs: e.PUSH_PUBLISH_WAIT_MS,
    webhookBuffers: { outboxMax: e.PUSH_WEBHOOK_OUTBOX_MAX, maxInFlight: e.PUSH_WEBHOOK_MAX_IN_FLIGHT },
    worker: {
      port: e.PUSH_WORKER_PORT,
      retryWindowMs: e.PUSH_WEBHOOK_RETRY_WINDOW_MS,
      attemptTimeoutMs: e.PUSH_WEBHOOK_TIMEOUT_MS,
      claimMs: e.PUSH_WEBHOOK_CLAIM_MS,
    },
    ws: { maxBackpressure: e.PUSH_MAX_BACKPRESSURE_BYTES, maxPayloadLength: e.PUSH_MAX_FRAME_BYTES },
    apps,
    appsStore,
    appsSync: { resyncMs: e.PUSH_APPS_RESYNC_MS, staleAfterMs: e.PUSH_APPS_STALE_AFTER_MS },
    ...(credentials ? { credentials } : {}),
  };
}

function appsStoreConfig(e: z.infer<typeof Env>, clustered: boolean): AppsStoreConfig {
  const store = e.PUSH_APPS_STORE ?? (e.PUSH_APPS_FILE !== undefined ? 'file' : clustered ? 'redis' : 'local');
  if (e.PUSH_APPS_SOKETI_TABLE !== undefined && !/^[a-z]+:\/\//.test(store)) {
    throw new ConfigError('PUSH_APPS_SOKETI_TABLE reads a SQL table: set PUSH_APPS_STORE to a postgres:// or mysql:// URL');
  }
  if (store === 'file') {
    return {
      kind: 'file',
      readOnly:
        e.PUSH_APPS_FILE !== undefined
          ? `apps come from PUSH_APPS_FILE (${e.PUSH_APPS_FILE}), read at start: edit the file and restart, or keep apps in a store (PUSH_APPS_STORE=redis or a database URL)`
          : 'apps come from the environment (PUSH_APPS_STORE=file): set PUSH_APPS_STORE=redis or a database URL to change them at run time',
    };
  }
  if (store === 'local') return { kind: 'local', file: join(dirname(e.PUSH_CREDENTIALS_FILE), 'apps.json') };
  if (store === 'redis') {
    if (!clustered) throw new ConfigError('PUSH_APPS_STORE=redis needs Redis (REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES)');
    return { kind: 'redis' };
  }
  return { kind: 'sql', url: store, soketiTable: e.PUSH_APPS_SOKETI_TABLE, pollMs: e.PUSH_APPS_STORE_POLL_MS };
}
