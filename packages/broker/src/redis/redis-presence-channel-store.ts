import type { PresenceChannelStore, PresenceJoin, PresenceLeave } from '../presence-channel-store.js';
import type { PresenceMember } from '../presence-store.js';
import { encodeContribution } from './contribution.js';
import { addedPayload, infoToJson, removedPayload, toMember } from './member-payloads.js';
import type { RedisStoreDeps } from './store-deps.js';

/**
 * Presence subscriptions in one script call each way (the channel's keys share one hash tag), with
 * both contributions recorded in one SADD before the join and removed in one SREM after the leave.
 */
export class RedisPresenceChannelStore implements PresenceChannelStore {
  constructor(private readonly d: RedisStoreDeps) {}

  #keys(appId: string, channel: string) {
    const k = this.d.keys;
    return [k.subs(appId, channel), k.presenceSockets(appId, channel), k.presenceCounts(appId, channel), k.members(appId, channel), k.topic(appId, channel)];
  }

  async join(appId: string, channel: string, socketId: string, m: PresenceMember): Promise<PresenceJoin> {
    const { client, keys, scripts, nodeId, pubsub } = this.d;
    await client.sadd(
      keys.contributions(nodeId),
      encodeContribution({ kind: 'subscription', appId, channel, socketId }),
      encodeContribution({ kind: 'presence', appId, channel, socketId }),
    );
    const args = [socketId, nodeId, m.userId, infoToJson(m.userInfo), pubsub.publishCommand, addedPayload(channel, socketId, m)];
    const [added, count, first, flat] = (await scripts.presenceJoin(this.#keys(appId, channel), args)) as [number, number, number, string[]];
    if (added === 1 && count === 1) await client.sadd(keys.appChannels(appId), channel);
    const members: PresenceMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      members.push(toMember(flat[i]!, flat[i + 1]));
    }
    return { count, added: added === 1, first: first === 1, members };
  }

  async leave(appId: string, channel: string, socketId: string, userId: string): Promise<PresenceLeave> {
    const { client, keys, scripts, nodeId, pubsub } = this.d;
    const args = [socketId, pubsub.publishCommand, removedPayload(channel, userId), userId];
    const r = (await scripts.presenceLeave(this.#keys(appId, channel), args)) as [number, number, string?, string?];
    const [removed, count] = r;
    await client.srem(
      keys.contributions(nodeId),
      encodeContribution({ kind: 'subscription', appId, channel, socketId }),
      encodeContribution({ kind: 'presence', appId, channel, socketId }),
    );
    if (removed === 1 && count === 0) {
      await client.srem(keys.appChannels(appId), channel);
      // Another node may have joined between our HDEL and SREM: put the channel back if so.
      if ((await client.hlen(keys.subs(appId, channel))) > 0) await client.sadd(keys.appChannels(appId), channel);
    }
    const out: PresenceLeave = { count, removed: removed === 1, last: r.length >= 4 };
    // The socket had joined as another user than the caller said (a caller's bug): not atomic.
    if (r.length >= 4 && r[2] !== userId) await pubsub.publish(keys.topic(appId, channel), removedPayload(channel, r[2]!));
    if (r.length >= 4) out.member = toMember(r[2]!, r[3]);
    return out;
  }
}
