import type { CacheStore, CachedEvent } from '../cache-store.js';
import { memoryKey } from './memory-key.js';

/** Cache-channel events with a TTL, expired lazily on read and by a periodic sweep. */
export class MemoryCacheStore implements CacheStore {
  readonly #entries = new Map<string, { event: string; data: string; expiresAt: number }>();
  readonly #sweep: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.#sweep = setInterval(() => this.#expire(), 60_000);
    this.#sweep.unref();
  }

  async set(appId: string, channel: string, event: string, data: string, ttlSeconds: number) {
    this.#entries.set(memoryKey(appId, channel), { event, data, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async get(appId: string, channel: string): Promise<CachedEvent | undefined> {
    const key = memoryKey(appId, channel);
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    const left = e.expiresAt - this.now();
    if (left <= 0) {
      this.#entries.delete(key);
      return undefined;
    }
    return { event: e.event, data: e.data, ttl: Math.ceil(left / 1000) };
  }

  #expire() {
    const now = this.now();
    for (const [key, e] of this.#entries) if (e.expiresAt <= now) this.#entries.delete(key);
  }

  close() {
    clearInterval(this.#sweep);
  }
}
