import { DebugCap, stampRecord, tellRecord, tellSkipped } from '../debug-cap.js';
import { DEBUG_NODE_RATE, type DebugBus, type DebugConsole, type DebugRecord, type DebugRecordInput, type DebugSink } from '../debug.js';
import { RedisKeys } from './keys.js';
import type { PubSubTransport } from './pubsub-transport.js';
import type { RedisClient } from './redis-client.js';
import { createRedisConnections, type RedisConnectOptions } from './redis-connection.js';
import type { BrokerLog } from './redis-log.js';

/** How long a console's flag lives without being renewed (a console node that died stops renewing). */
const TTL_MS = 15_000;
/** How often every node re-reads the watch set: corrects a missed notice and drops dead consoles' apps. */
const REFRESH_MS = 3_000;
/** A sink without a subscriber hears no notices: it re-reads the set this often instead. */
const SINK_REFRESH_MS = 1_000;
/** The longest `close` waits for Redis to forget this node's consoles. */
const CLOSE_WAIT_MS = 1_000;

const quiet = () => undefined;
const QUIET_LOG: BrokerLog = { debug: quiet, info: quiet, warn: quiet, error: quiet };

export interface RedisDebugBusOptions {
  /** Commands: the watch set, and the PUBLISH (SPUBLISH on Cluster) of records and notices. */
  client: RedisClient;
  /**
   * Receives the notices (other nodes learn of a console at once) and the records of this node's
   * consoles. Without it the bus is a sink only: `open` throws, and the watch set is re-read every
   * second instead of on notice.
   */
  pubsub?: PubSubTransport;
  keys: RedisKeys;
  nodeId: string;
  log?: BrokerLog;
  /** @default DEBUG_NODE_RATE */
  perSecond?: number;
  /** @default 15000 */
  ttlMs?: number;
  /** @default 3000 with a subscriber, 1000 without */
  refreshMs?: number;
  /** Called once `close` is done with Redis: releases connections the bus owns. */
  onClose?: () => void;
}

/** What travels on an app's records topic besides records: a node's count of records its cap refused. */
interface SkippedSummary {
  skipped: number;
  node: string;
}

/**
 * The clustered debug bus.
 *
 * The cluster-wide flag: a node with a console of an app keeps `appId:nodeId` in the watch sorted
 * set with an expiry it renews every ttl/3, and publishes a notice so that every node re-reads the
 * set at once; every node also re-reads it every few seconds, so a missed notice, or a console
 * node that died without closing (its entry expires), is corrected within ttl + refresh. Producers
 * look up the local copy of the set, one Set lookup, and build nothing when it says no.
 *
 * Records go by pub/sub on the app's own topic, through the transport's publish command: on Redis
 * Cluster that is SPUBLISH, which keeps an app's records on the shard of its slot, where classic
 * PUBLISH would be relayed to every node of the cluster for the sake of a few subscribers.
 *
 * Never throws into producers: while Redis is unreachable records are dropped and counted.
 */
export class RedisDebugBus implements DebugBus {
  /** Apps with a console anywhere (the set as last read, plus this node's consoles). */
  #watched = new Set<string>();
  /** This node's consoles. */
  readonly #local = new Map<string, Set<DebugConsole>>();
  /** Records topic → app, for this node's consoles. */
  readonly #topics = new Map<string, string>();
  /** Topics the subscriber has confirmed (to retry the others). */
  readonly #subscribed = new Set<string>();
  readonly #cap: DebugCap;
  readonly #client: RedisClient;
  readonly #pubsub: PubSubTransport | undefined;
  readonly #keys: RedisKeys;
  readonly #nodeId: string;
  readonly #log: BrokerLog;
  readonly #ttlMs: number;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #onClose: (() => void) | undefined;
  #refreshing: Promise<void> | undefined;
  #refreshAgain = false;
  #closed = false;
  /** Records and summaries handed to Redis, and records lost on the way (Redis unreachable). */
  published = 0;
  dropped = 0;

  constructor(opts: RedisDebugBusOptions) {
    this.#client = opts.client;
    this.#pubsub = opts.pubsub;
    this.#keys = opts.keys;
    this.#nodeId = opts.nodeId;
    this.#log = opts.log ?? QUIET_LOG;
    this.#ttlMs = opts.ttlMs ?? TTL_MS;
    this.#onClose = opts.onClose;
    this.#cap = new DebugCap(opts.perSecond ?? DEBUG_NODE_RATE, (appId, count) => {
      const summary: SkippedSummary = { skipped: count, node: this.#nodeId };
      this.#send(this.#keys.debugRecords(appId), JSON.stringify(summary));
    });
    const refreshMs = opts.refreshMs ?? (this.#pubsub ? REFRESH_MS : SINK_REFRESH_MS);
    this.#every(refreshMs, () => {
      void this.refresh();
      this.#subscribeMissing();
    });
    this.#every(Math.max(100, Math.floor(this.#ttlMs / 3)), () => void this.#renew());
    // Back after a loss: the flags this node holds may have expired, or Redis restarted empty.
    this.#client.on('ready', () => {
      void this.#renew();
      void this.refresh();
    });
    if (this.#pubsub !== undefined) {
      const ps = this.#pubsub;
      ps.onMessage((topic, payload) => this.#onMessage(topic, payload));
      ps.onReady(() => {
        this.#subscribed.clear();
        this.#subscribeMissing();
      });
      this.#subscribeMissing();
    }
    void this.refresh();
  }

  #every(ms: number, fn: () => void) {
    const t = setInterval(fn, ms);
    t.unref();
    this.#timers.push(t);
  }

  watching(appId: string): boolean {
    return this.#watched.has(appId);
  }

  emit(appId: string, input: DebugRecordInput): void {
    if (!this.#watched.has(appId) || !this.#cap.take(appId)) return;
    if (this.#client.status !== 'ready') {
      this.dropped++;
      return;
    }
    let payload: string;
    try {
      payload = JSON.stringify(stampRecord(input, this.#nodeId));
    } catch {
      this.dropped++;
      return;
    }
    this.#send(this.#keys.debugRecords(appId), payload);
  }

  #send(topic: string, payload: string): void {
    const c = this.#client;
    try {
      (c.isCluster ? c.spublish(topic, payload) : c.publish(topic, payload)).then(
        () => this.published++,
        () => this.dropped++,
      );
    } catch {
      this.dropped++;
    }
  }

  open(appId: string, console: DebugConsole): () => void {
    if (this.#pubsub === undefined) throw new Error('this debug sink has no subscriber: it cannot open consoles');
    if (this.#closed) throw new Error('the debug bus is closed');
    let set = this.#local.get(appId);
    const first = set === undefined;
    if (set === undefined) this.#local.set(appId, (set = new Set()));
    // An entry of its own: one console object opened twice is closed once per open.
    const entry: DebugConsole = { record: (r) => console.record(r), skipped: (n) => console.skipped(n) };
    set.add(entry);
    if (first) {
      this.#topics.set(this.#keys.debugRecords(appId), appId);
      this.#watched.add(appId);
      this.#subscribeMissing();
      void this.#announce(appId);
    }
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      const s = this.#local.get(appId);
      if (s === undefined || !s.delete(entry) || s.size > 0) return;
      this.#local.delete(appId);
      const topic = this.#keys.debugRecords(appId);
      this.#topics.delete(topic);
      this.#subscribed.delete(topic);
      this.#pubsub?.unsubscribe([topic]).catch(() => undefined /* a reconnect drops it anyway */);
      void this.#withdraw(appId);
    };
  }

  /** Re-reads the watch set (also run by the timer and on notices). Never rejects. */
  refresh(): Promise<void> {
    if (this.#refreshing !== undefined) {
      // A change may have landed after the running read was sent: read once more after it.
      this.#refreshAgain = true;
      return this.#refreshing;
    }
    this.#refreshing = (async () => {
      do {
        this.#refreshAgain = false;
        // Unreachable: the last known set stays; producers' records are dropped at publish anyway.
        if (this.#closed || this.#client.status !== 'ready') return;
        try {
          const members = await this.#client.zrangebyscore(this.#keys.debugWatch(), Date.now(), '+inf');
          const next = new Set(this.#local.keys());
          for (const m of members) {
            const at = m.indexOf(':');
            if (at > 0) next.add(m.slice(0, at));
          }
          for (const appId of this.#watched) if (!next.has(appId)) this.#cap.forget(appId);
          this.#watched = next;
        } catch (err) {
          this.#log.debug({ err: (err as Error).message }, 'debug watch set unreadable');
          return;
        }
      } while (this.#refreshAgain);
    })().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  // App ids never contain ':' (checked at config load): the first ':' ends the app id.
  #member(appId: string) {
    return `${appId}:${this.#nodeId}`;
  }

  async #announce(appId: string) {
    try {
      await this.#client.zadd(this.#keys.debugWatch(), Date.now() + this.#ttlMs, this.#member(appId));
      await this.#client.pexpire(this.#keys.debugWatch(), this.#ttlMs);
      this.#send(this.#keys.debugNotice(), `+${appId}`);
    } catch (err) {
      // The renewal timer and the reconnect write it again.
      this.#log.debug({ err: (err as Error).message }, 'debug console flag not set yet');
    }
  }

  async #withdraw(appId: string) {
    try {
      await this.#client.zrem(this.#keys.debugWatch(), this.#member(appId));
      this.#send(this.#keys.debugNotice(), `-${appId}`);
    } catch {
      // It expires.
    }
    await this.refresh();
  }

  /** Renews this node's flags; the set itself expires once no node renews anything. */
  async #renew() {
    if (this.#local.size === 0 || this.#closed || this.#client.status !== 'ready') return;
    const key = this.#keys.debugWatch();
    const now = Date.now();
    const args: (string | number)[] = [];
    for (const appId of this.#local.keys()) args.push(now + this.#ttlMs, this.#member(appId));
    try {
      await this.#client.zadd(key, ...args);
      await this.#client.pexpire(key, this.#ttlMs);
      // Entries of console nodes that died: nobody else removes them.
      await this.#client.zremrangebyscore(key, '-inf', now);
    } catch (err) {
      this.#log.debug({ err: (err as Error).message }, 'debug console flags not renewed');
    }
  }

  #subscribeMissing() {
    const ps = this.#pubsub;
    if (ps === undefined || this.#closed || !ps.ready()) return;
    const want = [this.#keys.debugNotice(), ...this.#topics.keys()].filter((t) => !this.#subscribed.has(t));
    if (want.length === 0) return;
    for (const t of want) this.#subscribed.add(t);
    ps.subscribe(want).catch((err: Error) => {
      // Retried by the refresh timer and on reconnect.
      for (const t of want) this.#subscribed.delete(t);
      this.#log.debug({ err: err.message }, 'debug topics not subscribed yet');
    });
  }

  #onMessage(topic: string, payload: Buffer) {
    if (this.#closed) return;
    if (topic === this.#keys.debugNotice()) {
      const text = payload.toString();
      if (text.startsWith('+')) this.#watched.add(text.slice(1));
      void this.refresh();
      return;
    }
    const appId = this.#topics.get(topic);
    const set = appId === undefined ? undefined : this.#local.get(appId);
    if (set === undefined) return;
    let msg: DebugRecord | SkippedSummary;
    try {
      msg = JSON.parse(payload.toString()) as DebugRecord | SkippedSummary;
    } catch {
      return;
    }
    if ('skipped' in msg) {
      for (const c of set) tellSkipped(c, msg.skipped);
    } else {
      for (const c of set) tellRecord(c, msg);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    this.#cap.close();
    const apps = [...this.#local.keys()];
    this.#local.clear();
    this.#topics.clear();
    this.#watched = new Set();
    // A clean stop lets the other nodes stop recording at once instead of at expiry; bounded, as a
    // stalled Redis must not hold a gateway's shutdown for the sake of flags that expire anyway.
    if (apps.length > 0 && this.#client.status === 'ready') {
      let timer: NodeJS.Timeout | undefined;
      const removed = this.#client
        .zrem(this.#keys.debugWatch(), ...apps.map((a) => this.#member(a)))
        .then(() => {
          for (const a of apps) this.#send(this.#keys.debugNotice(), `-${a}`);
        })
        .catch(() => undefined /* they expire */);
      await Promise.race([removed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))]);
      clearTimeout(timer);
    }
    this.#onClose?.();
  }
}

export interface RedisDebugSinkOptions {
  /** An existing command connection (the webhook worker's state connection, for instance). */
  client: RedisClient;
  /** The deployment's key prefix. @default 'herald' */
  prefix?: string;
  nodeId: string;
  log?: BrokerLog;
}

/**
 * A debug sink for a process that records but never shows (the webhook worker): on an existing
 * connection, no subscriber of its own. It learns of consoles by re-reading the watch set every
 * second. `close` stops its timers; the connection stays the caller's.
 */
export function createRedisDebugSink(opts: RedisDebugSinkOptions): DebugSink & { close(): Promise<void> } {
  return new RedisDebugBus({
    client: opts.client,
    keys: new RedisKeys(opts.prefix ?? 'herald'),
    nodeId: opts.nodeId,
    ...(opts.log ? { log: opts.log } : {}),
  });
}

export type ConnectRedisDebugBusOptions = RedisConnectOptions &
  Pick<RedisDebugBusOptions, 'nodeId' | 'perSecond' | 'ttlMs' | 'refreshMs'> & {
    /** @default 'herald' */
    prefix?: string;
    log: BrokerLog;
  };

/**
 * A debug bus on connections of its own: consoles' records and producers' publications never queue
 * behind, or ahead of, the cluster state's commands and deliveries. Resolves once connected, or
 * once the first attempt failed (it keeps reconnecting; records are dropped meanwhile): a debug
 * console is never a reason for a gateway not to start.
 */
export async function connectRedisDebugBus(opts: ConnectRedisDebugBusOptions): Promise<RedisDebugBus> {
  const { log } = opts;
  const conn = createRedisConnections(opts, (connection, err) => log.debug({ connection, err: err.message }, 'debug bus: redis error'));
  try {
    await conn.connect();
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'debug bus: Redis not reachable yet; retrying');
  }
  return new RedisDebugBus({
    client: conn.client,
    pubsub: conn.pubsub,
    keys: new RedisKeys(opts.prefix ?? 'herald'),
    nodeId: opts.nodeId,
    log,
    ...(opts.perSecond !== undefined ? { perSecond: opts.perSecond } : {}),
    ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}),
    ...(opts.refreshMs !== undefined ? { refreshMs: opts.refreshMs } : {}),
    onClose: () => conn.disconnect(),
  });
}
