import { createHash } from 'node:crypto';
import { withoutUserinfo, type OutboxEntry, type RedisWebhooks } from '@herald/broker';
import type { WebhookTarget } from '@herald/config';
import {
  WebhookDelivery,
  formatForTarget,
  targetAccepts,
  type RetryOptions,
  type WebhookApp,
  type WebhookBatch,
  type WebhookEvent,
  type WebhookLogger,
  type WebhookOutcomeDebug,
  type WebhookOutcomeHandler,
} from '@herald/webhooks';

export interface OutboxDeliveryStats {
  inFlightEntries: number;
  sent: number;
  deadLettered: number;
  /** Sum and count of ms from an event's creation to its 2xx, for an average. */
  latencyMsSum: number;
  latencyCount: number;
}

interface InFlight {
  entry: OutboxEntry;
  outstanding: number;
}

/**
 * Delivers outbox entries: batched per app and target, one batch in flight per target (in order),
 * each entry acknowledged in the outbox once every target it goes to settled it (delivered, or
 * dead-lettered: stored without the URL's userinfo).
 */
export class OutboxDelivery {
  readonly #delivery: WebhookDelivery;
  readonly #inFlight = new Map<string, InFlight>();
  /** Batches → the outbox entries they carry, and where they go. */
  readonly #batchEntries = new Map<string, string[]>();
  readonly #batchTargets = new Map<string, { app: WebhookApp; target: WebhookTarget; key: string }>();
  readonly #queues = new Map<string, { busy: boolean; waiting: OutboxEntry[] }>();
  readonly #stats = { sent: 0, deadLettered: 0, latencyMsSum: 0, latencyCount: 0 };

  constructor(
    private readonly o: {
      webhooks: RedisWebhooks;
      apps: (appId: string) => WebhookApp | undefined;
      retry?: RetryOptions;
      log: WebhookLogger;
      /** Told every request's outcome (the delivery log). */
      onOutcome?: WebhookOutcomeHandler;
      debug?: WebhookOutcomeDebug;
    },
  ) {
    this.#delivery = new WebhookDelivery({
      log: o.log,
      ...(o.retry ? { retry: o.retry } : {}),
      ...(o.onOutcome ? { onOutcome: o.onOutcome } : {}),
      ...(o.debug ? { debug: o.debug } : {}),
      onDelivered: (batch) => this.#settle(batch, true),
      onDeadLetter: (batch, target, err) => {
        const entries = this.#batchEntries.get(batch.id) ?? [];
        const appId = entries.length > 0 ? (this.#inFlight.get(entries[0]!)?.entry.appId ?? '') : '';
        o.log.error({ appId, webhookId: batch.id, events: batch.events.length, err: err.message }, 'webhook dead-lettered');
        o.webhooks
          .deadLetter({
            appId,
            target: target.url,
            error: err.message,
            events: batch.events as unknown as Record<string, unknown>[],
            eventIds: [...(batch.eventIds ?? [])],
          })
          .catch((e: Error) => o.log.error({ err: e.message }, 'storing a dead letter failed'))
          .finally(() => this.#settle(batch, false));
      },
    });
  }

  /** Entries being delivered (read and not yet acknowledged). */
  get inFlight(): number {
    return this.#inFlight.size;
  }

  has(entryId: string): boolean {
    return this.#inFlight.has(entryId);
  }

  entryIds(): string[] {
    return [...this.#inFlight.keys()];
  }

  stats(): OutboxDeliveryStats & { failedAttempts: number } {
    return { ...this.#stats, inFlightEntries: this.#inFlight.size, failedAttempts: this.#delivery.stats().failedAttempts };
  }

  /** Batches entries per app and target; an entry nobody wants is acknowledged at once. */
  dispatch(entries: OutboxEntry[]): void {
    const byApp = new Map<string, OutboxEntry[]>();
    for (const e of entries) {
      let list = byApp.get(e.appId);
      if (list === undefined) byApp.set(e.appId, (list = []));
      list.push(e);
    }
    const done: string[] = [];
    for (const [appId, all] of byApp) {
      // Several clients hitting one empty cache channel at once make one cache_miss (Pusher's rule).
      const seenMiss = new Set<string>();
      const list = all.filter((e) => {
        if (e.event.name !== 'cache_miss') return true;
        const ch = String(e.event.channel);
        if (!seenMiss.has(ch)) return (seenMiss.add(ch), true);
        done.push(e.id);
        return false;
      });
      const app = this.o.apps(appId);
      const plan: { target: WebhookTarget; entries: OutboxEntry[] }[] = [];
      for (const target of app?.webhooks ?? []) {
        // A replayed dead letter names its target without userinfo: it goes to the target with that URL, with its current credentials.
        const url = withoutUserinfo(target.url);
        const accepted = list.filter(
          (e) => (e.target === undefined || withoutUserinfo(e.target) === url) && targetAccepts(target, e.event as unknown as WebhookEvent),
        );
        if (accepted.length > 0) plan.push({ target, entries: accepted });
      }
      const counts = new Map<string, number>();
      for (const p of plan) for (const e of p.entries) counts.set(e.id, (counts.get(e.id) ?? 0) + 1);
      for (const e of list) {
        const n = counts.get(e.id) ?? 0;
        if (n === 0) done.push(e.id);
        else this.#inFlight.set(e.id, { entry: e, outstanding: n });
      }
      for (const { target, entries: es } of plan) this.#enqueue(app!, target, es);
    }
    this.#ack(done);
  }

  /**
   * In order per target: one batch in flight (or retrying) per app and target; events that come
   * meanwhile wait and go, up to 100 at a time, once it settled (delivered or dead-lettered).
   */
  #enqueue(app: WebhookApp, target: WebhookTarget, entries: OutboxEntry[]): void {
    const key = `${app.id}\n${target.url}`;
    let q = this.#queues.get(key);
    if (q === undefined) this.#queues.set(key, (q = { busy: false, waiting: [] }));
    q.waiting.push(...entries);
    this.#pump(app, target, key);
  }

  #pump(app: WebhookApp, target: WebhookTarget, key: string): void {
    const q = this.#queues.get(key);
    if (q === undefined || q.busy) return;
    if (q.waiting.length === 0) {
      this.#queues.delete(key);
      return;
    }
    const es = q.waiting.splice(0, 100);
    q.busy = true;
    const eventIds = es.map((e) => e.eventId);
    const batch: WebhookBatch = {
      // The same events give the same id, so a batch re-sent after a takeover is recognisable.
      id: createHash('sha256').update(eventIds.join(',')).update(target.url).digest('hex').slice(0, 32),
      timeMs: Date.now(),
      events: es.map((e) => formatForTarget(target, e.event as unknown as WebhookEvent)),
      eventIds,
    };
    this.#batchEntries.set(
      batch.id,
      es.map((e) => e.id),
    );
    this.#batchTargets.set(batch.id, { app, target, key });
    this.#delivery.deliver(app, target, batch);
  }

  #settle(batch: WebhookBatch, ok: boolean): void {
    const ids = this.#batchEntries.get(batch.id) ?? [];
    this.#batchEntries.delete(batch.id);
    const t = this.#batchTargets.get(batch.id);
    this.#batchTargets.delete(batch.id);
    if (t !== undefined) {
      const q = this.#queues.get(t.key);
      if (q !== undefined) q.busy = false;
      this.#pump(t.app, t.target, t.key);
    }
    if (ok) this.#stats.sent++;
    else this.#stats.deadLettered++;
    const finished: string[] = [];
    for (const id of ids) {
      const f = this.#inFlight.get(id);
      if (f === undefined) continue;
      if (ok) {
        this.#stats.latencyMsSum += Date.now() - f.entry.createdMs;
        this.#stats.latencyCount++;
      }
      if (--f.outstanding <= 0) {
        this.#inFlight.delete(id);
        finished.push(id);
      }
    }
    this.#ack(finished);
  }

  /** Acknowledged entries are deleted from the outbox; a failed ack only means a re-send later. */
  #ack(ids: string[]): void {
    this.o.webhooks.ack(ids).catch((err: Error) => this.o.log.warn({ err: err.message }, 'outbox ack failed'));
  }

  /** Waits up to `timeoutMs` for deliveries in flight (retries included). */
  drain(timeoutMs: number): Promise<boolean> {
    return this.#delivery.drain(timeoutMs);
  }
}
