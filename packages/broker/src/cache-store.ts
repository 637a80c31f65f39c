export interface CachedEvent {
  event: string;
  data: string;
  /** Seconds until it expires. */
  ttl: number;
}

/**
 * Last event published through the API on cache channels, one per channel: a later `set` replaces
 * the earlier. `get` throws StateUnavailableError while the shared state is unreachable.
 */
export interface CacheStore {
  set(appId: string, channel: string, event: string, data: string, ttlSeconds: number): Promise<void>;
  get(appId: string, channel: string): Promise<CachedEvent | undefined>;
}
