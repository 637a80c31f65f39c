import { clampCount, DEAD_LETTERS_MEMORY_MAX, WEBHOOK_LOG_MAX, withoutUserinfo } from '@herald/broker';
import type { DeadLetter, ReplayResult, WebhookDeliveryRecord, WebhookLog } from '@herald/broker';
import type { WebhookTarget } from '@herald/config';
import type { WebhookApp, WebhookBatch } from './types.js';

export interface MemoryWebhookLogOptions {
  /** Sends a dead letter again; false when it cannot be taken now (the buffer is full). WebhookDispatcher.redeliver. */
  redeliver: (appId: string, targetUrl: string, batch: Pick<WebhookBatch, 'id' | 'events' | 'eventIds'>) => boolean;
  /** @default DEAD_LETTERS_MEMORY_MAX */
  maxDeadLetters?: number;
}

/**
 * The embedded node's WebhookLog: the newest WEBHOOK_LOG_MAX delivery records per app and the
 * newest `maxDeadLetters` dead letters, in this process (gone at restart, like the rest of its
 * state). Feed it with the dispatcher's `onOutcome` (`record`) and `onDeadLetter` (`deadLetter`).
 */
export class MemoryWebhookLog implements WebhookLog {
  readonly #deliveries = new Map<string, WebhookDeliveryRecord[]>();
  /** Oldest first. */
  readonly #dead: DeadLetter[] = [];
  readonly #redeliver: MemoryWebhookLogOptions['redeliver'];
  readonly #maxDead: number;

  constructor(options: MemoryWebhookLogOptions) {
    this.#redeliver = options.redeliver;
    this.#maxDead = Math.max(1, options.maxDeadLetters ?? DEAD_LETTERS_MEMORY_MAX);
  }

  record(r: WebhookDeliveryRecord): void {
    let list = this.#deliveries.get(r.appId);
    if (list === undefined) this.#deliveries.set(r.appId, (list = []));
    list.push({ ...r, url: withoutUserinfo(r.url) });
    if (list.length > WEBHOOK_LOG_MAX) list.splice(0, list.length - WEBHOOK_LOG_MAX);
  }

  /** Keeps a batch that never got a 2xx (its id is the batch's: a replay that fails again comes back under it). */
  deadLetter(batch: WebhookBatch, target: WebhookTarget, lastError: Error, app: WebhookApp): DeadLetter {
    const at = this.#dead.findIndex((d) => d.id === batch.id);
    if (at !== -1) this.#dead.splice(at, 1);
    const d: DeadLetter = {
      id: batch.id,
      appId: app.id,
      target: withoutUserinfo(target.url),
      error: lastError.message,
      events: batch.events as unknown as Record<string, unknown>[],
      eventIds: [...(batch.eventIds ?? [])],
      atMs: Date.now(),
    };
    this.#dead.push(d);
    if (this.#dead.length > this.#maxDead) this.#dead.splice(0, this.#dead.length - this.#maxDead);
    return d;
  }

  /** Dead letters kept, every app's. */
  get deadLetterCount(): number {
    return this.#dead.length;
  }

  async deliveries(appId: string, count: number): Promise<WebhookDeliveryRecord[]> {
    const list = this.#deliveries.get(appId) ?? [];
    const n = clampCount(count, WEBHOOK_LOG_MAX);
    return n === 0 ? [] : list.slice(-n).reverse();
  }

  async deadLetters(appId: string, count: number): Promise<DeadLetter[]> {
    return this.#dead.filter((d) => d.appId === appId).slice(0, clampCount(count, this.#maxDead));
  }

  async replay(appId: string, ids: string[]): Promise<ReplayResult> {
    const wanted = new Set(ids);
    const chosen = this.#dead.filter((d) => d.appId === appId && wanted.has(d.id));
    let replayed = 0;
    for (const d of chosen) {
      // Out of the list before it is sent: a failure of the replay dead-letters it again.
      this.#remove(d);
      const batch = { id: d.id, events: d.events as unknown as WebhookBatch['events'], eventIds: d.eventIds };
      if (!this.#redeliver(d.appId, d.target, batch)) {
        this.#dead.unshift(d);
        break;
      }
      replayed++;
    }
    if (replayed < chosen.length) this.#dead.sort((a, b) => a.atMs - b.atMs);
    return { replayed, refused: chosen.length - replayed };
  }

  async drop(appId: string, ids: string[]): Promise<number> {
    const wanted = new Set(ids);
    const chosen = this.#dead.filter((d) => d.appId === appId && wanted.has(d.id));
    for (const d of chosen) this.#remove(d);
    return chosen.length;
  }

  #remove(d: DeadLetter): void {
    const at = this.#dead.indexOf(d);
    if (at !== -1) this.#dead.splice(at, 1);
  }
}
