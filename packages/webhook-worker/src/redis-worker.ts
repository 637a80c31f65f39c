import { Cluster, type Redis } from 'ioredis';
import type { DebugSink, NodeInfo, OutboxEntry, RedisClusterState } from '@herald/broker';
import { RedisWebhookLog, RedisWebhooks } from '@herald/broker';
import { KeyspaceSources, scanChannels } from './keyspace-source.js';
import { OutboxDelivery } from './outbox-delivery.js';
import { Recovery } from './recovery.js';
import { ReportedCopy } from './reported-copy.js';
import { LogThrottle, type RetryOptions, type WebhookApp, type WebhookLogger } from '@herald/webhooks';

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
  /** The gateways' lease (PUSH_NODE_LEASE_MS): the longest a recovery waits for them to register again. @default 10000 */
  leaseMs?: number;
  /** How often primaries, subscriptions and keyspace flags are checked. @default 2000 */
  keyspaceCheckMs?: number;
  /** Where webhook outcomes go as `webhook` debug records while a console of the app is open. */
  debug?: DebugSink;
  log: WebhookLogger;
}

export interface RedisWebhookWorkerStats {
  pendingChecks: number;
  inFlightEntries: number;
  sent: number;
  failedAttempts: number;
  deadLettered: number;
  reconciliations: number;
  /** Recoveries completed (after a reconnect, a failover, lost keyspace events). */
  recoveries: number;
  transitions: number;
  /** Times moving a channel's decided transitions found the outbox full (they waited in the channel's queue). */
  outboxFull: number;
  /** Primaries expected, and those whose keyspace events arrive. */
  keyspacePrimaries: number;
  keyspacePrimariesReady: number;
  /** 1 while the outbox can be read (or the lead checked), 0 otherwise. */
  outboxReadable: number;
  /** Sum and count of ms from an event's creation to its 2xx, for an average. */
  latencyMsSum: number;
  latencyCount: number;
}

/**
 * The clustered webhook worker. Keyspace notifications of occupancy and presence keys schedule a
 * check of the channel once it has been quiet for `delayMs`; the check (one Lua step shared by
 * every worker) decides the transitions since the last report, so each is decided once however many
 * workers run. Decided events go through a Redis stream with a consumer group: delivered, then
 * acknowledged; a worker that dies mid-send has its entries claimed by another after `claimMs`.
 * Guarantee: at-least-once, with stable event ids in `X-Herald-Event-Ids` to detect the rare
 * duplicate (a crash between a 2xx and the acknowledgement).
 *
 * Redis failures (recovery.ts): after a reconnect, a failover or a gap in the keyspace events, the
 * reported state is restored where Redis lost it (from the copy every check updates), the gateways
 * are given time to register again, and every channel is checked: each transition is then reported
 * exactly as in steady state.
 */
export class RedisWebhookWorker {
  readonly #webhooks: RedisWebhooks;
  readonly #webhookLog: RedisWebhookLog;
  readonly #recordLog = new LogThrottle();
  readonly #delivery: OutboxDelivery;
  readonly #copy = new ReportedCopy();
  readonly #sources: KeyspaceSources;
  readonly #recovery: Recovery;
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #claimMs: number;
  readonly #stats = { reconciliations: 0, transitions: 0, outboxFull: 0 };
  #reader: Redis | Cluster | undefined;
  #readerWebhooks: RedisWebhooks | undefined;
  #running = false;
  #loop: Promise<void> | undefined;
  #touchTimer: NodeJS.Timeout | undefined;
  #readyTimer: NodeJS.Timeout | undefined;
  #outboxProblem: string | undefined = 'not read yet';
  #leading = false;
  #wasReady = false;
  readonly #fullLog = new LogThrottle();

  constructor(private readonly o: RedisWebhookWorkerOptions) {
    this.#claimMs = o.claimMs ?? 30_000;
    const { state, log } = o;
    this.#webhooks = new RedisWebhooks(state.redis, state.keys, o.outboxMax === undefined ? {} : { outboxMax: o.outboxMax });
    this.#webhookLog = new RedisWebhookLog(state.redis, state.keys, this.#webhooks);
    this.#delivery = new OutboxDelivery({
      webhooks: this.#webhooks,
      apps: o.apps,
      ...(o.retry ? { retry: o.retry } : {}),
      onOutcome: (r) => this.#record(r),
      ...(o.debug ? { debug: { sink: o.debug, node: o.workerId } } : {}),
      log,
    });
    this.#sources = new KeyspaceSources({
      client: state.redis,
      keys: state.keys,
      onKey: (key) => this.#onKey(key),
      onGap: (where) => this.#recovery.request(`keyspace events may have been lost on ${where}`, false),
      log,
      ...(o.keyspaceCheckMs !== undefined ? { checkMs: o.keyspaceCheckMs } : {}),
    });
    this.#recovery = new Recovery({
      client: state.redis,
      keys: state.keys,
      webhooks: this.#webhooks,
      copy: this.#copy,
      nodeId: o.workerId,
      leaseMs: o.leaseMs ?? 10_000,
      reconcile: (extra) => this.reconcile(extra),
      log,
    });
  }

  /** Enables keyspace events (or refuses: KeyspaceConfigError), subscribes, reconciles, starts delivering. */
  async start(): Promise<void> {
    const { state, log } = this.o;
    await this.#webhooks.ensureGroup();
    await this.#webhooks.syncEpoch();
    await this.#sources.start();
    // Single server and Sentinel: the command connection came back (Redis restarted, or a failover).
    state.onReconnect(() => this.#recovery.request('redis connection back', true));
    await this.#recovery.start();
    // Blocking reads get their own connection so that they never delay the checks.
    this.#reader = state.redis instanceof Cluster ? state.redis.duplicate() : state.redis.duplicate({ enableOfflineQueue: true });
    this.#reader.on('error', (err: Error) => log.debug({ err: err.message }, 'outbox reader error'));
    await this.#reader.connect();
    this.#readerWebhooks = new RedisWebhooks(this.#reader, state.keys);
    await this.reconcile();
    this.#running = true;
    this.#loop = this.#consume();
    this.#touchTimer = setInterval(
      () => {
        this.#webhooks.touch(this.o.workerId, this.#delivery.entryIds()).catch((err: Error) => log.warn({ err: err.message }, 'outbox heartbeat failed'));
      },
      Math.max(250, Math.floor(this.#claimMs / 3)),
    );
    this.#touchTimer.unref();
    this.#readyTimer = setInterval(() => this.#logReadiness(), 1000);
    this.#readyTimer.unref();
  }

  /** Receives every primary's keyspace events and can read its outbox (and Redis answers). */
  get ready(): boolean {
    return this.problems().length === 0;
  }

  /** Why the worker is not ready; empty when it is. */
  problems(): string[] {
    const out: string[] = [];
    if (!this.#running) out.push('not started');
    if (!this.o.state.isReady()) out.push('redis: not answering');
    out.push(...this.#sources.problems().map((p) => `keyspace events: ${p}`));
    if (this.#outboxProblem !== undefined) out.push(`outbox: ${this.#outboxProblem}`);
    return out;
  }

  /** Logs when readiness changes, with why: an operator sees it without polling /ready. */
  #logReadiness(): void {
    const problems = this.problems();
    const ready = problems.length === 0;
    if (ready === this.#wasReady) return;
    this.#wasReady = ready;
    if (ready) this.o.log.info({}, 'worker ready: keyspace events from every primary, outbox readable');
    else this.o.log.warn({ problems }, 'worker not ready');
  }

  /** The delivery log is for people: a record lost while Redis is away costs nothing else. */
  #record(r: Parameters<RedisWebhookLog['record']>[0]): void {
    this.#webhookLog.record(r).catch((err: Error) => {
      const held = this.#recordLog.take('record');
      if (held !== undefined) this.o.log.warn({ err: err.message, heldBackLines: held }, 'webhook delivery record not kept');
    });
  }

  /** Whether this worker holds the delivery lead (the others stand by). */
  get leading(): boolean {
    return this.#leading;
  }

  /** The dashboard's webhook view, on this worker's Redis connection. */
  get webhookLog(): RedisWebhookLog {
    return this.#webhookLog;
  }

  /** The `webhooks` part of this worker's node report. */
  async report(): Promise<NonNullable<NodeInfo['webhooks']>> {
    const [backlog, deadLetters] = await Promise.all([this.#webhooks.backlog(), this.#webhooks.deadLetterCount()]);
    return { backlog, deadLetters, leader: this.#leading };
  }

  #onKey(key: string): void {
    const p = this.o.state.keys.parseChannelKey(key);
    if (p === undefined || (p.suffix !== 'subs' && p.suffix !== 'members')) return;
    this.#schedule(p.appId, p.channel);
  }

  /** (Re)starts the channel's quiet-period timer: it is checked once nothing changed for delayMs. */
  #schedule(appId: string, channel: string, delayMs = this.o.delayMs): void {
    // An app this worker does not know yet (created a moment ago, its notice still on the way) is
    // looked up again when the check runs: the quiet period outlasts the store's notification.
    const app = this.o.apps(appId);
    if ((app !== undefined && app.webhooks.length === 0) || channel.startsWith('#')) return;
    const k = `${appId}\n${channel}`;
    const old = this.#timers.get(k);
    if (old !== undefined) clearTimeout(old);
    const t = setTimeout(() => {
      this.#timers.delete(k);
      this.#check(appId, channel).catch((err: Error) => {
        this.o.log.warn({ appId, channel, err: err.message }, 'webhook check failed; retrying');
        if (this.#running) this.#schedule(appId, channel);
      });
    }, delayMs);
    t.unref();
    this.#timers.set(k, t);
  }

  async #check(appId: string, channel: string): Promise<void> {
    const app = this.o.apps(appId);
    if (app === undefined || app.webhooks.length === 0) return;
    // Not against a reported state Redis may have forgotten: after the restore.
    await this.#recovery.restored;
    const { queued, reported } = await this.#webhooks.decide(appId, channel, channel.startsWith('presence-'));
    this.#copy.update(appId, channel, reported);
    this.#stats.transitions += queued;
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
      this.o.log.warn(
        { appId, channel, moved, outboxMax: this.#webhooks.outboxMax, heldBackLines: held },
        'webhook outbox full: transitions wait in their channel queue',
      );
    }
    if (this.#running) this.#schedule(appId, channel);
  }

  /**
   * Compares every channel's stored state (and every channel of `extra`) with what was last
   * reported: at start and by every recovery, because keyspace notifications sent while the worker
   * was away, or while a primary was failing over, are lost.
   */
  async reconcile(extra: Iterable<{ appId: string; channel: string }> = []): Promise<void> {
    this.#stats.reconciliations++;
    const channels = await scanChannels(this.#sources.primaries(), this.o.state.keys);
    for (const c of extra) channels.set(`${c.appId}\n${c.channel}`, c);
    // Spread over the delay rather than all at once, and after the gateways' own events settle.
    for (const { appId, channel } of channels.values()) this.#schedule(appId, channel, this.o.delayMs);
    this.o.log.info({ channels: channels.size }, 'reconciliation scheduled');
  }

  async #consume(): Promise<void> {
    let lastClaim = 0;
    let leading = false;
    let leadCheckedAt = 0;
    while (this.#running) {
      try {
        // One worker delivers at a time (in order per receiver); the others stand by.
        if (Date.now() - leadCheckedAt > this.#claimMs / 3 || this.#outboxProblem !== undefined) {
          leadCheckedAt = Date.now();
          const was: boolean = leading;
          leading = await this.#webhooks.lead(this.o.workerId, this.#claimMs);
          if (leading !== was) this.o.log.info({ leading }, leading ? 'delivering webhooks (lead taken)' : 'standing by (another worker delivers)');
          // A new leader takes the previous one's unacknowledged entries at once.
          if (leading && !was) lastClaim = 0;
          this.#leading = leading;
        }
        if (!leading) {
          this.#outboxProblem = undefined;
          await new Promise((r) => setTimeout(r, Math.min(1000, this.#claimMs / 6)));
          continue;
        }
        if (this.#delivery.inFlight > 10_000) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        let entries: OutboxEntry[] = [];
        if (Date.now() - lastClaim > this.#claimMs / 2) {
          const takeover = lastClaim === 0;
          lastClaim = Date.now();
          // Entries the previous leader read but never acknowledged (it died, or lost the lead).
          entries = await this.#webhooks.claimStale(this.o.workerId, takeover ? 0 : this.#claimMs, 100);
          entries = entries.filter((e) => !this.#delivery.has(e.id));
        }
        if (entries.length === 0) entries = await this.#readerWebhooks!.read(this.o.workerId, 100, 1000);
        this.#outboxProblem = undefined;
        if (entries.length > 0) this.#delivery.dispatch(entries);
      } catch (err) {
        if (!this.#running) return;
        const message = (err as Error).message;
        // Unknown until Redis answers again: reported as not leading meanwhile.
        this.#leading = false;
        this.#outboxProblem = message;
        if (message.includes('NOGROUP')) {
          // The stream and its group are gone (Redis restarted empty): made again at once.
          this.o.log.warn({ err: message }, 'outbox consumer group missing: creating it again');
          this.#recovery.request('outbox consumer group missing', false);
          await this.#webhooks.ensureGroup().catch(() => undefined /* retried by the next read */);
        } else {
          this.o.log.warn({ err: message }, 'outbox read failed; retrying');
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    }
  }

  stats(): RedisWebhookWorkerStats {
    const d = this.#delivery.stats();
    const k = this.#sources.counts();
    return {
      ...this.#stats,
      ...d,
      recoveries: this.#recovery.runs,
      pendingChecks: this.#timers.size,
      keyspacePrimaries: k.expected,
      keyspacePrimariesReady: k.ready,
      outboxReadable: this.#outboxProblem === undefined ? 1 : 0,
    };
  }

  get webhooks(): RedisWebhooks {
    return this.#webhooks;
  }

  /**
   * Stops: checks still waiting run now (pending transitions are decided and queued, not lost),
   * deliveries in flight get `flushTimeoutMs` to finish; unfinished entries stay in the stream for
   * another worker (or this one, restarted) to deliver. Bounded by `flushTimeoutMs` even when
   * Redis is gone (the final checks are given up, to the next start's reconciliation).
   */
  async close(flushTimeoutMs = 5000): Promise<void> {
    this.#running = false;
    this.#leading = false;
    if (this.#touchTimer) clearInterval(this.#touchTimer);
    if (this.#readyTimer) clearInterval(this.#readyTimer);
    this.#recovery.close();
    const deadline = Date.now() + flushTimeoutMs;
    const pending = [...this.#timers.keys()];
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
    const finalChecks = (async () => {
      for (const k of pending) {
        if (Date.now() >= deadline) return;
        const [appId, channel] = k.split('\n') as [string, string];
        await this.#check(appId, channel).catch((err: Error) => this.o.log.warn({ err: err.message }, 'final check failed'));
      }
    })();
    await Promise.race([finalChecks, new Promise((r) => setTimeout(r, flushTimeoutMs).unref())]);
    this.#sources.close();
    await this.#delivery.drain(Math.max(0, deadline - Date.now()));
    if (this.o.state.isReady()) await this.#webhooks.resign(this.o.workerId).catch(() => undefined /* it expires by itself */);
    this.#reader?.disconnect();
    await this.#loop?.catch(() => undefined /* the reader was disconnected under it */);
  }
}
