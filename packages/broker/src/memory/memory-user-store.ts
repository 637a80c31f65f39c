import type { UserStore } from '../user-store.js';
import { memoryKey } from './memory-key.js';

/** Signed-in users and their sockets. */
export class MemoryUserStore implements UserStore {
  readonly #users = new Map<string, Set<string>>();
  /** One counter for every transition of every user: decided in order, in one process. */
  #version = 0;

  async signin(appId: string, userId: string, socketId: string) {
    const key = memoryKey(appId, userId);
    let set = this.#users.get(key);
    if (set === undefined) this.#users.set(key, (set = new Set()));
    const first = set.size === 0;
    set.add(socketId);
    return { first, version: first ? ++this.#version : 0 };
  }

  async signout(appId: string, userId: string, socketId: string) {
    const key = memoryKey(appId, userId);
    const set = this.#users.get(key);
    if (set === undefined || !set.delete(socketId)) return { last: false, version: 0 };
    if (set.size > 0) return { last: false, version: 0 };
    this.#users.delete(key);
    return { last: true, version: ++this.#version };
  }

  async online(appId: string, userIds: readonly string[]) {
    return new Set(userIds.filter((id) => this.#users.has(memoryKey(appId, id))));
  }
}
