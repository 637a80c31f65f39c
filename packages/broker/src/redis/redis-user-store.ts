import type { UserStore } from '../user-store.js';
import { encodeContribution } from './contribution.js';
import type { RedisStoreDeps } from './store-deps.js';

/** Signed-in users: a set of socket ids per user. */
export class RedisUserStore implements UserStore {
  constructor(private readonly d: RedisStoreDeps) {}

  async signin(appId: string, userId: string, socketId: string) {
    const { client, keys, scripts, nodeId } = this.d;
    await client.sadd(keys.contributions(nodeId), encodeContribution({ kind: 'user', appId, userId, socketId }));
    const [added, count, version] = (await scripts.userAdd([keys.user(appId, userId)], [socketId])) as [number, number, number];
    return { first: added === 1 && count === 1, version };
  }

  async signout(appId: string, userId: string, socketId: string) {
    return this.signoutFor(this.d.nodeId, appId, userId, socketId);
  }

  async signoutFor(nodeId: string, appId: string, userId: string, socketId: string) {
    const { client, keys, scripts } = this.d;
    const [removed, count, version] = (await scripts.userRemove([keys.user(appId, userId)], [socketId])) as [number, number, number];
    await client.srem(keys.contributions(nodeId), encodeContribution({ kind: 'user', appId, userId, socketId }));
    return { last: removed === 1 && count === 0, version };
  }

  async online(appId: string, userIds: readonly string[]) {
    const { client, keys } = this.d;
    const found = await Promise.all(userIds.map((id) => client.exists(keys.user(appId, id))));
    return new Set(userIds.filter((_, i) => found[i] === 1));
  }
}
