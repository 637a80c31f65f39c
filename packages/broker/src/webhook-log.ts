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

/** Keep at most this many dead letters in embedded mode (the oldest go first); Redis keeps about 10 000. */
export const DEAD_LETTERS_MEMORY_MAX = 1000;

/**
 * The dashboard's view of webhooks: recent deliveries and the dead letters, in either mode. Counts
 * are bounded, not refused (below 0 or not a number: none; above what is kept: all). Ids that are
 * not dead letters of the app (another app's, unknown, malformed) are ignored, never acted on.
 * Clustered, a call rejects when Redis does not answer.
 */
export interface WebhookLog {
  /** The newest first, at most WEBHOOK_LOG_MAX. */
  deliveries(appId: string, count: number): Promise<WebhookDeliveryRecord[]>;
  /** The oldest first, of this app only. */
  deadLetters(appId: string, count: number): Promise<DeadLetter[]>;
  /**
   * Delivers these dead letters of the app again, each to its original target (by URL, with the
   * target's current credentials), and removes them. `refused`: those kept because the webhook
   * buffer (the outbox, or the in-flight cap in embedded mode) was full.
   */
  replay(appId: string, ids: string[]): Promise<ReplayResult>;
  /** Deletes these dead letters of the app; resolves with how many were deleted. */
  drop(appId: string, ids: string[]): Promise<number>;
}

/** `count` as a whole number within 0..max. */
export function clampCount(count: number, max: number): number {
  return Number.isFinite(count) ? Math.min(max, Math.max(0, Math.floor(count))) : 0;
}
