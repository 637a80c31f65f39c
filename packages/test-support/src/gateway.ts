import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import type Pusher from 'pusher';
import { startGateway, parseAppsJson, type App, type Gateway } from '@herald/gateway';

type RedisTopology = NonNullable<Parameters<typeof startGateway>[0]['redis']>['topology'];
import { sdkFor as sdkForNode } from './sdk.js';

export interface AppInput {
  id?: string;
  key?: string;
  secret?: string;
  webhooks?: { url: string; events?: string[]; channel_prefix?: string; format?: 'pusher' | 'webman' }[];
  [limitOrSwitch: string]: unknown;
}

export interface TestGateway extends AsyncDisposable {
  gw: Gateway;
  app: App;
  wsPort: number;
  apiPort: number;
  apiUrl: string;
  /** The official Node server SDK, configured for the first app. */
  sdk: Pusher;
  sdkFor(app: App): Pusher;
  close(): Promise<void>;
}

const randomApp = (i: number): Required<Pick<AppInput, 'id' | 'key' | 'secret'>> => ({
  id: String(1000 + i),
  key: `key${i}-${randomBytes(6).toString('hex')}`,
  secret: randomBytes(16).toString('hex'),
});

/** A real gateway in this process on free ports, with random credentials; closed on dispose. */
export async function startTestGateway(
  opts: {
    apps?: AppInput[];
    webhookDelayMs?: number;
    activityTimeout?: number;
    timers?: { pongWaitMs?: number; sweepMs?: number };
    /** HTTP sessions' timers (abandoned-session close, heartbeat). */
    xhrTimers?: { detachedMs?: number; heartbeatMs?: number; relayAnswerMs?: number };
    /** Embedded webhook retries (shortened to see dead letters). */
    webhookRetry?: { initialDelayMs?: number; windowMs?: number; attemptTimeoutMs?: number };
    maxPayloadLength?: number;
    maxBackpressure?: number;
    logLevel?: string;
    maxConnectionsPerSecond?: number;
    maxQueuedFrames?: number;
    api?: { headersTimeoutMs: number; requestTimeoutMs: number; maxConnections: number };
    /** PUSH_ADMIN_TOKEN: the admin API and the dashboard exist only with it. */
    adminToken?: string;
    /** Clustered mode on this Redis (a fresh key prefix per gateway unless given); `topology` instead of `url` for Sentinel or Cluster. */
    redis?: { url?: string; topology?: RedisTopology; prefix?: string; leaseMs?: number };
    /** Several gateways on one Redis need ids of their own. @default 'test-node' */
    nodeId?: string;
  } = {},
): Promise<TestGateway> {
  const inputs = opts.apps ?? [{}];
  const apps = parseAppsJson(JSON.stringify(inputs.map((a, i) => ({ ...randomApp(i), ...a }))), 'test apps');
  const log = pino({ level: opts.logLevel ?? process.env.TEST_LOG_LEVEL ?? 'silent' });
  const gw = await startGateway(
    {
      nodeId: opts.nodeId ?? 'test-node',
      host: '127.0.0.1',
      apiHost: '127.0.0.1',
      wsPort: 0,
      apiPort: 0,
      activityTimeout: opts.activityTimeout ?? 30,
      webhookDelayMs: opts.webhookDelayMs ?? 1000,
      allowUwsFallback: false,
      drainMs: 0,
      ws: { maxBackpressure: opts.maxBackpressure ?? 1024 * 1024, maxPayloadLength: opts.maxPayloadLength ?? 64 * 1024 },
      apps,
      ...(opts.timers ? { timers: opts.timers } : {}),
      ...(opts.xhrTimers ? { xhrTimers: opts.xhrTimers } : {}),
      ...(opts.webhookRetry ? { webhookRetry: opts.webhookRetry } : {}),
      ...(opts.maxConnectionsPerSecond !== undefined ? { maxConnectionsPerSecond: opts.maxConnectionsPerSecond } : {}),
      ...(opts.maxQueuedFrames !== undefined ? { maxQueuedFrames: opts.maxQueuedFrames } : {}),
      ...(opts.api ? { api: opts.api } : {}),
      ...(opts.adminToken !== undefined ? { adminToken: opts.adminToken } : {}),
      ...(opts.redis
        ? {
            redis: {
              topology: opts.redis.topology ?? { kind: 'single' as const, url: opts.redis.url ?? '' },
              prefix: opts.redis.prefix ?? `t-${randomBytes(6).toString('hex')}`,
              leaseMs: opts.redis.leaseMs ?? 10_000,
            },
          }
        : {}),
    },
    log,
  );
  const sdkFor = (app: App) => sdkForNode(app, gw);
  const close = () => gw.close();
  return {
    gw,
    app: gw.apps.apps[0]!,
    wsPort: gw.wsPort,
    apiPort: gw.apiPort,
    apiUrl: `http://127.0.0.1:${gw.apiPort}`,
    sdk: sdkFor(gw.apps.apps[0]!),
    sdkFor,
    close,
    [Symbol.asyncDispose]: close,
  };
}
