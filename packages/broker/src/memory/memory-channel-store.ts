import type { ChannelStore } from '../channel-store.js';
import type { StateObserver } from '../state-observer.js';
import { memoryKey } from './memory-key.js';

/** Channel subscriptions in process memory; reports 0↔1 transitions to the observer. */
export class MemoryChannelStore implements ChannelStore {
  readonly #subs = new Map<string, Set<string>>();
  readonly #byApp = new Map<string, Set<string>>();

  constructor(private readonly observer?: StateObserver) {}

  async join(appId: string, channel: string, socketId: string) {
    const key = memoryKey(appId, channel);
    let set = this.#subs.get(key);
    if (set === undefined) {
      set = new Set();
      this.#subs.set(key, set);
      let names = this.#byApp.get(appId);
      if (names === undefined) this.#byApp.set(appId, (names = new Set()));
      names.add(channel);
    }
    if (set.has(socketId)) return { count: set.size, added: false };
    set.add(socketId);
    if (set.size === 1) this.observer?.channelOccupancy(appId, channel, true);
    return { count: set.size, added: true };
  }

  async leave(appId: string, channel: string, socketId: string) {
    const key = memoryKey(appId, channel);
    const set = this.#subs.get(key);
    if (set === undefined || !set.delete(socketId)) return { count: set?.size ?? 0, removed: false };
    if (set.size === 0) {
      this.#subs.delete(key);
      this.#byApp.get(appId)?.delete(channel);
      this.observer?.channelOccupancy(appId, channel, false);
    }
    return { count: set.size, removed: true };
  }

  async count(appId: string, channel: string) {
    return this.#subs.get(memoryKey(appId, channel))?.size ?? 0;
  }

  async channels(appId: string, prefix?: string) {
    const out = new Map<string, number>();
    for (const name of this.#byApp.get(appId) ?? []) {
      if (prefix !== undefined && !name.startsWith(prefix)) continue;
      const n = this.#subs.get(memoryKey(appId, name))?.size ?? 0;
      if (n > 0) out.set(name, n);
    }
    return out;
  }
}
