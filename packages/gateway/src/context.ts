import type { ClusterState, DebugSink } from '@herald/broker';
import type { Logger } from 'pino';
import type { Hub } from './hub.js';
import type { Metrics } from './metrics.js';
import type { SubscriptionCounter } from './subscription-count.js';

/** Events the gateway sees directly and the webhook pipeline needs (client events, cache misses). */
export interface GatewayEvents {
  clientEvent(appId: string, ev: { channel: string; event: string; data: string; socketId: string; userId?: string }): void;
  cacheMiss(appId: string, channel: string): void;
}

/** What the socket handlers use; each handler takes only this, never the whole server. */
export interface HandlerContext {
  hub: Hub;
  state: ClusterState;
  metrics: Metrics;
  events: GatewayEvents;
  subscriptionCounts: SubscriptionCounter;
  /** The debug console's records; producers ask `watching` before building one. */
  debug: DebugSink;
  log: Logger;
}
