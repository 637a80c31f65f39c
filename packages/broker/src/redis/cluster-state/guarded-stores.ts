import type { CacheStore } from '../../cache-store.js';
import type { ChannelChange, ChannelStore } from '../../channel-store.js';
import type { PresenceChannelStore } from '../../presence-channel-store.js';
import type { PresenceStore } from '../../presence-store.js';
import type { UserStore } from '../../user-store.js';
import type { RedisStores } from '../redis-stores.js';
import type { StateGuards } from './guards.js';

/**
 * The stores as the gateway sees them: every write through `guards.write` with the partial answer
 * it gives while Redis is unreachable, every read through `guards.read`.
 */
export function guardStores(stores: RedisStores, guards: StateGuards) {
  const { channels, presence, presenceChannels, users, cache } = stores;
  const write = guards.write.bind(guards);
  const read = guards.read.bind(guards);
  return {
    channels: {
      join: (a, c, s) => write<ChannelChange & { added: boolean }>(() => channels.join(a, c, s), { count: 1, added: true, partial: true }),
      leave: (a, c, s) => write<ChannelChange & { removed: boolean }>(() => channels.leave(a, c, s), { count: 0, removed: true, partial: true }),
      count: (a, c) => read(() => channels.count(a, c)),
      channels: (a, p) => read(() => channels.channels(a, p)),
    } satisfies ChannelStore,
    presence: {
      add: (a, c, s, m) => write(() => presence.add(a, c, s, m), { first: false }),
      remove: (a, c, s) => write(() => presence.remove(a, c, s), { last: false }),
      members: (a, c) => read(() => presence.members(a, c)),
      userCount: (a, c) => read(() => presence.userCount(a, c)),
      wouldExceed: (a, c, u, max) => write(() => presence.wouldExceed(a, c, u, max), false),
    } satisfies PresenceStore,
    presenceChannels: {
      join: (a, c, s, m) => write(() => presenceChannels.join(a, c, s, m), { count: 1, added: true, first: false, members: [], partial: true }),
      leave: (a, c, s, u) => write(() => presenceChannels.leave(a, c, s, u), { count: 0, removed: true, last: false, partial: true }),
    } satisfies PresenceChannelStore,
    users: {
      signin: (a, u, s) => write(() => users.signin(a, u, s), { first: false, version: 0 }),
      signout: (a, u, s) => write(() => users.signout(a, u, s), { last: false, version: 0 }),
      online: (a, ids) => read(() => users.online(a, ids)),
    } satisfies UserStore,
    cache: {
      set: (a, c, e, d, t) => write(() => cache.set(a, c, e, d, t), undefined),
      get: (a, c) => read(() => cache.get(a, c)),
    } satisfies CacheStore,
  };
}
