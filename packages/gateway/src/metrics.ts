import type { ClusterStats } from '@herald/broker';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one gateway; a registry per instance so several can live in one process. */
export function createMetrics(opts: {
  nodeId: string;
  native: boolean;
  cluster?: () => ClusterStats | undefined;
  /** More gauges read at each scrape (the app catalog's). */
  gauges?: { name: string; help: string; value: () => number }[];
}) {
  const registry = new Registry();
  registry.setDefaultLabels({ node: opts.nodeId });
  // Event-loop delay sampled every 100 ms, not prom-client's default 10 ms: every sample is a timer
  // wake-up, which an idle gateway pays for in CPU (docs/performance.md, "Why the hot path is shaped as it is").
  collectDefaultMetrics({ register: registry, prefix: 'herald_process_', eventLoopMonitoringPrecision: 100 });
  const m = {
    registry,
    connections: new Gauge({
      name: 'herald_connections',
      help: 'Open connections, by app and transport (ws, xhr_streaming, xhr_polling)',
      labelNames: ['app', 'transport'],
      registers: [registry],
    }),
    connectionsTotal: new Counter({
      name: 'herald_connections_total',
      help: 'Connections accepted, by app and transport',
      labelNames: ['app', 'transport'],
      registers: [registry],
    }),
    subscriptions: new Gauge({ name: 'herald_subscriptions', help: 'Channel subscriptions held by local connections', registers: [registry] }),
    messagesIn: new Counter({ name: 'herald_ws_messages_in_total', help: 'Frames received from clients', registers: [registry] }),
    messagesOut: new Counter({ name: 'herald_ws_messages_out_total', help: 'Frames sent to clients (fan-out counted per subscriber)', registers: [registry] }),
    publications: new Counter({ name: 'herald_publications_total', help: 'Publications delivered to local topics', registers: [registry] }),
    errors: new Counter({ name: 'herald_ws_errors_total', help: 'pusher:error frames sent, by code', labelNames: ['code'], registers: [registry] }),
    subscriptionErrors: new Counter({
      name: 'herald_subscription_errors_total',
      help: 'Failed subscriptions, by type',
      labelNames: ['type'],
      registers: [registry],
    }),
    apiRequests: new Counter({ name: 'herald_api_requests_total', help: 'HTTP API requests, by status', labelNames: ['status'], registers: [registry] }),
    backpressureDrops: new Counter({
      name: 'herald_backpressure_drops_total',
      help: 'Sends dropped or sockets closed over maxBackpressure',
      registers: [registry],
    }),
    clientEventsRateLimited: new Counter({
      name: 'herald_client_events_rate_limited_total',
      help: 'Client events refused by the per-connection rate limit',
      registers: [registry],
    }),
    admissionRefused: new Counter({
      name: 'herald_admission_refused_total',
      help: 'Connections refused by admission control, by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    slowConsumers: new Counter({ name: 'herald_slow_consumers_closed_total', help: 'Sockets closed (4100) for not reading their data', registers: [registry] }),
    limitRefusals: new Counter({
      name: 'herald_limit_refusals_total',
      help: 'Requests, frames and connections refused by a limit, by limit (see docs/reliability.md)',
      labelNames: ['limit'],
      registers: [registry],
    }),
    apiRateLimited: new Counter({ name: 'herald_api_rate_limited_total', help: 'API requests refused (429) by the per-app rate limit', registers: [registry] }),
    webhookEventsDropped: new Counter({
      name: 'herald_webhook_events_dropped_total',
      help: 'Webhook events dropped because a bounded buffer was full, by event and reason (outbox_full: PUSH_WEBHOOK_OUTBOX_MAX; in_flight_full: PUSH_WEBHOOK_MAX_IN_FLIGHT)',
      labelNames: ['event', 'reason'],
      registers: [registry],
    }),
    uwsNative: new Gauge({ name: 'herald_uws_native', help: '1 when the native uWebSockets.js binary is in use', registers: [registry] }),
  };
  m.uwsNative.set(opts.native ? 1 : 0);
  for (const g of opts.gauges ?? []) {
    new Gauge({
      name: g.name,
      help: g.help,
      registers: [registry],
      collect() {
        this.set(g.value());
      },
    });
  }
  const cluster = opts.cluster;
  if (cluster !== undefined) {
    const gauge = (name: string, help: string, pick: (s: ClusterStats) => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          const s = cluster();
          if (s !== undefined) this.set(pick(s));
        },
      });
    gauge('herald_redis_rtt_ms', 'Round trip of the last Redis lease renewal', (s) => s.redisRttMs);
    gauge('herald_redis_reconnects', 'Times the Redis connection came back after a loss', (s) => s.reconnects);
    gauge('herald_redis_lease_age_ms', 'Milliseconds since this node renewed its lease', (s) => s.leaseAgeMs);
    gauge('herald_redis_lease_lapses', "Renewals that found this node's lease lapsed (its state registered again)", (s) => s.leaseLapses);
    gauge('herald_redis_topics', 'Channel topics this node is subscribed to in Redis', (s) => s.topics);
    gauge('herald_redis_publications_out', 'Publications sent to Redis', (s) => s.published);
    gauge('herald_redis_publications_in', 'Publications received from Redis', (s) => s.received);
  }
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The limits counted in `herald_limit_refusals_total{limit}`. */
export type LimitName =
  | 'frame_size'
  | 'event_payload'
  | 'request_body'
  | 'channels_per_connection'
  | 'presence_members'
  | 'presence_user_info'
  | 'client_events_rate'
  | 'api_rate'
  | 'app_connections'
  | 'connection_rate'
  | 'slow_consumer'
  | 'frame_queue'
  | 'api_request_timeout'
  | 'api_connections';

export function countLimit(metrics: Metrics, limit: LimitName): void {
  metrics.limitRefusals.inc({ limit });
}
