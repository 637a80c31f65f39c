import type { CacheStore, CachedEvent } from '../cache-store.js';
import type { RedisStoreDeps } from './store-deps.js';

/** Cache-channel events as strings with a TTL. */
export class RedisCacheStore implements CacheStore {
  constructor(private readonly d: RedisStoreDeps) {}

  async set(appId: string, channel: string, event: string, data: string, ttlSeconds: number) {
    await this.d.client.set(this.d.keys.cache(appId, channel), JSON.stringify({ event, data }), 'EX', ttlSeconds);
  }

  async get(appId: string, channel: string): Promise<CachedEvent | undefined> {
    const r = (await this.d.scripts.cacheGet([this.d.keys.cache(appId, channel)], [])) as [string, number] | [];
    if (r.length === 0) return undefined;
    const { event, data } = JSON.parse(r[0]) as { event: string; data: string };
    return { event, data, ttl: Math.max(0, r[1]) };
  }
}
