import { createHash } from 'node:crypto';
import { Cluster, type Redis } from 'ioredis';
import type { OutboxEntry, RedisClusterState } from '@herald/broker';
import { RedisWebhooks, withoutUserinfo } from '@herald/broker';
import { WebhookDelivery } from './delivery.js';
import { KeyspaceSubscriber, ensureKeyspaceEvents, scanChannels } from './keyspace-source.js';
import { LogThrottle } from './log-throttle.js';
import type { RetryOptions } from './retry-policy.js';
import { formatForTarget, targetAccepts } from './target-filter.js';
import type { WebhookApp, WebhookBatch, WebhookEvent, WebhookLogger, WebhookTarget } from './types.js';

export interface RedisWebhookWorkerOptions {
  state: RedisClusterState;
  apps: (appId: string) => WebhookApp | undefined;
  /** A change is reported once it has held this long (a page reload inside it sends nothing). */
  delayMs: number;
  /** This worker's consumer name in the outbox group; stable across restarts is best. */
  workerId: string;
  /** Entries another worker has held this long without progress are taken over. @default 30000 */
  claimMs?: number;
  retry?: RetryOptions;
  /** Undelivered events the Redis outbox holds at most (PUSH_WEBHOOK_OUTBOX_MAX). @default 100000 */
  outboxMax?: number;
  log: WebhookLogger;
}

export interface RedisWebhookWorkerStats {
  pendingChecks: number;
  inFlightEntries: number;
  sent: number;
  failedAttempts: number;
  deadLettered: number;
  reconciliations: number;
  transitions: number;
  /** Times moving a channel's decided transitions found the outbox full (they waited in the channel's queue). */
  outboxFull: number;
  /** Sum and count of ms from an event's creation to its 2xx, for an average. */
  latencyMsSum: number;
  latencyCount: number;
}

interface InFlight {
  entry: OutboxEntry;
  outstanding: number;
}

/**
 * The clustered webhook worker. Keyspace notifications of occupancy and presence keys schedule a
 * check of the channel once it has been quiet for `delayMs`; the check (one Lua step shared by
 * every worker) decides the transitions since the last report, so each is decided once however many
 * workers run. Decided events go through a Redis stream with a consumer group: delivered, then
 * acknowledged; a worker that dies mid-send has its entries claimed by another after `claimMs`.
 * Guarantee: at-least-once, with stable event ids in `X-Herald-Event-Ids` to detect the rare
 * duplicate (a crash between a 2xx and the acknowledgement).
 */
export class RedisWebhookWorker {
  readonly #webhooks: RedisWebhooks;
  readonly #delivery: WebhookDelivery;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #inFlight = new Map<string, InFlight>();
  readonly #claimMs: number;
  readonly #stats: RedisWebhookWorkerStats = {
    pendingChecks: 0,
    inFlightEntries: 0,
    sent: 0,
    failedAttempts: 0,
    deadLettered: 0,
    reconciliations: 0,
    transitions: 0,
    outboxFull: 0,
    latencyMsSum: 0,
    latencyCount: 0,
  };
  #keyspace: KeyspaceSubscriber | undefined;
  #reader: Redis | Cluster | undefined;
  #readerWebhooks: RedisWebhooks | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #touchTimer: NodeJS.Timeout | undefined;
  /** Batches → the outbox entries they carry, and where they go. */
  readonly #batchEntries = new Map<string, string[]>();
  readonly #batchTargets = new Map<string, { app: WebhookApp; target: WebhookTarget; key: string }>();
  readonly #queues = new Map<string, { busy: boolean; waiting: OutboxEntry[] }>();
  readonly #fullLog = new LogThrottle();

  constructor(private readonly o: RedisWebhookWorkerOptions) {
    this.#claimMs = o.claimMs ?? 30_000;
    this.#webhooks = new RedisWebhooks(o.state.redis, o.state.keys, o.outboxMax === undefined ? {} : { outboxMax: o.outboxMax });
    this.#delivery = new WebhookDelivery({
      log: o.log,
      ...(o.retry ? { retry: o.retry } : {}),
      onDelivered: (batch) => this.#settle(batch, true),
      onDeadLetter: (batch, target, err) => {
        const entries = this.#batchEntries.get(batch.id) ?? [];
        const appId = entries.length > 0 ? (this.#inFlight.get(entries[0]!)?.entry.appId ?? '') : '';
        o.log.error({ appId, webhookId: batch.id, events: batch.events.length, err: err.message }, 'webhook dead-lettered');
        // Stored without the URL's userinfo; a replay finds this target again by the URL without it.
        this.#webhooks
          .deadLetter({ appId, target: target.url, error: err.message, events: batch.events as unknown as Record<string, unknown>[], eventIds: [...(batch.eventIds ?? [])] })
          .catch((e: Error) => o.log.error({ err: e.message }, 'storing a dead letter failed'))
          .finally(() => this.#settle(batch, false));
      },
    });
  }

  /** Enables keyspace events (or refuses), subscribes, reconciles, starts delivering. */
  async start(): Promise<void> {
    const { state, log } = this.o;
    await ensureKeyspaceEvents(state.redis, log);
    await this.#webhooks.ensureGroup();
    this.#keyspace = new KeyspaceSubscriber(state.redis, state.keys, (key) => this.#onKey(key), log);
    this.#keyspace.onReady(() => void this.reconcile());
    await this.#keyspace.start();
    state.onReconnect(() => void this.reconcile());
    // Blocking reads get their own connection so that they never delay the checks.
    this.#reader = state.redis instanceof Cluster ? state.redis.duplicate() : state.redis.duplicate({ enableOfflineQueue: true });
    this.#reader.on('error', (err: Error) => log.debug({ err: err.message }, 'outbox reader error'));
    this.#readerWebhooks = new RedisWebhooks(this.#reader, state.keys);
    await this.reconcile();
    this.#running = true;
    this.#loop = this.#consume();
    this.#touchTimer = setInterval(() => {
      this.#webhooks.touch(this.o.workerId, [...this.#inFlight.keys()]).catch((err: Error) => log.warn({ err: err.message }, 'outbox heartbeat failed'));
    }, Math.max(250, Math.floor(this.#claimMs / 3)));
    this.#touchTimer.unref();
  }

  get ready(): boolean {
    return this.#running && this.o.state.isReady() && (this.#keyspace?.ready ?? false);
  }

  #onKey(key: string): void {
    const p = this.o.state.keys.parseChannelKey(key);
    if (p === undefined || (p.suffix !== 'subs' && p.suffix !== 'members')) return;
    this.#schedule(p.appId, p.channel);
  }

  /** (Re)starts the channel's quiet-period timer: it is checked once nothing changed for delayMs. */
  #schedule(appId: string, channel: string): void {
    const app = this.o.apps(appId);
    if (app === undefined || app.webhooks.length === 0 || channel.startsWith('#')) return;
    const k = `${appId}\n${channel}`;
    const old = this.#timers.get(k);
    if (old !== undefined) clearTimeout(old);
    const t = setTimeout(() => {
      this.#timers.delete(k);
      this.#check(appId, channel).catch((err: Error) => {
        this.o.log.warn({ appId, channel, err: err.message }, 'webhook check failed; retrying');
        this.#schedule(appId, channel);
      });
    }, this.o.delayMs);
    t.unref();
    this.#timers.set(k, t);
  }

  async #check(appId: string, channel: string): Promise<void> {
    const n = await this.#webhooks.decide(appId, channel, channel.startsWith('presence-'));
    this.#stats.transitions += n;
    await this.#move(appId, channel);
  }

  async #move(appId: string, channel: string, attempt = 0): Promise<void> {
    const r = await this.#webhooks.move(appId, channel, this.o.workerId);
    if (r.outcome === 'outbox_full') return this.#outboxFull(appId, channel, r.moved);
    if (r.outcome === 'moved' || attempt > 50) return;
    // Another worker is moving this channel's queue; what we decided may have landed after its read.
    await new Promise((r) => setTimeout(r, 100 + Math.random() * 100));
    await this.#move(appId, channel, attempt + 1);
  }

  /**
   * The rest of the channel's transitions wait in its Redis queue (in order, not dropped) and are
   * moved by a later check, scheduled here; a worker stopping meanwhile leaves them to the next
   * start's reconciliation, which finds every queue.
   */
  #outboxFull(appId: string, channel: string, moved: number): void {
    this.#stats.outboxFull++;
    const held = this.#fullLog.take('outbox_full');
    if (held !== undefined) {
      this.o.log.warn({ appId, channel, moved, outboxMax: this.#webhooks.outboxMax, heldBackLines: held }, 'webhook outbox full: transitions wait in their channel queue');
    }
    if (this.#running) this.#schedule(appId, channel);
  }

  /**
   * Compares every channel's stored state with what was last reported: run at start and after every
   * reconnect, because keyspace notifications sent while the worker was away are lost.
   */
  async reconcile(): Promise<void> {
    this.#stats.reconciliations++;
    const channels = await scanChannels(this.o.state.redis, this.o.state.keys);
    for (const { appId, channel } of channels.values()) this.#schedule(appId, channel);
    this.o.log.info({ channels: channels.size }, 'reconciliation scheduled');
  }

  async #consume(): Promise<void> {
    let lastClaim = 0;
    let leading = false;
    let leadCheckedAt = 0;
    while (this.#running) {
      try {
        // One worker delivers at a time (in order per receiver); the others stand by.
        if (Date.now() - leadCheckedAt > this.#claimMs / 3) {
          leadCheckedAt = Date.now();
          const was: boolean = leading;
          leading = await this.#webhooks.lead(this.o.workerId, this.#claimMs);
          if (leading !== was) this.o.log.info({ leading }, leading ? 'delivering webhooks (lead taken)' : 'standing by (another worker delivers)');
          // A new leader takes the previous one's unacknowledged entries at once.
          if (leading && !was) lastClaim = 0;
        }
        if (!leading) {
          await new Promise((r) => setTimeout(r, Math.min(1000, this.#claimMs / 6)));
          continue;
        }
        if (this.#inFlight.size > 10_000) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        let entries: OutboxEntry[] = [];
        if (Date.now() - lastClaim > this.#claimMs / 2) {
          const takeover = lastClaim === 0;
          lastClaim = Date.now();
          // Entries the previous leader read but never acknowledged (it died, or lost the lead).
          entries = await this.#webhooks.claimStale(this.o.workerId, takeover ? 0 : this.#claimMs, 100);
          entries = entries.filter((e) => !this.#inFlight.has(e.id));
        }
        if (entries.length === 0) entries = await this.#readerWebhooks!.read(this.o.workerId, 100, 1000);
        if (entries.length > 0) this.#dispatch(entries);
      } catch (err) {
        if (!this.#running) return;
        this.o.log.warn({ err: (err as Error).message }, 'outbox read failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  /** Batches entries per app and target; an entry is acknowledged once every target settled it. */
  #dispatch(entries: OutboxEntry[]): void {
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
        if (!seenMiss.has(ch)) return seenMiss.add(ch), true;
        done.push(e.id);
        return false;
      });
      const app = this.o.apps(appId);
      const plan: { target: WebhookTarget; entries: OutboxEntry[] }[] = [];
      for (const target of app?.webhooks ?? []) {
        // A replayed dead letter names its target without userinfo: it goes to the target with that URL, with its current credentials.
        const url = withoutUserinfo(target.url);
        const accepted = list.filter((e) => (e.target === undefined || withoutUserinfo(e.target) === url) && targetAccepts(target, e.event as unknown as WebhookEvent));
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
    void this.#webhooks.ack(done).catch((err: Error) => this.o.log.warn({ err: err.message }, 'outbox ack failed'));
    this.#stats.inFlightEntries = this.#inFlight.size;
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
    this.#batchEntries.set(batch.id, es.map((e) => e.id));
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
    this.#stats.inFlightEntries = this.#inFlight.size;
    void this.#webhooks.ack(finished).catch((err: Error) => this.o.log.warn({ err: err.message }, 'outbox ack failed'));
  }

  stats(): RedisWebhookWorkerStats {
    const d = this.#delivery.stats();
    return { ...this.#stats, pendingChecks: this.#timers.size, failedAttempts: d.failedAttempts };
  }

  get webhooks(): RedisWebhooks {
    return this.#webhooks;
  }

  /**
   * Stops: checks still waiting run now (pending transitions are decided and queued, not lost),
   * deliveries in flight get `flushTimeoutMs` to finish; unfinished entries stay in the stream for
   * another worker (or this one, restarted) to deliver.
   */
  async close(flushTimeoutMs = 5000): Promise<void> {
    this.#running = false;
    if (this.#touchTimer) clearInterval(this.#touchTimer);
    const pending = [...this.#timers.keys()];
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    for (const k of pending) {
      const [appId, channel] = k.split('\n') as [string, string];
      await this.#check(appId, channel).catch((err: Error) => this.o.log.warn({ err: err.message }, 'final check failed'));
    }
    this.#keyspace?.close();
    await this.#delivery.drain(flushTimeoutMs);
    await this.#webhooks.resign(this.o.workerId).catch(() => undefined /* it expires by itself */);
    this.#reader?.disconnect();
    await this.#loop?.catch(() => undefined /* the reader was disconnected under it */);
  }
}
