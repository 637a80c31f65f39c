import { createRedisDebugSink, createRedisState, NodeReporter, RedisNodeDirectory } from '@herald/broker';
import { catalogGauges, openAppCatalog } from '@herald/apps';
import { ConfigError, loadConfig, AppRegistry } from '@herald/config';
import { createLogger } from '@herald/logger';
import { KeyspaceConfigError } from './keyspace-source.js';
import { RedisWebhookWorker } from './redis-worker.js';
import { createWorkerHttp } from './worker-http.js';

/**
 * The longest a stop may take: the final checks and deliveries get 5 s (RedisWebhookWorker.close),
 * the rest is margin. Orchestrators wait 30 s (compose) or 40 s (Kubernetes) before SIGKILL.
 */
const SHUTDOWN_LIMIT_MS = 10_000;

/** Entry point of `npm run webhook-worker`: Redis occupancy and presence changes → webhooks. */
async function main(): Promise<void> {
  if (!process.env.REDIS_URL && !process.env.REDIS_SENTINELS && !process.env.REDIS_CLUSTER_NODES) {
    process.stderr.write(
      'herald: the webhook worker needs REDIS_URL (or REDIS_SENTINELS, REDIS_CLUSTER_NODES); `npm start` delivers webhooks itself in embedded mode\n',
    );
    process.exit(1);
  }
  let cfg;
  try {
    cfg = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`herald: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const workerId = `worker-${cfg.nodeId}`;
  const log = createLogger('webhook-worker', { level: cfg.logLevel, nodeId: workerId });
  const apps = new AppRegistry(cfg.apps);
  // Webhook targets and secrets are read from it at each delivery: a change applies to the next one.
  const catalog = await openAppCatalog(cfg, apps, log.child({ component: 'apps' }));
  const state = await createRedisState({ ...cfg.redis!, nodeId: workerId, log: log.child({ component: 'redis' }) });
  // Webhook outcomes go to the dashboard's debug console while one of the app is open.
  const debug = createRedisDebugSink({ client: state.redis, prefix: cfg.redis!.prefix, nodeId: workerId, log: log.child({ component: 'debug' }) });
  const worker = new RedisWebhookWorker({
    state,
    debug,
    apps: (id) => apps.byId(id),
    delayMs: cfg.webhookDelayMs,
    workerId,
    claimMs: cfg.worker.claimMs,
    retry: { windowMs: cfg.worker.retryWindowMs, attemptTimeoutMs: cfg.worker.attemptTimeoutMs },
    outboxMax: cfg.webhookBuffers.outboxMax,
    leaseMs: cfg.redis!.leaseMs,
    log: log.child({ component: 'webhooks' }),
  });
  try {
    await worker.start();
  } catch (err) {
    if (err instanceof KeyspaceConfigError) {
      log.fatal({ code: err.code }, err.message);
      process.stderr.write(`herald: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const http = createWorkerHttp(worker, {
    nodeId: workerId,
    log: log.child({ component: 'http' }),
    adminToken: cfg.adminToken,
    gauges: catalogGauges(() => catalog.stats()),
    moreProblems: () =>
      catalog.fresh() ? [] : [`apps last read from the ${catalog.store.kind} store ${Math.round(catalog.stats().lastSyncAgeMs / 1000)} s ago`],
  });
  await http.listen({ host: cfg.host, port: cfg.worker.port });
  // The dashboard's overview lists the worker beside the gateways, with its outbox and lead.
  const reporter = new NodeReporter({
    id: workerId,
    role: 'worker',
    store: new RedisNodeDirectory({ client: state.redis, keys: state.keys }),
    figures: () => ({ connections: 0, messagesIn: 0, messagesOut: 0 }),
    ready: () => worker.ready && catalog.fresh(),
    redisRoundTripMs: () => state.stats().redisRttMs,
    webhooks: () => worker.report(),
    log: log.child({ component: 'node-report' }),
  });
  reporter.start();
  log.info({ port: cfg.worker.port, apps: apps.size, delayMs: cfg.webhookDelayMs }, 'webhook worker running');
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    // Whatever Redis is doing (gone, failing over), the process is gone within this bound.
    setTimeout(() => {
      log.warn({ afterMs: SHUTDOWN_LIMIT_MS }, 'shutdown did not finish in time (Redis unreachable?): exiting');
      process.exit(0);
    }, SHUTDOWN_LIMIT_MS).unref();
    (async () => {
      await http.close();
      await reporter.stop();
      await worker.close();
      await debug.close();
      await catalog.close();
      await state.close();
    })().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  process.stderr.write(`herald: fatal: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(1);
});
