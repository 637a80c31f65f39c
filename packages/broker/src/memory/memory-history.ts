import { withPosition } from '@herald/protocol';
import {
  EPOCH_GRACE_SECONDS,
  epochSource,
  type HistoryPolicy,
  type HistoryReadOptions,
  type HistorySlice,
  type HistoryStore,
  type HistoryEntry,
} from '../history-store.js';

interface Ring {
  epoch: string;
  offset: number;
  entries: HistoryEntry[];
  /** Last publication or read, ms: the ring is dropped EPOCH_GRACE_SECONDS after its TTL. */
  touched: number;
}

const SWEEP_MS = 60_000;

/**
 * Embedded mode's history: a bounded ring per channel in this process (its epochs are new at every
 * start, so a client of the previous process is told so). Rings of channels quiet for longer than
 * their TTL and the grace are dropped by a sweep, so memory follows the active channels.
 */
export class MemoryHistory implements HistoryStore {
  readonly #rings = new Map<string, Ring>();
  readonly #epoch = epochSource();
  readonly #sweep: NodeJS.Timeout;
  #longestTtlMs = 0;

  constructor(private readonly now: () => number = Date.now) {
    this.#sweep = setInterval(() => this.#dropQuiet(), SWEEP_MS);
    this.#sweep.unref();
  }

  #ring(appId: string, channel: string, policy: HistoryPolicy): Ring {
    const key = `${appId}\n${channel}`;
    const now = this.now();
    let ring = this.#rings.get(key);
    if (ring === undefined) this.#rings.set(key, (ring = { epoch: this.#epoch(), offset: 0, entries: [], touched: now }));
    ring.touched = now;
    this.#longestTtlMs = Math.max(this.#longestTtlMs, policy.ttlSeconds * 1000);
    const cutoff = now - policy.ttlSeconds * 1000;
    let expired = 0;
    while (expired < ring.entries.length && ring.entries[expired]!.publishedAt < cutoff) expired++;
    const over = ring.entries.length - expired - policy.size;
    if (expired + Math.max(0, over) > 0) ring.entries.splice(0, expired + Math.max(0, over));
    return ring;
  }

  /** Numbers and keeps an event; returns its frame with the position, as subscribers get it. */
  append(appId: string, channel: string, policy: HistoryPolicy, frame: string | Uint8Array): string {
    const ring = this.#ring(appId, channel, policy);
    const offset = ++ring.offset;
    const text = withPosition(typeof frame === 'string' ? frame : Buffer.from(frame).toString(), `${ring.epoch}:${offset}`);
    ring.entries.push({ offset, frame: text, publishedAt: ring.touched });
    if (ring.entries.length > policy.size) ring.entries.shift();
    return text;
  }

  async read(appId: string, channel: string, policy: HistoryPolicy, opts: HistoryReadOptions): Promise<HistorySlice> {
    const ring = this.#ring(appId, channel, policy);
    const oldest = ring.offset - ring.entries.length + 1;
    const after = opts.after ?? -1;
    let picked = ring.entries.filter((e) => e.offset > after);
    picked = opts.newest === true ? picked.slice(-opts.limit) : picked.slice(0, opts.limit);
    return { epoch: ring.epoch, offset: ring.offset, oldest, entries: picked };
  }

  #dropQuiet(): void {
    const cutoff = this.now() - this.#longestTtlMs - EPOCH_GRACE_SECONDS * 1000;
    for (const [key, ring] of this.#rings) if (ring.touched < cutoff) this.#rings.delete(key);
  }

  close(): void {
    clearInterval(this.#sweep);
    this.#rings.clear();
  }
}
