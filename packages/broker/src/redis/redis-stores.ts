import { RedisCacheStore } from './redis-cache-store.js';
import { RedisChannelStore } from './redis-channel-store.js';
import { RedisPresenceChannelStore } from './redis-presence-channel-store.js';
import { RedisPresenceStore } from './redis-presence-store.js';
import { RedisUserStore } from './redis-user-store.js';
import type { RedisStoreDeps } from './store-deps.js';

/** The Redis stores of one node, unguarded: their calls reach Redis or throw. */
export interface RedisStores {
  channels: RedisChannelStore;
  presence: RedisPresenceStore;
  presenceChannels: RedisPresenceChannelStore;
  users: RedisUserStore;
  cache: RedisCacheStore;
}

export function createRedisStores(deps: RedisStoreDeps): RedisStores {
  return {
    channels: new RedisChannelStore(deps),
    presence: new RedisPresenceStore(deps),
    presenceChannels: new RedisPresenceChannelStore(deps),
    users: new RedisUserStore(deps),
    cache: new RedisCacheStore(deps),
  };
}
