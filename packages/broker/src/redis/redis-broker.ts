import { randomBytes } from 'node:crypto';
import type { Broker, BrokerHandler, ControlCommand, Publication, PublishOptions } from '../broker.js';
import type { HistoryPolicy } from '../history-store.js';
import { PublishUnavailableError } from '../errors/publish-unavailable.js';
import { decodeEnvelope, encodeEnvelopeBytes } from './envelope.js';
import type { RedisKeys } from './keys.js';
import type { PubSubTransport } from './pubsub-transport.js';
import type { RedisHistory } from './redis-history.js';
import type { BrokerLog } from './redis-log.js';

/** First byte of a sync marker on a channel topic (an envelope never starts with it). */
const MARKER = 0x00;
/** The longest `sync` waits for its marker. */
const SYNC_TIMEOUT_MS = 3000;
/** A (un)subscribe call that has not answered by then is treated as failed and retried. */
const SUBSCRIBE_TIMEOUT_MS = 5000;
const RETRY_MS = 1000;

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Pub/sub by interest over Redis. A node subscribes to a channel's topic only while it has local
 * subscribers (subscribe/unsubscribe are batched per tick and idempotent across races), so it gets
 * no traffic for other channels. A message is `<exceptSocketId>\n<frame>`: the frame is serialised
 * once by the publisher and handed on as bytes by receivers, never parsed.
 *
 * At-most-once: while Redis is unreachable, publications reach this node's own subscribers only.
 */
export class RedisBroker implements Broker {
  #handler: BrokerHandler | undefined;
  /** Topics wanted (true) or not (false) since the last flush. */
  readonly #pending = new Map<string, boolean>();
  readonly #subscribed = new Set<string>();
  readonly #topics = new Map<string, { appId: string; channel: string }>();
  /** The flush waiting to run (collects every change until it starts), and the last one queued. */
  #next: Promise<void> | undefined;
  #chain: Promise<void> = Promise.resolve();
  #retry: NodeJS.Timeout | undefined;
  publishedCount = 0;
  receivedCount = 0;
  /** Sync markers this node waits for, by id; ids start with a random prefix of this broker's. */
  readonly #markers = new Map<string, () => void>();
  readonly #markerPrefix = `${randomBytes(6).toString('hex')}:`;
  #markerSeq = 0;

  constructor(
    private readonly ps: PubSubTransport,
    private readonly keys: RedisKeys,
    private readonly log: BrokerLog,
    /** Publications with `history` go through its script; without it they are published as they are. */
    private readonly history?: RedisHistory,
    /** Set: the broker also receives the messages addressed to this node (session-link.ts). */
    nodeId?: string,
  ) {
    this.#nodeTopic = nodeId === undefined ? undefined : keys.nodeTopic(nodeId);
  }

  /** The topic of messages addressed to this node, if it takes them. */
  readonly #nodeTopic: string | undefined;

  async start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
    this.ps.onMessage((topic, message) => this.#onMessage(topic, message));
    // Topics wanted while the subscriber was down are applied once it is back.
    this.ps.onReady(() => void this.#schedule());
    await this.ps.subscribe(this.#nodeTopic === undefined ? [this.keys.control()] : [this.keys.control(), this.#nodeTopic]);
  }

  /** Number of channel topics this node is subscribed to. */
  get topicCount(): number {
    return this.#subscribed.size;
  }

  subscribe(appId: string, channel: string): Promise<void> {
    const topic = this.keys.topic(appId, channel);
    this.#topics.set(topic, { appId, channel });
    this.#pending.set(topic, true);
    return this.#schedule();
  }

  unsubscribe(appId: string, channel: string): Promise<void> {
    this.#pending.set(this.keys.topic(appId, channel), false);
    return this.#schedule();
  }

  /**
   * Flushes run one after another: a flush computes its diff against `#subscribed`, which only a
   * finished flush updates, so two overlapping flushes could undo each other's work.
   */
  #schedule(): Promise<void> {
    if (this.#subDown()) return Promise.resolve();
    if (this.#next === undefined) {
      this.#next = this.#chain
        .then(() => new Promise<void>((resolve) => setImmediate(resolve)))
        .then(() => {
          this.#next = undefined;
          return this.#apply();
        });
      this.#chain = this.#next;
    }
    return this.#next;
  }

  #subDown() {
    return !this.ps.ready();
  }

  async #apply(): Promise<void> {
    const add: string[] = [];
    const remove: string[] = [];
    for (const [topic, want] of this.#pending) {
      if (want && !this.#subscribed.has(topic)) add.push(topic);
      if (!want && this.#subscribed.has(topic)) remove.push(topic);
      if (!want) this.#topics.delete(topic);
    }
    this.#pending.clear();
    try {
      // Bounded: a call that never answers (seen with Redis Cluster sharded subscribers) must not
      // hold every later flush, and with it every join and leave of this node, forever.
      if (add.length > 0) {
        await withTimeout(this.ps.subscribe(add), SUBSCRIBE_TIMEOUT_MS, 'subscribe');
        for (const t of add) this.#subscribed.add(t);
      }
      if (remove.length > 0) {
        await withTimeout(this.ps.unsubscribe(remove), SUBSCRIBE_TIMEOUT_MS, 'unsubscribe');
        for (const t of remove) this.#subscribed.delete(t);
      }
    } catch (err) {
      // Put them back (both calls are idempotent) and retry shortly, and again on reconnect.
      for (const t of add) if (!this.#pending.has(t)) this.#pending.set(t, true);
      for (const t of remove) if (!this.#pending.has(t)) this.#pending.set(t, false);
      this.log.warn({ err: (err as Error).message, add: add.length, remove: remove.length }, 'topic subscription failed; will retry');
      if (this.#retry === undefined && this.#handler !== undefined) {
        this.#retry = setTimeout(() => {
          this.#retry = undefined;
          void this.#schedule();
        }, RETRY_MS);
        this.#retry.unref();
      }
    }
  }

  publish(pub: Publication, opts: PublishOptions = {}): Promise<void> {
    if (pub.history !== undefined && this.history !== undefined) return this.#publishKept(pub, pub.history, opts.waitMs);
    const waitMs = opts.waitMs;
    if (waitMs !== undefined && waitMs > 0) {
      const { appId, channel } = pub;
      const envelope = encodeEnvelopeBytes(pub);
      const topic = this.keys.topic(appId, channel);
      const slow = (first?: Error) =>
        this.#waitAndSend(
          () => this.ps.publish(topic, envelope),
          waitMs,
          first,
          () => {
            const local = decodeEnvelope(appId, channel, envelope);
            if (local !== undefined) this.#handler?.onPublication(local);
          },
        );
      if (!this.ps.ready()) return slow();
      // The usual case costs one PUBLISH, no timer: waiting starts only once it failed.
      return this.ps.publish(topic, envelope).then(
        () => void this.publishedCount++,
        (err: Error) => slow(err),
      );
    }
    if (!this.ps.ready()) {
      this.#handler?.onPublication(pub);
      return Promise.resolve();
    }
    return this.#send(pub.appId, pub.channel, encodeEnvelopeBytes(pub));
  }

  /**
   * An event of a history channel: one script numbers it, keeps it and publishes it with its
   * position. Not published (Redis unreachable): this node's subscribers get it as it is, without
   * a position (it is in no history, so clients recovering later cannot get it twice).
   */
  async #publishKept(pub: Publication, policy: HistoryPolicy, waitMs: number | undefined): Promise<void> {
    const history = this.history!;
    const local = () => this.#handler?.onPublication({ ...pub, history: undefined });
    if (waitMs !== undefined && waitMs > 0) {
      const send = () => history.publish(pub, policy);
      if (!this.ps.ready()) return this.#waitAndSend(send, waitMs, undefined, local);
      try {
        await send();
        this.publishedCount++;
      } catch (err) {
        await this.#waitAndSend(send, waitMs, err as Error, local);
      }
      return;
    }
    if (!this.ps.ready()) return void local();
    try {
      await history.publish(pub, policy);
      this.publishedCount++;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'publish failed; delivered locally only');
      local();
    }
  }

  /**
   * Publishes, waiting up to `waitMs` for Redis while it is unreachable or failing over (one
   * attempt in flight at a time, so a slow answer is never doubled by a retry). Not published by
   * then: `local` (this node's subscribers have it) and PublishUnavailableError.
   */
  async #waitAndSend(send: () => Promise<unknown>, waitMs: number, first: Error | undefined, local: () => void): Promise<void> {
    const deadline = Date.now() + waitMs;
    let pause = 50;
    let last = first;
    if (first !== undefined) await new Promise((r) => setTimeout(r, pause));
    for (;;) {
      const left = deadline - Date.now();
      if (this.ps.ready() && left > 0) {
        try {
          await withTimeout(send(), left, 'publish');
          this.publishedCount++;
          return;
        } catch (err) {
          last = err as Error;
        }
      }
      const rest = deadline - Date.now();
      if (rest <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(pause, rest)));
      pause = Math.min(pause * 2, 500);
    }
    local();
    this.log.warn({ err: last?.message ?? 'redis unreachable', waitMs }, 'publish failed after waiting for redis; delivered locally only');
    throw new PublishUnavailableError(`not published within ${waitMs} ms: ${last?.message ?? 'Redis unreachable'}`);
  }

  /** Only the envelope waits for Redis's answer: the publication (its frame string) is garbage already. */
  async #send(appId: string, channel: string, envelope: Buffer): Promise<void> {
    try {
      await this.ps.publish(this.keys.topic(appId, channel), envelope);
      this.publishedCount++;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'publish failed; delivered locally only');
      const local = decodeEnvelope(appId, channel, envelope);
      if (local !== undefined) this.#handler?.onPublication(local);
    }
  }

  async publishControl(cmd: ControlCommand, opts: PublishOptions = {}): Promise<void> {
    if (opts.waitMs !== undefined && opts.waitMs > 0) {
      const payload = JSON.stringify(cmd);
      return this.#waitAndSend(
        () => this.ps.publish(this.keys.control(), payload),
        opts.waitMs,
        undefined,
        () => this.#handler?.onControl(cmd),
      );
    }
    if (!this.ps.ready()) {
      this.#handler?.onControl(cmd);
      return;
    }
    try {
      await this.ps.publish(this.keys.control(), JSON.stringify(cmd));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'control publish failed; applied locally only');
      this.#handler?.onControl(cmd);
    }
  }

  /**
   * Publishes a marker to the channel's topic and waits for it to come back: Redis delivers a
   * topic's messages to a subscriber in the order it ran their PUBLISH (SPUBLISH: per shard, and a
   * channel's topic lives on one), so everything published before has arrived by then. Other nodes
   * receive the marker too and drop it.
   */
  async sync(appId: string, channel: string): Promise<void> {
    if (!this.ps.ready()) return;
    const id = `${this.#markerPrefix}${++this.#markerSeq}`;
    const payload = Buffer.concat([Buffer.from([MARKER]), Buffer.from(id, 'latin1')]);
    const arrived = new Promise<void>((resolve) => this.#markers.set(id, resolve));
    try {
      await this.ps.publish(this.keys.topic(appId, channel), payload);
      await withTimeout(arrived, SYNC_TIMEOUT_MS, 'sync marker');
    } catch (err) {
      this.log.debug({ err: (err as Error).message }, 'channel sync marker lost; carrying on');
    } finally {
      this.#markers.delete(id);
    }
  }

  #onMessage(topic: string, message: Buffer): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    if (message[0] === MARKER) {
      this.#markers.get(message.toString('latin1', 1))?.();
      return;
    }
    if (topic === this.keys.control()) {
      try {
        handler.onControl(JSON.parse(message.toString()) as ControlCommand);
      } catch (err) {
        this.log.error({ err }, 'bad control message');
      }
      return;
    }
    if (topic === this.#nodeTopic) {
      handler.onNodeMessage?.(message.toString());
      return;
    }
    const target = this.#topics.get(topic) ?? this.keys.parseTopic(topic);
    if (target === undefined) return;
    const pub = decodeEnvelope(target.appId, target.channel, message);
    if (pub === undefined) return;
    this.receivedCount++;
    handler.onPublication(pub);
  }

  async close(): Promise<void> {
    this.#handler = undefined;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
  }
}
