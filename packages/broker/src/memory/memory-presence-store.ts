import { encodeMemberAdded, encodeMemberRemoved } from '@herald/protocol';
import type { Publication } from '../broker.js';
import type { PresenceMember, PresenceStore } from '../presence-store.js';
import type { StateObserver } from '../state-observer.js';
import { memoryKey } from './memory-key.js';

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
    const key = memoryKey(appId, channel);
    let users = this.#channels.get(key);
    if (users === undefined) this.#channels.set(key, (users = new Map<string, MemberEntry>()));
    let sockets = this.#sockets.get(key);
    if (sockets === undefined) this.#sockets.set(key, (sockets = new Map<string, string>()));
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
    const key = memoryKey(appId, channel);
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
    const users = this.#channels.get(memoryKey(appId, channel));
    return users === undefined ? [] : [...users].map(([userId, e]) => ({ userId, userInfo: e.userInfo }));
  }

  async userCount(appId: string, channel: string) {
    return this.#channels.get(memoryKey(appId, channel))?.size ?? 0;
  }

  async wouldExceed(appId: string, channel: string, userId: string, max: number) {
    const users = this.#channels.get(memoryKey(appId, channel));
    if (users === undefined || users.has(userId)) return false;
    return users.size >= max;
  }
}
