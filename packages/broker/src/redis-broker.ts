import type { Broker, BrokerHandler, ControlCommand, Publication } from './broker.js';
import type { RedisKeys } from './keys.js';
import type { PubSubTransport } from './redis-connection.js';

const NEWLINE = 0x0a;
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

/** A publication as sent on a channel topic: `<exceptSocketId>\n<frame>` (built once, by the publisher). */
export function encodeEnvelope(pub: Pick<Publication, 'frame' | 'exceptSocketId'>): string | Buffer {
  const head = (pub.exceptSocketId ?? '') + '\n';
  return typeof pub.frame === 'string' ? head + pub.frame : Buffer.concat([Buffer.from(head), pub.frame]);
}

export interface BrokerLog {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
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

  constructor(
    private readonly ps: PubSubTransport,
    private readonly keys: RedisKeys,
    private readonly log: BrokerLog,
  ) {}

  async start(handler: BrokerHandler): Promise<void> {
    this.#handler = handler;
    this.ps.onMessage((topic, message) => this.#onMessage(topic, message));
    // Topics wanted while the subscriber was down are applied once it is back.
    this.ps.onReady(() => void this.#schedule());
    await this.ps.subscribe([this.keys.control()]);
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

  async publish(pub: Publication): Promise<void> {
    if (!this.ps.ready()) {
      this.#handler?.onPublication(pub);
      return;
    }
    try {
      await this.ps.publish(this.keys.topic(pub.appId, pub.channel), encodeEnvelope(pub));
      this.publishedCount++;
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'publish failed; delivered locally only');
      this.#handler?.onPublication(pub);
    }
  }

  async publishControl(cmd: ControlCommand): Promise<void> {
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

  #onMessage(topic: string, message: Buffer): void {
    const handler = this.#handler;
    if (handler === undefined) return;
    if (topic === this.keys.control()) {
      try {
        handler.onControl(JSON.parse(message.toString()) as ControlCommand);
      } catch (err) {
        this.log.error({ err }, 'bad control message');
      }
      return;
    }
    const target = this.#topics.get(topic) ?? this.keys.parseTopic(topic);
    if (target === undefined) return;
    const nl = message.indexOf(NEWLINE);
    if (nl === -1) return;
    this.receivedCount++;
    handler.onPublication({
      appId: target.appId,
      channel: target.channel,
      frame: message.subarray(nl + 1),
      ...(nl > 0 ? { exceptSocketId: message.toString('latin1', 0, nl) } : {}),
    });
  }

  async close(): Promise<void> {
    this.#handler = undefined;
    if (this.#retry !== undefined) clearTimeout(this.#retry);
  }
}

const _check: Broker = null as unknown as RedisBroker;
void _check;
