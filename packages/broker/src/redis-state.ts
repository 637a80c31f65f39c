import type { Cluster, Redis } from 'ioredis';
import type {
  CacheStore,
  CachedEvent,
  ChannelStore,
  PresenceChannelStore,
  PresenceJoin,
  PresenceLeave,
  PresenceMember,
  PresenceStore,
  UserStore,
} from './broker.js';
import { encodeMemberAdded, encodeMemberRemoved } from '@herald/protocol';
import type { RedisKeys } from './keys.js';
import { encodeEnvelope } from './redis-broker.js';
import type { PubSubTransport } from './redis-connection.js';
import { CACHE_GET, JOIN, LEAVE, PRESENCE_ADD, PRESENCE_JOIN, PRESENCE_LEAVE, PRESENCE_REMOVE, SET_ADD, SET_REMOVE } from './redis-scripts.js';

export type RedisClient = Redis | Cluster;

type Script = (keys: string[], args: (string | number)[]) => Promise<unknown>;

/** Registers the Lua scripts once per client (EVALSHA with EVAL fallback, by ioredis). */
export function defineScripts(client: RedisClient) {
  const def = (name: string, lua: string, numberOfKeys: number): Script => {
    client.defineCommand(name, { lua, numberOfKeys });
    const fn = (client as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!.bind(client);
    return (keys, args) => fn(...keys, ...args);
  };
  return {
    join: def('heraldJoin', JOIN, 1),
    leave: def('heraldLeave', LEAVE, 1),
    presenceAdd: def('heraldPresenceAdd', PRESENCE_ADD, 4),
    presenceRemove: def('heraldPresenceRemove', PRESENCE_REMOVE, 4),
    presenceJoin: def('heraldPresenceJoin', PRESENCE_JOIN, 5),
    presenceLeave: def('heraldPresenceLeave', PRESENCE_LEAVE, 5),
    setAdd: def('heraldSetAdd', SET_ADD, 1),
    setRemove: def('heraldSetRemove', SET_REMOVE, 1),
    cacheGet: def('heraldCacheGet', CACHE_GET, 1),
  };
}
export type Scripts = ReturnType<typeof defineScripts>;

/** A node's record of what it added to the shared state, so that it can be removed if it dies. */
export type Contribution =
  | { kind: 's'; appId: string; channel: string; socketId: string }
  | { kind: 'p'; appId: string; channel: string; socketId: string }
  | { kind: 'u'; appId: string; userId: string; socketId: string };

export const encodeContribution = (c: Contribution) =>
  JSON.stringify(c.kind === 'u' ? [c.kind, c.appId, c.userId, c.socketId] : [c.kind, c.appId, c.channel, c.socketId]);

export function decodeContribution(s: string): Contribution | undefined {
  try {
    const [kind, appId, name, socketId] = JSON.parse(s) as [string, string, string, string];
    if (kind === 'u') return { kind, appId, userId: name, socketId };
    if (kind === 's' || kind === 'p') return { kind, appId, channel: name, socketId };
  } catch {
    /* a malformed entry is skipped: it cannot name anything to remove */
  }
  return undefined;
}

interface Deps {
  client: RedisClient;
  keys: RedisKeys;
  scripts: Scripts;
  nodeId: string;
  /** How the presence scripts publish the member events they decide (PUBLISH, or SPUBLISH). */
  pubsub: Pick<PubSubTransport, 'publish' | 'publishCommand'>;
}

/** The member_added publication (not to the joining socket), as the presence scripts publish it. */
const addedPayload = (channel: string, socketId: string, m: PresenceMember) =>
  encodeEnvelope({ frame: encodeMemberAdded(channel, m.userId, m.userInfo), exceptSocketId: socketId }) as string;
const removedPayload = (channel: string, userId: string) => encodeEnvelope({ frame: encodeMemberRemoved(channel, userId) }) as string;

const pair = (r: unknown) => r as [number, number];

/** Subscription counts in a hash per channel (socketId → nodeId), plus the app's channel index. */
export class RedisChannelStore implements ChannelStore {
  constructor(private readonly d: Deps) {}

  async join(appId: string, channel: string, socketId: string) {
    const { client, keys, scripts, nodeId } = this.d;
    // Recorded for cleanup before it is made: a node killed in between leaves nothing unrecorded.
    await client.sadd(keys.contributions(nodeId), encodeContribution({ kind: 's', appId, channel, socketId }));
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
    await client.srem(keys.contributions(nodeId), encodeContribution({ kind: 's', appId, channel, socketId }));
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

const infoToJson = (info: unknown) => (info === undefined ? '' : JSON.stringify(info));
const jsonToInfo = (s: string | undefined): unknown => {
  if (s === undefined || s === '') return undefined;
  try {
    return JSON.parse(s);
  } catch {
    return undefined;
  }
};

/** Presence members with a connection count per user, changed atomically per channel. */
export class RedisPresenceStore implements PresenceStore {
  constructor(private readonly d: Deps) {}

  #keys(appId: string, channel: string) {
    const k = this.d.keys;
    return [k.presenceSockets(appId, channel), k.presenceCounts(appId, channel), k.members(appId, channel), k.topic(appId, channel)];
  }

  /** Publishes member_added (in the script) when it is the user's first connection. */
  async add(appId: string, channel: string, socketId: string, m: PresenceMember) {
    const { client, keys, scripts, nodeId, pubsub } = this.d;
    await client.sadd(keys.contributions(nodeId), encodeContribution({ kind: 'p', appId, channel, socketId }));
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
    await client.srem(keys.contributions(nodeId), encodeContribution({ kind: 'p', appId, channel, socketId }));
    if (r.length < 2) return { last: false };
    // The socket changed user between the read and the script (never by a dead node): not atomic.
    if (r[0] !== userId) await pubsub.publish(keys.topic(appId, channel), removedPayload(channel, r[0]!));
    const userInfo = jsonToInfo(r[1]);
    return { last: true, member: { userId: r[0]!, ...(userInfo !== undefined ? { userInfo } : {}) } };
  }

  async members(appId: string, channel: string) {
    const all = await this.d.client.hgetall(this.d.keys.members(appId, channel));
    return Object.entries(all).map(([userId, info]) => {
      const userInfo = jsonToInfo(info);
      return userInfo === undefined ? { userId } : { userId, userInfo };
    });
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

/**
 * Presence subscriptions in one script call each way (the channel's keys share one hash tag), with
 * both contributions recorded in one SADD before the join and removed in one SREM after the leave.
 */
export class RedisPresenceChannelStore implements PresenceChannelStore {
  constructor(private readonly d: Deps) {}

  #keys(appId: string, channel: string) {
    const k = this.d.keys;
    return [k.subs(appId, channel), k.presenceSockets(appId, channel), k.presenceCounts(appId, channel), k.members(appId, channel), k.topic(appId, channel)];
  }

  async join(appId: string, channel: string, socketId: string, m: PresenceMember): Promise<PresenceJoin> {
    const { client, keys, scripts, nodeId, pubsub } = this.d;
    await client.sadd(
      keys.contributions(nodeId),
      encodeContribution({ kind: 's', appId, channel, socketId }),
      encodeContribution({ kind: 'p', appId, channel, socketId }),
    );
    const args = [socketId, nodeId, m.userId, infoToJson(m.userInfo), pubsub.publishCommand, addedPayload(channel, socketId, m)];
    const [added, count, first, flat] = (await scripts.presenceJoin(this.#keys(appId, channel), args)) as [number, number, number, string[]];
    if (added === 1 && count === 1) await client.sadd(keys.appChannels(appId), channel);
    const members: PresenceMember[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const userInfo = jsonToInfo(flat[i + 1]);
      members.push(userInfo === undefined ? { userId: flat[i]! } : { userId: flat[i]!, userInfo });
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
      encodeContribution({ kind: 's', appId, channel, socketId }),
      encodeContribution({ kind: 'p', appId, channel, socketId }),
    );
    if (removed === 1 && count === 0) {
      await client.srem(keys.appChannels(appId), channel);
      // Another node may have joined between our HDEL and SREM: put the channel back if so.
      if ((await client.hlen(keys.subs(appId, channel))) > 0) await client.sadd(keys.appChannels(appId), channel);
    }
    const out: PresenceLeave = { count, removed: removed === 1, last: r.length >= 4 };
    // The socket had joined as another user than the caller said (a caller's bug): not atomic.
    if (r.length >= 4 && r[2] !== userId) await pubsub.publish(keys.topic(appId, channel), removedPayload(channel, r[2]!));
    if (r.length >= 4) {
      const userInfo = jsonToInfo(r[3]);
      out.member = { userId: r[2]!, ...(userInfo !== undefined ? { userInfo } : {}) };
    }
    return out;
  }
}

/** Signed-in users: a set of socket ids per user. */
export class RedisUserStore implements UserStore {
  constructor(private readonly d: Deps) {}

  async signin(appId: string, userId: string, socketId: string) {
    const { client, keys, scripts, nodeId } = this.d;
    await client.sadd(keys.contributions(nodeId), encodeContribution({ kind: 'u', appId, userId, socketId }));
    const [added, count, version] = (await scripts.setAdd([keys.user(appId, userId)], [socketId])) as [number, number, number];
    return { first: added === 1 && count === 1, version };
  }

  async signout(appId: string, userId: string, socketId: string) {
    return this.signoutFor(this.d.nodeId, appId, userId, socketId);
  }

  async signoutFor(nodeId: string, appId: string, userId: string, socketId: string) {
    const { client, keys, scripts } = this.d;
    const [removed, count, version] = (await scripts.setRemove([keys.user(appId, userId)], [socketId])) as [number, number, number];
    await client.srem(keys.contributions(nodeId), encodeContribution({ kind: 'u', appId, userId, socketId }));
    return { last: removed === 1 && count === 0, version };
  }

  async online(appId: string, userIds: readonly string[]) {
    const { client, keys } = this.d;
    const found = await Promise.all(userIds.map((id) => client.exists(keys.user(appId, id))));
    return new Set(userIds.filter((_, i) => found[i] === 1));
  }
}

/** Cache-channel events as strings with a TTL. */
export class RedisCacheStore implements CacheStore {
  constructor(private readonly d: Deps) {}

  async set(appId: string, channel: string, event: string, data: string, ttlSeconds: number) {
    await this.d.client.set(this.d.keys.cache(appId, channel), JSON.stringify({ event, data }), 'EX', ttlSeconds);
  }

  async get(appId: string, channel: string): Promise<CachedEvent | undefined> {
    const r = (await this.d.scripts.cacheGet([this.d.keys.cache(appId, channel)], [])) as [string, number] | [];
    if (r.length === 0) return undefined;
    const { event, data } = JSON.parse(r[0]!) as { event: string; data: string };
    return { event, data, ttl: Math.max(0, r[1]!) };
  }
}
