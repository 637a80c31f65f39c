import { randomUUID } from 'node:crypto';
import { withoutUserinfo } from '@herald/broker';
import { Debouncer } from './debouncer.js';
import { WebhookDelivery } from './delivery.js';
import { LogThrottle } from './log-throttle.js';
import { formatForTarget, targetAccepts } from './target-filter.js';
import type { RetryOptions } from './retry-policy.js';
import { WebhookDropReason } from './types.js';
import type { WebhookTarget } from '@herald/config';
import type { WebhookEvent, WebhookEventName } from '@herald/protocol';
import type {
  DeadLetterHandler,
  TransitionSink,
  WebhookApp,
  WebhookBatch,
  WebhookDropHandler,
  WebhookLogger,
  WebhookOutcomeDebug,
  WebhookOutcomeHandler,
} from './types.js';

export interface WebhookDispatcherOptions {
  /** Current config of an app; called per event, so config changes apply to the next event. */
  apps: (appId: string) => WebhookApp | undefined;
  /**
   * How long an occupancy or presence change must hold before it is sent (ops contract `PUSH_WEBHOOK_DELAY_MS`,
   * 1000–3000). A change undone within it sends nothing. 0 sends at once.
   */
  delayMs: number;
  /** Events for one app and target are collected this long into one POST. @default 50 */
  batchWindowMs?: number;
  /** A batch is sent as soon as it holds this many events. @default 100 */
  maxBatchSize?: number;
  retry?: RetryOptions;
  log: WebhookLogger;
  /** For tests only. @default globalThis.fetch */
  fetch?: typeof fetch;
  /** Called once per batch that was never answered with a 2xx. @default logs at `error` */
  onDeadLetter?: DeadLetterHandler;
  /** Max time `flush()`/`close()` wait for in-flight deliveries. @default 5000 */
  flushTimeoutMs?: number;
  /** Clock for `time_ms` and the retry window. @default Date.now */
  now?: () => number;
  /**
   * Batches being delivered or waiting for a retry at once (PUSH_WEBHOOK_MAX_IN_FLIGHT). A batch beyond
   * is dropped, logged (at most once a second per app) and reported to `onDropped`, so receivers that
   * hang cannot grow memory without bound. @default 1000
   */
  maxInFlight?: number;
  /** Told about every event dropped because `maxInFlight` batches were in flight (the gateway counts them). */
  onDropped?: WebhookDropHandler;
  /** Told every request's outcome (the delivery log). */
  onOutcome?: WebhookOutcomeHandler;
  /** Where outcomes go as `webhook` debug records while a console of the app is open. */
  debug?: WebhookOutcomeDebug;
}

export interface WebhookDispatcherStats {
  /** Debounced changes awaiting their delay + events in open batches + batches being delivered or awaiting a retry. */
  pending: number;
  /** Batches answered with a 2xx. */
  sent: number;
  /** Failed POST attempts, retries included. */
  failedAttempts: number;
  /** Batches given up on. */
  deadLettered: number;
  /** Batches dropped because `maxInFlight` were in flight. */
  dropped: number;
}

interface OccupancyContext {
  appId: string;
  channel: string;
}
interface PresenceContext extends OccupancyContext {
  userId: string;
}

interface OpenBatch {
  readonly appId: string;
  readonly app: WebhookApp;
  readonly target: WebhookTarget;
  readonly id: string;
  readonly timeMs: number;
  readonly events: WebhookEvent[];
  /** The events' Pusher names (the wire names of a webman target differ), to report a drop by. */
  readonly names: WebhookEventName[];
  /** cache_miss channels already in this batch: several clients hitting one empty cache channel send one event. */
  readonly cacheMisses: Set<string>;
  timer: NodeJS.Timeout | undefined;
}

/** Channel names cannot hold NUL, so it separates key parts unambiguously. */
const SEP = '\u0000';

/**
 * Turns gateway transitions into signed webhook POSTs: debounces occupancy and presence, batches per app and
 * target, filters and names events per target, and delivers with retries.
 *
 * Guarantees: every sink method returns synchronously and never waits on a receiver; per channel (and per
 * channel+user) transitions alternate occupied/vacated (added/removed) starting with occupied (added);
 * delivery is at-least-once within the retry window, without an ordering guarantee across batches.
 * Apps whose config has no webhooks are dropped before any bookkeeping.
 */
export class WebhookDispatcher implements TransitionSink {
  readonly #apps: (appId: string) => WebhookApp | undefined;
  readonly #log: WebhookLogger;
  readonly #batchWindowMs: number;
  readonly #maxBatchSize: number;
  readonly #flushTimeoutMs: number;
  readonly #now: () => number;
  readonly #occupancy: Debouncer<OccupancyContext>;
  readonly #presence: Debouncer<PresenceContext>;
  readonly #delivery: WebhookDelivery;
  readonly #maxInFlight: number;
  readonly #onDropped: WebhookDropHandler | undefined;
  readonly #dropLog = new LogThrottle();
  #dropped = 0;
  /** Open batches by app id, then by target object (targets are config objects, compared by identity). */
  readonly #open = new Map<string, Map<WebhookTarget, OpenBatch>>();
  #openEvents = 0;
  #closed = false;

  constructor(options: WebhookDispatcherOptions) {
    this.#apps = options.apps;
    this.#log = options.log;
    this.#batchWindowMs = nonNegative('batchWindowMs', options.batchWindowMs ?? 50);
    this.#maxBatchSize = Math.max(1, nonNegative('maxBatchSize', options.maxBatchSize ?? 100));
    this.#flushTimeoutMs = nonNegative('flushTimeoutMs', options.flushTimeoutMs ?? 5000);
    this.#now = options.now ?? Date.now;
    this.#maxInFlight = Math.max(1, nonNegative('maxInFlight', options.maxInFlight ?? 1000));
    this.#onDropped = options.onDropped;
    const delayMs = nonNegative('delayMs', options.delayMs);
    this.#occupancy = new Debouncer<OccupancyContext>(delayMs, (_key, occupied, { appId, channel }) =>
      this.#guard(() => this.#enqueue(appId, { name: occupied ? 'channel_occupied' : 'channel_vacated', channel })),
    );
    this.#presence = new Debouncer<PresenceContext>(delayMs, (_key, present, { appId, channel, userId }) =>
      this.#guard(() => this.#enqueue(appId, { name: present ? 'member_added' : 'member_removed', channel, user_id: userId })),
    );
    this.#delivery = new WebhookDelivery({
      log: options.log,
      ...(options.retry && { retry: options.retry }),
      ...(options.fetch && { fetch: options.fetch }),
      ...(options.onDeadLetter && { onDeadLetter: options.onDeadLetter }),
      ...(options.onOutcome && { onOutcome: options.onOutcome }),
      ...(options.debug && { debug: options.debug }),
      now: this.#now,
    });
  }

  channelOccupancy(appId: string, channel: string, occupied: boolean): void {
    if (!this.#accepting(appId)) return;
    this.#occupancy.set(appId + SEP + channel, occupied, { appId, channel });
  }

  memberPresence(appId: string, channel: string, userId: string, present: boolean): void {
    if (!this.#accepting(appId)) return;
    this.#presence.set(appId + SEP + channel + SEP + userId, present, { appId, channel, userId });
  }

  clientEvent(appId: string, ev: { channel: string; event: string; data: string; socketId: string; userId?: string }): void {
    if (!this.#accepting(appId)) return;
    const event: WebhookEvent = { name: 'client_event', channel: ev.channel, event: ev.event, data: ev.data, socket_id: ev.socketId };
    if (ev.userId !== undefined) event.user_id = ev.userId;
    this.#enqueue(appId, event);
  }

  cacheMiss(appId: string, channel: string): void {
    if (!this.#accepting(appId)) return;
    this.#enqueue(appId, { name: 'cache_miss', channel });
  }

  /**
   * Sends a dead-lettered batch again, as it was (same id and events, a new `time_ms`), to the app's
   * current target with that URL (`targetUrl` without credentials; the target's own are used).
   * False, sending nothing: `maxInFlight` batches are in flight, or the dispatcher is closed. True
   * when it is on its way, or when the app or target is gone (there is nowhere left to send it).
   */
  redeliver(appId: string, targetUrl: string, batch: Pick<WebhookBatch, 'id' | 'events' | 'eventIds'>): boolean {
    if (this.#closed || this.#delivery.inFlight >= this.#maxInFlight) return false;
    const app = this.#apps(appId);
    const target = app?.webhooks.find((t) => withoutUserinfo(t.url) === targetUrl);
    if (app === undefined || target === undefined) {
      this.#log.warn({ appId, url: targetUrl, webhookId: batch.id }, 'replayed webhook batch has no target any more: not sent');
      return true;
    }
    this.#delivery.deliver(app, target, { ...batch, timeMs: Math.trunc(this.#now()) });
    return true;
  }

  stats(): WebhookDispatcherStats {
    const delivery = this.#delivery.stats();
    return {
      pending: this.#occupancy.pending + this.#presence.pending + this.#openEvents + this.#delivery.inFlight,
      ...delivery,
      dropped: this.#dropped,
    };
  }

  /**
   * Sends pending debounced changes and open batches now, then waits up to `flushTimeoutMs` for deliveries.
   * Resolves true if everything settled (delivered or dead-lettered) in time.
   */
  async flush(): Promise<boolean> {
    this.#occupancy.flush();
    this.#presence.flush();
    for (const byTarget of this.#open.values()) {
      for (const batch of byTarget.values()) this.#send(batch);
    }
    return this.#delivery.drain(this.#flushTimeoutMs);
  }

  /**
   * Flushes, then stops: later sink calls are ignored, and deliveries still running after `flushTimeoutMs`
   * are aborted and dead-lettered (code `PUSH_ERR_WEBHOOK_ABORTED`), so none is lost silently.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const settled = await this.flush();
    if (settled) return;
    this.#log.warn({ inFlight: this.#delivery.inFlight, timeoutMs: this.#flushTimeoutMs }, 'webhook deliveries still running at close, aborting');
    this.#delivery.abort();
    // Aborted deliveries settle promptly (dead-letter hooks run); this only bounds a misbehaving fetch.
    await this.#delivery.drain(this.#flushTimeoutMs);
  }

  #accepting(appId: string): boolean {
    if (this.#closed) return false;
    const app = this.#apps(appId);
    return app !== undefined && app.webhooks.length > 0;
  }

  #enqueue(appId: string, event: WebhookEvent): void {
    const app = this.#apps(appId);
    if (app === undefined || app.webhooks.length === 0) return;
    for (const target of app.webhooks) {
      if (!targetAccepts(target, event)) continue;
      let byTarget = this.#open.get(appId);
      if (byTarget === undefined) {
        byTarget = new Map();
        this.#open.set(appId, byTarget);
      }
      let batch = byTarget.get(target);
      if (batch === undefined) {
        batch = { appId, app, target, id: randomUUID(), timeMs: Math.trunc(this.#now()), events: [], names: [], cacheMisses: new Set(), timer: undefined };
        byTarget.set(target, batch);
        const opened = batch;
        opened.timer = setTimeout(() => this.#guard(() => this.#send(opened)), this.#batchWindowMs).unref();
      }
      if (event.name === 'cache_miss') {
        if (batch.cacheMisses.has(event.channel)) continue;
        batch.cacheMisses.add(event.channel);
      }
      batch.events.push(formatForTarget(target, event));
      batch.names.push(event.name);
      this.#openEvents++;
      if (batch.events.length >= this.#maxBatchSize) this.#send(batch);
    }
  }

  #send(batch: OpenBatch): void {
    clearTimeout(batch.timer);
    const byTarget = this.#open.get(batch.appId);
    if (byTarget?.get(batch.target) !== batch) return; // already sent
    byTarget.delete(batch.target);
    if (byTarget.size === 0) this.#open.delete(batch.appId);
    this.#openEvents -= batch.events.length;
    if (this.#delivery.inFlight >= this.#maxInFlight) return this.#drop(batch);
    this.#delivery.deliver(batch.app, batch.target, { id: batch.id, timeMs: batch.timeMs, events: batch.events });
  }

  /** Over `maxInFlight`: the batch is dropped, never silently (counted, reported, logged at most once a second per app). */
  #drop(batch: OpenBatch): void {
    this.#dropped++;
    try {
      this.#onDropped?.(batch.appId, batch.names, WebhookDropReason.InFlightFull);
    } catch (err) {
      this.#log.error({ err, appId: batch.appId }, 'onDropped threw');
    }
    const held = this.#dropLog.take(batch.appId);
    if (held === undefined) return;
    this.#log.warn(
      { appId: batch.appId, events: [...new Set(batch.names)], count: batch.names.length, maxInFlight: this.#maxInFlight, heldBackLines: held },
      'webhook batch dropped: too many batches in flight',
    );
  }

  /** Timer callbacks must not throw (it would crash the process); a throw here is our bug. */
  #guard(fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.#log.error({ err }, 'webhook dispatcher bug');
    }
  }
}

function nonNegative(name: string, value: number): number {
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  return value;
}
