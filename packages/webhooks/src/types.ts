import type { DebugSink, WebhookDeliveryRecord } from '@herald/broker';
import type { App, WebhookTarget } from '@herald/config';
import type { WebhookEvent, WebhookEventName } from '@herald/protocol';

/** What the webhook library reads of an app: its credentials (to sign) and its targets. */
export type WebhookApp = Pick<App, 'id' | 'key' | 'secret' | 'webhooks'>;

/** What an event source (in-process gateway events now, Redis keyspace notifications later) feeds into the dispatcher. */
export interface TransitionSink {
  channelOccupancy(appId: string, channel: string, occupied: boolean): void;
  memberPresence(appId: string, channel: string, userId: string, present: boolean): void;
  clientEvent(appId: string, ev: { channel: string; event: string; data: string; socketId: string; userId?: string }): void;
  cacheMiss(appId: string, channel: string): void;
}

/** One POST body's worth of events. `id` and `timeMs` are fixed at creation and kept on every retry. */
export interface WebhookBatch {
  /** UUID sent as `X-Herald-Webhook-Id`: receivers de-duplicate retries with it. */
  readonly id: string;
  /** Integer ms since epoch, sent as `time_ms`. */
  readonly timeMs: number;
  readonly events: readonly WebhookEvent[];
  /** Stable ids of the events (Redis outbox mode), sent as `X-Herald-Event-Ids` so duplicates are detectable. */
  readonly eventIds?: readonly string[];
}

/** Called once per batch that could not be delivered (retry window used up, or dropped at close). */
export type DeadLetterHandler = (batch: WebhookBatch, target: WebhookTarget, lastError: Error, app: WebhookApp) => void;

/** Told each webhook request's outcome (the URL without credentials); must not throw. */
export type WebhookOutcomeHandler = (record: WebhookDeliveryRecord) => void;

/** Where webhook outcomes go as debug records, and the node they are recorded on. */
export interface WebhookOutcomeDebug {
  sink: DebugSink;
  node: string;
}

/** The pino subset used here; pass a child logger. */
export interface WebhookLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** Why webhook events were dropped: a bounded buffer was full (counted in `herald_webhook_events_dropped_total{reason}`). */
export const WebhookDropReason = {
  /** Clustered: the Redis outbox held PUSH_WEBHOOK_OUTBOX_MAX undelivered events. */
  OutboxFull: 'outbox_full',
  /** Embedded: PUSH_WEBHOOK_MAX_IN_FLIGHT batches were being delivered or retried. */
  InFlightFull: 'in_flight_full',
} as const;
export type WebhookDropReason = (typeof WebhookDropReason)[keyof typeof WebhookDropReason];

/** Told about every dropped event, by its Pusher name (one entry per event); must not throw. */
export type WebhookDropHandler = (appId: string, events: readonly WebhookEventName[], reason: WebhookDropReason) => void;
