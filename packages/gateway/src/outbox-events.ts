import { RedisWebhooks, type RedisClusterState } from '@herald/broker';
import type { AppRegistry } from '@herald/config';
import type { WebhookEvent } from '@herald/protocol';
import { LogThrottle, WebhookDropReason, targetAccepts, type WebhookDropHandler } from '@herald/webhooks';
import type { Logger } from 'pino';
import type { GatewayEvents } from './context.js';
import type { Metrics } from './metrics.js';

export interface OutboxEventsOptions {
  state: RedisClusterState;
  apps: AppRegistry;
  log: Logger;
  /** PUSH_WEBHOOK_OUTBOX_MAX: undelivered events the outbox holds at most. @default 100000 */
  outboxMax?: number | undefined;
  /** Told about every event the full outbox refused (the gateway counts them). */
  onDropped: WebhookDropHandler;
}

/**
 * Clustered mode: the client events and cache misses a gateway sees go to the Redis webhook outbox,
 * for the worker to deliver. Only events some target of the app accepts (its event types and
 * channel prefix) are appended, so an app whose webhooks want occupancy only costs nothing per
 * client event. An append the full outbox refuses is dropped, never silently: reported to
 * `onDropped` and logged (a line a second at most per app and event).
 */
export function outboxEvents(o: OutboxEventsOptions): GatewayEvents {
  const outbox = new RedisWebhooks(o.state.redis, o.state.keys, o.outboxMax === undefined ? {} : { outboxMax: o.outboxMax });
  const dropLog = new LogThrottle();
  const refused = (appId: string, event: WebhookEvent) => {
    o.onDropped(appId, [event.name], WebhookDropReason.OutboxFull);
    const held = dropLog.take(`${appId}\n${event.name}`);
    if (held !== undefined) {
      o.log.warn({ appId, event: event.name, outboxMax: outbox.outboxMax, heldBackLines: held }, 'webhook outbox full: event dropped');
    }
  };
  const append = (appId: string, event: WebhookEvent) => {
    const targets = o.apps.byId(appId)?.webhooks ?? [];
    if (!targets.some((t) => targetAccepts(t, event)) || !o.state.isReady()) return;
    outbox.append(appId, event).then(
      (appended) => {
        if (!appended) refused(appId, event);
      },
      (err: Error) => o.log.warn({ appId, event: event.name, err: err.message }, 'webhook outbox append failed'),
    );
  };
  return {
    clientEvent: (appId, ev) =>
      append(appId, {
        name: 'client_event',
        channel: ev.channel,
        event: ev.event,
        data: ev.data,
        socket_id: ev.socketId,
        ...(ev.userId !== undefined ? { user_id: ev.userId } : {}),
      }),
    cacheMiss: (appId, channel) => append(appId, { name: 'cache_miss', channel }),
  };
}

/** Counts dropped webhook events in `herald_webhook_events_dropped_total{event,reason}`. */
export const countWebhookDrops =
  (metrics: Metrics): WebhookDropHandler =>
  (_appId, events, reason) => {
    for (const event of events) metrics.webhookEventsDropped.inc({ event, reason });
  };
