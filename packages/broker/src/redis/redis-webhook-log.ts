import type { DeadLetter, ReplayResult } from './webhook-types.js';
import { clampCount, WEBHOOK_LOG_MAX, type WebhookDeliveryRecord, type WebhookLog } from '../webhook-log.js';
import { withoutUserinfo } from '../webhook-url.js';
import type { RedisKeys } from './keys.js';
import type { RedisClient } from './redis-client.js';
import type { RedisWebhooks } from './redis-webhooks.js';

/** An app's delivery records outlive a quiet week, not more: an app with no webhooks any more leaves no key behind. */
const LOG_TTL_MS = 7 * 24 * 3600 * 1000;

/**
 * The clustered WebhookLog: the worker `record`s each request's outcome in a capped, expiring list
 * per app (`RedisKeys.webhookLog`); any gateway reads it, and the dead letters, for the dashboard.
 * Dead letters are acted on only as the app's own: ids of another app's are ignored.
 */
export class RedisWebhookLog implements WebhookLog {
  constructor(
    private readonly client: RedisClient,
    private readonly keys: RedisKeys,
    private readonly webhooks: RedisWebhooks,
  ) {}

  /** Keeps the record among the app's newest WEBHOOK_LOG_MAX, in one round trip (one key, so one slot on Redis Cluster). */
  async record(r: WebhookDeliveryRecord): Promise<void> {
    const key = this.keys.webhookLog(r.appId);
    const stored: WebhookDeliveryRecord = { ...r, url: withoutUserinfo(r.url) };
    await this.client
      .multi()
      .lpush(key, JSON.stringify(stored))
      .ltrim(key, 0, WEBHOOK_LOG_MAX - 1)
      .pexpire(key, LOG_TTL_MS)
      .exec();
  }

  async deliveries(appId: string, count: number): Promise<WebhookDeliveryRecord[]> {
    const n = clampCount(count, WEBHOOK_LOG_MAX);
    if (n === 0) return [];
    const raw = await this.client.lrange(this.keys.webhookLog(appId), 0, n - 1);
    const out: WebhookDeliveryRecord[] = [];
    for (const json of raw) {
      try {
        out.push(JSON.parse(json) as WebhookDeliveryRecord);
      } catch {
        /* not written by record(): skipped */
      }
    }
    return out;
  }

  deadLetters(appId: string, count: number): Promise<DeadLetter[]> {
    const n = clampCount(count, 10_000);
    return n === 0 ? Promise.resolve([]) : this.webhooks.deadLetters(n, appId);
  }

  replay(appId: string, ids: string[]): Promise<ReplayResult> {
    return ids.length === 0 ? Promise.resolve({ replayed: 0, refused: 0 }) : this.webhooks.replay(ids, appId);
  }

  drop(appId: string, ids: string[]): Promise<number> {
    return this.webhooks.dropDeadLetters(ids, appId);
  }
}
