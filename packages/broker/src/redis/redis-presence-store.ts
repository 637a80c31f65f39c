import type { PresenceMember, PresenceStore } from '../presence-store.js';
import { encodeContribution } from './contribution.js';
import { addedPayload, infoToJson, removedPayload, toMember } from './member-payloads.js';
import type { RedisStoreDeps } from './store-deps.js';

/** Presence members with a connection count per user, changed atomically per channel. */
export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly d: RedisStoreDeps) {}

  #keys(appId: string, channel: string) {
    const k = this.d.keys;
    return [k.presenceSockets(appId, channel), k.presenceCounts(appId, channel), k.members(appId, channel), k.topic(appId, channel)];
  }

  /** Publishes member_added (in the script) when it is the user's first connection. */
  async add(appId: string, channel: string, socketId: string, m: PresenceMember) {
    const { client, keys, scripts, nodeId, pubsub } = this.d;
    await client.sadd(keys.contributions(nodeId), encodeContribution({ kind: 'presence', appId, channel, socketId }));
    const args = [socketId, m.userId, infoToJson(m.userInfo), pubsub.publishCommand, addedPayload(channel, socketId, m)];
    const first = await scripts.presenceAdd(this.#keys(appId, channel), args);
    return { first: first === 1 };
  }

  async remove(appId: string, channel: string, socketId: string) {
    return this.removeFor(this.d.nodeId, appId, channel, socketId);
  }

  /**
   * Also used to remove a dead node's members. Publishes member_removed (in the script) when it
   * was the user's last connection: the user is read first, as the caller knows only the socket.
   */
  async removeFor(nodeId: string, appId: string, channel: string, socketId: string) {
    const { client, keys, scripts, pubsub } = this.d;
    const userId = (await client.hget(keys.presenceSockets(appId, channel), socketId)) ?? '';
    const args = [socketId, pubsub.publishCommand, removedPayload(channel, userId), userId];
    const r = (await scripts.presenceRemove(this.#keys(appId, channel), args)) as string[];
    await client.srem(keys.contributions(nodeId), encodeContribution({ kind: 'presence', appId, channel, socketId }));
    if (r.length < 2) return { last: false };
    // The socket changed user between the read and the script (never by a dead node): not atomic.
    if (r[0] !== userId) await pubsub.publish(keys.topic(appId, channel), removedPayload(channel, r[0]!));
    return { last: true, member: toMember(r[0]!, r[1]) };
  }

  async members(appId: string, channel: string) {
    const all = await this.d.client.hgetall(this.d.keys.members(appId, channel));
    return Object.entries(all).map(([userId, info]) => toMember(userId, info));
  }

  async userCount(appId: string, channel: string) {
    return this.d.client.hlen(this.d.keys.members(appId, channel));
  }

  async wouldExceed(appId: string, channel: string, userId: string, max: number) {
    const { client, keys } = this.d;
    const key = keys.members(appId, channel);
    // Sent together (one round trip with auto-pipelining); a member already in never counts.
    const [exists, size] = await Promise.all([client.hexists(key, userId), client.hlen(key)]);
    return exists !== 1 && size >= max;
  }
}
