import type { DeadLetter, ReplayResult } from './redis/webhook-types.js';

/** One webhook request's outcome, kept in a bounded per-app list for the dashboard. */
export interface WebhookDeliveryRecord {
  /** The batch id (the `X-Pusher-Webhook-Id`-like id the events were sent under). */
  id: string;
  appId: string;
  /** Target URL without credentials. */
  url: string;
  /** Event names in the batch. */
  events: string[];
  /** HTTP status; absent when no answer came. */
  status?: number;
  error?: string;
  latencyMs: number;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: 'delivered' | 'retrying' | 'dead_lettered';
  /** ms since the epoch. */
  at: number;
}

/** Keep at most this many delivery records per app (the newest). */
export const WEBHOOK_LOG_MAX = 200;

/** The dashboard's view of webhooks: recent deliveries and the dead letters, in either mode. */
export interface WebhookLog {
  /** The newest first. */
  deliveries(appId: string, count: number): Promise<WebhookDeliveryRecord[]>;
  /** The oldest first, of this app only. */
  deadLetters(appId: string, count: number): Promise<DeadLetter[]>;
  /** Replays these dead letters of the app (ids of another app are ignored). */
  replay(appId: string, ids: string[]): Promise<ReplayResult>;
  /** Deletes these dead letters of the app; resolves with how many were deleted. */
  drop(appId: string, ids: string[]): Promise<number>;
}
