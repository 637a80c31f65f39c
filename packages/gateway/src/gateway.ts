import {
  type ClusterState,
  type ClusterStats,
  connectRedisDebugBus,
  createMemoryState,
  createRedisState,
  type DebugBus,
  MemoryDebugBus,
  type NodeDirectory,
  type RedisClusterState,
  type StateObserver,
  type WebhookLog,
} from '@herald/broker';
import { USER_CHANNEL_PREFIX } from '@herald/protocol';
import { WebhookDispatcher, type RetryOptions } from '@herald/webhooks';
import type { Logger } from 'pino';
import type { us_listen_socket } from 'uWebSockets.js';
import { createApiServer, type ApiListenerLimits } from './api/server.js';
import { dashboardFiles } from './api/dashboard/static.js';
import { DEFAULT_SESSION_SECONDS } from './api/dashboard/session.js';
import { AppAdmin, catalogGauges, openAppCatalog, type AppCatalog } from '@herald/apps';
import { AppRegistry, type AppChanges } from '@herald/config';
import type { Config, RedisConfig } from '@herald/config';
import { appDisabled, appNotFound } from '@herald/protocol';
import type { GatewayEvents, HandlerContext } from './context.js';
import { Hub } from './hub.js';
import { completePartialAnswers } from './partial-answers.js';
import { createMetrics, type Metrics } from './metrics.js';
import { countWebhookDrops, outboxEvents } from './outbox-events.js';
import { SubscriptionCounter } from './subscription-count.js';
import { dashboardSources, embeddedWebhookLog, startNodeReporter } from './node-report.js';
import { loadUws } from './uws.js';
import { Connections } from './connections.js';
import type { ClientSocket } from './socket-data.js';
import { serveWebSockets } from './ws-server.js';
import { XhrServer } from './xhr/xhr-server.js';

export interface Gateway {
  wsPort: number;
  apiPort: number;
  /** True when the native uWebSockets.js binary serves the sockets. */
  native: boolean;
  metrics: Metrics;
  apps: AppRegistry;
  /** The node's copy of the apps, following the store. */
  catalog: AppCatalog;
  /** Every node's report (clustered: the whole cluster's, from Redis; embedded: this node's). */
  nodes: NodeDirectory;
  /** Recent webhook deliveries and dead letters (clustered: the workers', from Redis; embedded: this node's). */
  webhookLog: WebhookLog;
  /** The debug console's bus: what this node records, and where the dashboard opens consoles. */
  debug: DebugBus;
  /** This node's open sockets (WebSockets and HTTP sessions) by socket id; read, never changed, from outside. */
  sockets: ReadonlyMap<string, ClientSocket>;
  /** Stops accepting, tells clients to reconnect (4200), flushes webhooks, releases everything. */
  close(): Promise<void>;
}

export type GatewayConfig = Pick<
  Config,
  'host' | 'apiHost' | 'wsPort' | 'apiPort' | 'activityTimeout' | 'webhookDelayMs' | 'allowUwsFallback' | 'drainMs' | 'ws' | 'apps' | 'nodeId'
> & {
  /** Per-node connection rate limit; unset or 0: unlimited. */
  maxConnectionsPerSecond?: number;
  /** Frames of one socket waiting to be handled before it is closed (4301). @default 100 */
  maxQueuedFrames?: number;
  /** How long a trigger waits for an unreachable or failing-over Redis before answering 503. @default 10000 */
  publishWaitMs?: number;
  /** Timeouts and connection cap of the API listener. @default DEFAULT_API_LIMITS */
  api?: ApiListenerLimits;
  /** Clustered mode: Redis connection and key prefix. Unset: embedded in-memory state. */
  redis?: RedisConfig | undefined;
  /** Liveness timers, shortened by tests. */
  timers?: { pongWaitMs?: number; sweepMs?: number };
  /** HTTP sessions' timers (xhr/xhr-server.ts), shortened by tests. */
  xhrTimers?: { detachedMs?: number; heartbeatMs?: number; relayAnswerMs?: number };
  /** Embedded webhook retries, shortened by tests. @default the dispatcher's (5 minutes of retries) */
  webhookRetry?: RetryOptions;
  /** Bounds of the webhook buffers (PUSH_WEBHOOK_OUTBOX_MAX, PUSH_WEBHOOK_MAX_IN_FLIGHT); unset: their defaults. */
  webhookBuffers?: Config['webhookBuffers'];
  /** Where apps are kept (PUSH_APPS_STORE). @default the apps of `apps`, read-only */
  appsStore?: Config['appsStore'];
  appsSync?: Config['appsSync'];
  /** PUSH_ADMIN_TOKEN: the admin API and the dashboard exist only with it. */
  adminToken?: string | undefined;
  /** How long a dashboard sign-in lasts (PUSH_DASHBOARD_SESSION_SECONDS). @default 43200 */
  dashboardSessionSeconds?: number;
};

const DEFAULT_APPS_STORE: Config['appsStore'] = { kind: 'file', readOnly: 'apps are fixed at start in this gateway' };

/**
 * What a change of the app set does to this node's sockets: a deleted app's are closed with 4001, a
 * disabled app's with 4003; an added app gets topics. Limits, secrets and webhooks need nothing
 * here: the app object the sockets hold was updated in place.
 */
function applyAppChanges(hub: Hub, changes: AppChanges, log: Logger): void {
  for (const app of changes.added) hub.addApp(app);
  for (const app of changes.removed) {
    const closed = hub.closeApp(app.id, appNotFound(app.key));
    hub.removeApp(app.id);
    log.info({ appId: app.id, closed }, 'app deleted: its sockets closed');
  }
  for (const { app, before } of changes.updated) {
    if (before.enabled && !app.enabled) log.info({ appId: app.id, closed: hub.closeApp(app.id, appDisabled()) }, 'app disabled: its sockets closed');
  }
}

/** The memory stores' transitions, for the in-process webhook pipeline; `#server-to-user-` channels are internal. */
const webhookObserver = (webhooks: WebhookDispatcher): StateObserver => ({
  channelOccupancy: (appId, channel, occupied) => {
    if (!channel.startsWith(USER_CHANNEL_PREFIX)) webhooks.channelOccupancy(appId, channel, occupied);
  },
  memberPresence: (appId, channel, userId, present) => webhooks.memberPresence(appId, channel, userId, present),
});

/**
 * Starts one gateway: uWebSockets.js on the WebSocket port, fastify on the API port, the embedded
 * in-memory cluster state and the in-process webhook pipeline. Resolves once both ports listen.
 */
export async function startGateway(cfg: GatewayConfig, log: Logger): Promise<Gateway> {
  const { uws, native } = loadUws(cfg.allowUwsFallback);
  log.info({ uws: native ? 'native' : 'js-fallback' }, native ? 'uWebSockets.js native binary in use' : 'uWebSockets.js pure-JS fallback in use: slow');
  const apps = new AppRegistry(cfg.apps);
  const catalog = await openAppCatalog(
    {
      apps: cfg.apps,
      appsStore: cfg.appsStore ?? DEFAULT_APPS_STORE,
      appsSync: cfg.appsSync ?? { resyncMs: 30_000, staleAfterMs: 3_600_000 },
      redis: cfg.redis,
    },
    apps,
    log.child({ component: 'apps' }),
  );
  const clustered = cfg.redis !== undefined;
  // Bound once the state exists; the metrics read it lazily.
  let stats: (() => ClusterStats) | undefined = undefined;
  const metrics = createMetrics({ nodeId: cfg.nodeId, native, cluster: () => stats?.(), gauges: catalogGauges(() => catalog.stats()) });
  // Embedded: webhooks are debounced and delivered in this process, fed by the memory stores.
  // Clustered: occupancy and presence webhooks come from the webhook worker (Redis keyspace
  // events); the events only a gateway sees go to the worker through the Redis outbox stream.
  // Clustered: on connections of its own, so records never queue with the state's commands.
  const debug: DebugBus = cfg.redis
    ? await connectRedisDebugBus({ ...cfg.redis, nodeId: cfg.nodeId, log: log.child({ component: 'debug' }) })
    : new MemoryDebugBus({ nodeId: cfg.nodeId });
  const embeddedLog = clustered ? undefined : embeddedWebhookLog(log.child({ component: 'webhooks' }));
  const webhooks = clustered
    ? undefined
    : new WebhookDispatcher({
        apps: (id) => apps.byId(id),
        delayMs: cfg.webhookDelayMs,
        ...(cfg.webhookBuffers ? { maxInFlight: cfg.webhookBuffers.maxInFlight } : {}),
        ...(cfg.webhookRetry ? { retry: cfg.webhookRetry } : {}),
        onDropped: countWebhookDrops(metrics),
        debug: { sink: debug, node: cfg.nodeId },
        ...embeddedLog?.hooks,
        log: log.child({ component: 'webhooks' }),
      });
  if (webhooks) embeddedLog?.bind(webhooks);
  const state: ClusterState = cfg.redis
    ? await createRedisState({ ...cfg.redis, nodeId: cfg.nodeId, log: log.child({ component: 'redis' }) })
    : createMemoryState(webhookObserver(webhooks!));
  stats = state.stats?.bind(state);
  const dashboard = dashboardSources(state, embeddedLog?.webhookLog, cfg.webhookBuffers?.outboxMax);
  const events: GatewayEvents =
    webhooks ?? outboxEvents({ state: state as RedisClusterState, apps, log, outboxMax: cfg.webhookBuffers?.outboxMax, onDropped: countWebhookDrops(metrics) });
  const uwsApp = uws.App();
  const hub = new Hub(uwsApp, metrics, apps.apps);
  apps.onChange((changes) => applyAppChanges(hub, changes, log.child({ component: 'apps' })));
  const subscriptionCounts = new SubscriptionCounter(state.broker);
  const ctx: HandlerContext = { hub, state, metrics, events, subscriptionCounts, debug, log };
  state.setLocalState(() => hub.localState());
  state.onRecovered(() => completePartialAnswers(ctx));
  const conns = new Connections(
    apps,
    ctx,
    {
      activityTimeout: cfg.activityTimeout,
      maxBackpressure: cfg.ws.maxBackpressure,
      ...cfg.timers,
      maxConnectionsPerSecond: cfg.maxConnectionsPerSecond ?? 0,
      ...(cfg.maxQueuedFrames !== undefined ? { maxQueuedFrames: cfg.maxQueuedFrames } : {}),
    },
    log.child({ component: 'ws' }),
  );
  serveWebSockets(uwsApp, uws, conns, metrics, {
    activityTimeout: cfg.activityTimeout,
    maxBackpressure: cfg.ws.maxBackpressure,
    maxPayloadLength: cfg.ws.maxPayloadLength,
  });
  const xhr = new XhrServer(
    uwsApp,
    hub,
    conns,
    apps,
    state.sessions,
    metrics,
    { maxBackpressure: cfg.ws.maxBackpressure, maxPayloadLength: cfg.ws.maxPayloadLength, ...cfg.xhrTimers },
    log.child({ component: 'xhr' }),
  );
  // Node messages are the HTTP sessions' alone.
  await state.broker.start({ onPublication: (p) => hub.deliver(p), onControl: (c) => hub.control(c), onNodeMessage: (m) => xhr.onNodeMessage(m) });

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    uwsApp.listen(cfg.host, cfg.wsPort, (s) => (s ? resolve(s) : reject(new Error(`cannot listen on ${cfg.host}:${cfg.wsPort} (WebSocket)`))));
  });
  const wsPort = uws.us_socket_local_port(listenSocket);
  let ready = false;
  const api = createApiServer(
    {
      apps,
      state,
      metrics,
      debug,
      ready: () => ready && state.isReady() && catalog.fresh(),
      publishWaitMs: cfg.publishWaitMs ?? 10_000,
      admin:
        cfg.adminToken !== undefined ? { token: cfg.adminToken, admin: new AppAdmin(catalog, catalog.pinned, log.child({ component: 'admin' })) } : undefined,
      dashboard:
        cfg.adminToken !== undefined
          ? {
              mode: clustered ? 'clustered' : 'embedded',
              nodeId: cfg.nodeId,
              sessionSeconds: cfg.dashboardSessionSeconds ?? DEFAULT_SESSION_SECONDS,
              nodes: dashboard.nodes,
              webhookLog: dashboard.webhookLog,
              debug,
              files: dashboardFiles,
            }
          : undefined,
    },
    log.child({ component: 'api' }),
    cfg.api,
  );
  try {
    await api.listen({ host: cfg.apiHost, port: cfg.apiPort });
  } catch (err) {
    uws.us_listen_socket_close(listenSocket);
    await debug.close();
    await catalog.close();
    throw err;
  }
  const address = api.server.address();
  const apiPort = typeof address === 'object' && address !== null ? address.port : cfg.apiPort;
  ready = true;
  log.info({ wsPort, apiPort }, 'listening');
  const reporter = startNodeReporter({
    id: cfg.nodeId,
    store: dashboard.nodes,
    state,
    hub,
    metrics,
    ready: () => ready && state.isReady() && catalog.fresh(),
    webhooks: webhooks && embeddedLog ? { dispatcher: webhooks, log: embeddedLog.webhookLog } : undefined,
    log: log.child({ component: 'node-report' }),
  });

  let closing: Promise<void> | undefined;
  return {
    wsPort,
    apiPort,
    native,
    metrics,
    apps,
    catalog,
    nodes: dashboard.nodes,
    webhookLog: dashboard.webhookLog,
    debug,
    sockets: hub.sockets,
    close: () =>
      (closing ??= (async () => {
        ready = false;
        log.info('draining');
        uws.us_listen_socket_close(listenSocket);
        xhr.stopAccepting();
        await conns.drain(cfg.drainMs);
        await conns.settled();
        await xhr.close();
        subscriptionCounts.close();
        await webhooks?.close();
        await api.close();
        await debug.close();
        await catalog.close();
        await reporter.stop();
        await state.close();
        log.info('stopped');
      })()),
  };
}
