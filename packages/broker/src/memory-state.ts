import type {
  CacheStore,
  CachedEvent,
  ChannelStore,
  PresenceMember,
  PresenceStore,
  Publication,
  StateObserver,
  UserStore,
} from './broker.js';
import { encodeMemberAdded, encodeMemberRemoved } from '@herald/protocol';

const k = (appId: string, name: string) => `${appId}\n${name}`;

/** Channel subscriptions in process memory; reports 0↔1 transitions to the observer. */
export class MemoryChannelStore implements ChannelStore {
  readonly #subs = new Map<string, Set<string>>();
  readonly #byApp = new Map<string, Set<string>>();

  constructor(private readonly observer?: StateObserver) {}

  async join(appId: string, channel: string, socketId: string) {
    const key = k(appId, channel);
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
    const key = k(appId, channel);
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
    return this.#subs.get(k(appId, channel))?.size ?? 0;
  }

  async channels(appId: string, prefix?: string) {
    const out = new Map<string, number>();
    for (const name of this.#byApp.get(appId) ?? []) {
      if (prefix !== undefined && !name.startsWith(prefix)) continue;
      const n = this.#subs.get(k(appId, name))?.size ?? 0;
      if (n > 0) out.set(name, n);
    }
    return out;
  }
}

interface MemberEntry {
  userInfo: unknown;
  sockets: Set<string>;
}

/**
 * Presence members per channel with the sockets of each user; reports first-join/last-leave, and
 * publishes the member event through `publish` in the same synchronous step that decides it.
 */
export class MemoryPresenceStore implements PresenceStore {
  /** channel key → userId → entry (Map keeps join order for member lists). */
  readonly #channels = new Map<string, Map<string, MemberEntry>>();
  /** channel key → socketId → userId */
  readonly #sockets = new Map<string, Map<string, string>>();

  constructor(
    private readonly observer?: StateObserver,
    private readonly publish?: (pub: Publication) => void,
  ) {}

  async add(appId: string, channel: string, socketId: string, m: PresenceMember) {
    const key = k(appId, channel);
    let users = this.#channels.get(key);
    if (users === undefined) this.#channels.set(key, (users = new Map()));
    let sockets = this.#sockets.get(key);
    if (sockets === undefined) this.#sockets.set(key, (sockets = new Map()));
    const previous = sockets.get(socketId);
    if (previous !== undefined && previous !== m.userId) await this.remove(appId, channel, socketId);
    sockets.set(socketId, m.userId);
    let entry = users.get(m.userId);
    const first = entry === undefined;
    if (entry === undefined) users.set(m.userId, (entry = { userInfo: m.userInfo, sockets: new Set() }));
    entry.sockets.add(socketId);
    if (first) {
      this.observer?.memberPresence(appId, channel, m.userId, true);
      this.publish?.({ appId, channel, frame: encodeMemberAdded(channel, m.userId, m.userInfo), exceptSocketId: socketId });
    }
    return { first };
  }

  async remove(appId: string, channel: string, socketId: string) {
    const key = k(appId, channel);
    const sockets = this.#sockets.get(key);
    const userId = sockets?.get(socketId);
    if (sockets === undefined || userId === undefined) return { last: false };
    sockets.delete(socketId);
    if (sockets.size === 0) this.#sockets.delete(key);
    const users = this.#channels.get(key)!;
    const entry = users.get(userId)!;
    entry.sockets.delete(socketId);
    if (entry.sockets.size > 0) return { last: false };
    users.delete(userId);
    if (users.size === 0) this.#channels.delete(key);
    this.observer?.memberPresence(appId, channel, userId, false);
    this.publish?.({ appId, channel, frame: encodeMemberRemoved(channel, userId) });
    return { last: true, member: { userId, userInfo: entry.userInfo } };
  }

  async members(appId: string, channel: string) {
    const users = this.#channels.get(k(appId, channel));
    return users === undefined ? [] : [...users].map(([userId, e]) => ({ userId, userInfo: e.userInfo }));
  }

  async userCount(appId: string, channel: string) {
    return this.#channels.get(k(appId, channel))?.size ?? 0;
  }

  async wouldExceed(appId: string, channel: string, userId: string, max: number) {
    const users = this.#channels.get(k(appId, channel));
    if (users === undefined || users.has(userId)) return false;
    return users.size >= max;
  }
}

/** Signed-in users and their sockets. */
export class MemoryUserStore implements UserStore {
  readonly #users = new Map<string, Set<string>>();
  /** One counter for every transition of every user: decided in order, in one process. */
  #version = 0;

  async signin(appId: string, userId: string, socketId: string) {
    const key = k(appId, userId);
    let set = this.#users.get(key);
    if (set === undefined) this.#users.set(key, (set = new Set()));
    const first = set.size === 0;
    set.add(socketId);
    return { first, version: first ? ++this.#version : 0 };
  }

  async signout(appId: string, userId: string, socketId: string) {
    const key = k(appId, userId);
    const set = this.#users.get(key);
    if (set === undefined || !set.delete(socketId)) return { last: false, version: 0 };
    if (set.size > 0) return { last: false, version: 0 };
    this.#users.delete(key);
    return { last: true, version: ++this.#version };
  }

  async online(appId: string, userIds: readonly string[]) {
    return new Set(userIds.filter((id) => this.#users.has(k(appId, id))));
  }
}

/** Cache-channel events with a TTL, expired lazily on read and by a periodic sweep. */
export class MemoryCacheStore implements CacheStore {
  readonly #entries = new Map<string, { event: string; data: string; expiresAt: number }>();
  readonly #sweep: NodeJS.Timeout;

  constructor(private readonly now: () => number = Date.now) {
    this.#sweep = setInterval(() => this.#expire(), 60_000);
    this.#sweep.unref();
  }

  async set(appId: string, channel: string, event: string, data: string, ttlSeconds: number) {
    this.#entries.set(k(appId, channel), { event, data, expiresAt: this.now() + ttlSeconds * 1000 });
  }

  async get(appId: string, channel: string): Promise<CachedEvent | undefined> {
    const key = k(appId, channel);
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
