import {
  MemoryNodeDirectory,
  NodeReporter,
  RedisNodeDirectory,
  RedisWebhookLog,
  RedisWebhooks,
  type ClusterState,
  type NodeReportStore,
  type RedisClusterState,
  type WebhookLog,
} from '@herald/broker';
import { MemoryWebhookLog, type WebhookDispatcher, type WebhookDispatcherOptions } from '@herald/webhooks';
import type { Logger } from 'pino';
import type { Hub } from './hub.js';
import type { Metrics } from './metrics.js';

/**
 * The embedded node's webhook log, fed by its dispatcher; its dead letters are replayed through
 * it (bound once the dispatcher exists, which needs the log's hooks first).
 */
export function embeddedWebhookLog(log: Logger): {
  webhookLog: MemoryWebhookLog;
  hooks: Pick<WebhookDispatcherOptions, 'onOutcome' | 'onDeadLetter'>;
  bind(dispatcher: WebhookDispatcher): void;
} {
  let dispatcher: WebhookDispatcher | undefined;
  const webhookLog = new MemoryWebhookLog({ redeliver: (appId, url, batch) => dispatcher?.redeliver(appId, url, batch) ?? false });
  return {
    webhookLog,
    hooks: {
      onOutcome: (r) => webhookLog.record(r),
      onDeadLetter: (batch, target, err, app) => {
        log.error(
          { appId: app.id, url: webhookLog.deadLetter(batch, target, err, app).target, webhookId: batch.id, events: batch.events.length, err: err.message },
          'webhook dead-lettered',
        );
      },
    },
    bind: (d) => void (dispatcher = d),
  };
}

/**
 * Where the dashboard reads nodes and webhooks. Clustered: Redis, through this gateway's own
 * connection, so any gateway shows the whole cluster; embedded: this process.
 */
export function dashboardSources(
  state: ClusterState,
  embedded: MemoryWebhookLog | undefined,
  outboxMax: number | undefined,
): { nodes: NodeReportStore; webhookLog: WebhookLog } {
  if (embedded !== undefined) return { nodes: new MemoryNodeDirectory(), webhookLog: embedded };
  const { redis: client, keys } = state as RedisClusterState;
  const webhooks = new RedisWebhooks(client, keys, outboxMax === undefined ? {} : { outboxMax });
  return {
    nodes: new RedisNodeDirectory({ client, keys, connected: () => state.isReady() }),
    webhookLog: new RedisWebhookLog(client, keys, webhooks),
  };
}

/** Reports this gateway: its sockets, message rates, readiness, and in embedded mode its webhooks. */
export function startNodeReporter(o: {
  id: string;
  store: NodeReportStore;
  state: ClusterState;
  hub: Hub;
  metrics: Metrics;
  ready: () => boolean;
  webhooks: { dispatcher: WebhookDispatcher; log: MemoryWebhookLog } | undefined;
  log: Logger;
}): NodeReporter {
  const total = async (c: Metrics['messagesIn']) => (await c.get()).values.reduce((n, v) => n + v.value, 0);
  const { state, webhooks } = o;
  const reporter = new NodeReporter({
    id: o.id,
    role: 'gateway',
    store: o.store,
    figures: async () => {
      const [messagesIn, messagesOut] = await Promise.all([total(o.metrics.messagesIn), total(o.metrics.messagesOut)]);
      return { connections: o.hub.sockets.size, messagesIn, messagesOut };
    },
    ready: o.ready,
    ...(state.stats ? { redisRoundTripMs: () => state.stats!().redisRttMs } : {}),
    // The embedded node delivers webhooks itself: no outbox, batches in flight are its backlog.
    ...(webhooks ? { webhooks: async () => ({ backlog: webhooks.dispatcher.stats().pending, deadLetters: webhooks.log.deadLetterCount, leader: true }) } : {}),
    log: o.log,
  });
  reporter.start();
  return reporter;
}
