import type { ChannelStore } from '../channel-store.js';
import { encodeContribution } from './contribution.js';
import { pair, type RedisStoreDeps } from './store-deps.js';

/** Subscription counts in a hash per channel (socketId → nodeId), plus the app's channel index. */
export class RedisChannelStore implements ChannelStore {
  constructor(private readonly d: RedisStoreDeps) {}

  async join(appId: string, channel: string, socketId: string) {
    const { client, keys, scripts, nodeId } = this.d;
    // Recorded for cleanup before it is made: a node killed in between leaves nothing unrecorded.
    await client.sadd(keys.contributions(nodeId), encodeContribution({ kind: 'subscription', appId, channel, socketId }));
    const [added, count] = pair(await scripts.join([keys.subs(appId, channel)], [socketId, nodeId]));
    if (added === 1 && count === 1) await client.sadd(keys.appChannels(appId), channel);
    return { count, added: added === 1 };
  }

  async leave(appId: string, channel: string, socketId: string) {
    return this.leaveFor(this.d.nodeId, appId, channel, socketId);
  }

  /** Also used to remove a dead node's subscriptions. */
  async leaveFor(nodeId: string, appId: string, channel: string, socketId: string) {
    const { client, keys, scripts } = this.d;
    const [removed, count] = pair(await scripts.leave([keys.subs(appId, channel)], [socketId]));
    await client.srem(keys.contributions(nodeId), encodeContribution({ kind: 'subscription', appId, channel, socketId }));
    if (removed === 1 && count === 0) {
      await client.srem(keys.appChannels(appId), channel);
      // Another node may have joined between our HDEL and SREM: put the channel back if so.
      if ((await client.hlen(keys.subs(appId, channel))) > 0) await client.sadd(keys.appChannels(appId), channel);
    }
    return { count, removed: removed === 1 };
  }

  async count(appId: string, channel: string) {
    return this.d.client.hlen(this.d.keys.subs(appId, channel));
  }

  async channels(appId: string, prefix?: string) {
    const { client, keys } = this.d;
    const names = (await client.smembers(keys.appChannels(appId))).filter((n) => prefix === undefined || n.startsWith(prefix));
    const counts = await Promise.all(names.map((n) => client.hlen(keys.subs(appId, n))));
    const out = new Map<string, number>();
    names.forEach((n, i) => {
      if (counts[i]! > 0) out.set(n, counts[i]!);
    });
    return out;
  }
}
