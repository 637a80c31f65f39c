/**
 * Lua scripts for the changes that must be atomic. Each touches keys of one hash tag only (one
 * channel, or one user), so they run on Redis Cluster too.
 */

/** KEYS[1]=subs ARGV[1]=socketId ARGV[2]=nodeId → {added 0|1, count} */
export const JOIN = `
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return {added, redis.call('HLEN', KEYS[1])}`;

/** KEYS[1]=subs ARGV[1]=socketId → {removed 0|1, count} */
export const LEAVE = `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
return {removed, redis.call('HLEN', KEYS[1])}`;

/** Where the membership scripts find the psock, pcount and members keys and their arguments. */
interface MemberRefs {
  psock: string;
  pcount: string;
  members: string;
  socket: string;
  user?: string;
  info?: string;
}

/**
 * Lua that adds a socket's membership (idempotent per socket; a socket that changes user leaves the
 * old one first) and sets the local `first` to 1 when it is the user's first connection.
 */
const addMember = (r: MemberRefs) => `
local first = 0
local prev = redis.call('HGET', ${r.psock}, ${r.socket})
if prev ~= ${r.user} then
  if prev then
    if redis.call('HINCRBY', ${r.pcount}, prev, -1) <= 0 then
      redis.call('HDEL', ${r.pcount}, prev)
      redis.call('HDEL', ${r.members}, prev)
    end
  end
  redis.call('HSET', ${r.psock}, ${r.socket}, ${r.user})
  if redis.call('HINCRBY', ${r.pcount}, ${r.user}, 1) == 1 then
    redis.call('HSET', ${r.members}, ${r.user}, ${r.info})
    first = 1
  end
end`;

/**
 * Lua that removes a socket's membership: the local `user` is nil when the socket was no member,
 * `gone` holds the user_info JSON ('' when none) when it was the user's last connection, else nil.
 */
const removeMember = (r: MemberRefs) => `
local user = redis.call('HGET', ${r.psock}, ${r.socket})
local gone = nil
if user then
  redis.call('HDEL', ${r.psock}, ${r.socket})
  if redis.call('HINCRBY', ${r.pcount}, user, -1) <= 0 then
    redis.call('HDEL', ${r.pcount}, user)
    gone = redis.call('HGET', ${r.members}, user) or ''
    redis.call('HDEL', ${r.members}, user)
  end
end`;

/**
 * Member events are published by the script that decides them (ARGV `pubCmd` is PUBLISH, or
 * SPUBLISH on Redis Cluster; the topic shares the channel's hash tag), so every node receives a
 * channel's member_added and member_removed in the order Redis decided them. Published by the
 * caller after the script returned, a leave on one node and the same user's join on another could
 * be announced in the opposite order, and every client would drop a user who is present.
 */
const announceAdded = (topic: string, pubCmd: string, payload: string) => `
if first == 1 then redis.call(${pubCmd}, ${topic}, ${payload}) end`;
/** The removal frame names the user the caller expected; another user (never seen) is left to the caller. */
const announceRemoved = (topic: string, pubCmd: string, payload: string, expectedUser: string) => `
if gone and user == ${expectedUser} then redis.call(${pubCmd}, ${topic}, ${payload}) end`;

/**
 * KEYS = psock, pcount, members, topic; ARGV = socketId, userId, userInfoJson ('' when absent),
 * pubCmd, member_added payload. Returns 1 when this is the user's first connection in the channel
 * (and then has published the payload). Idempotent per socket.
 */
export const PRESENCE_ADD = `${addMember({ psock: 'KEYS[1]', pcount: 'KEYS[2]', members: 'KEYS[3]', socket: 'ARGV[1]', user: 'ARGV[2]', info: 'ARGV[3]' })}
${announceAdded('KEYS[4]', 'ARGV[4]', 'ARGV[5]')}
return first`;

/**
 * KEYS = psock, pcount, members, topic; ARGV = socketId, pubCmd, member_removed payload, the
 * payload's userId. Returns {} when the socket was not in, {userId} when the user has other
 * connections left, {userId, userInfoJson} when its last connection left (and then has published
 * the payload if the user is the expected one).
 */
export const PRESENCE_REMOVE = `${removeMember({ psock: 'KEYS[1]', pcount: 'KEYS[2]', members: 'KEYS[3]', socket: 'ARGV[1]' })}
${announceRemoved('KEYS[4]', 'ARGV[2]', 'ARGV[3]', 'ARGV[4]')}
if not user then return {} end
if gone then return {user, gone} end
return {user}`;

const CHANNEL_MEMBER_REFS = { psock: 'KEYS[2]', pcount: 'KEYS[3]', members: 'KEYS[4]', socket: 'ARGV[1]', user: 'ARGV[3]', info: 'ARGV[4]' };

/**
 * JOIN then PRESENCE_ADD then the member list, in one call. KEYS = subs, psock, pcount, members,
 * topic; ARGV = socketId, nodeId, userId, userInfoJson, pubCmd, member_added payload.
 * Returns {added, count, first, members (HGETALL)}.
 */
export const PRESENCE_JOIN = `
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local count = redis.call('HLEN', KEYS[1])
${addMember(CHANNEL_MEMBER_REFS)}
${announceAdded('KEYS[5]', 'ARGV[5]', 'ARGV[6]')}
return {added, count, first, redis.call('HGETALL', KEYS[4])}`;

/**
 * LEAVE then PRESENCE_REMOVE, in one call. KEYS = subs, psock, pcount, members, topic; ARGV =
 * socketId, pubCmd, member_removed payload, the payload's userId. Returns {removed, count} when the
 * socket was no member, {removed, count, userId} when the user has other connections left,
 * {removed, count, userId, userInfoJson} when its last connection left.
 */
export const PRESENCE_LEAVE = `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
local count = redis.call('HLEN', KEYS[1])
${removeMember(CHANNEL_MEMBER_REFS)}
${announceRemoved('KEYS[5]', 'ARGV[2]', 'ARGV[3]', 'ARGV[4]')}
if not user then return {removed, count} end
if gone then return {removed, count, user, gone} end
return {removed, count, user}`;

/**
 * Redis's clock in µs, read inside the script that decides a user's online/offline transition: the
 * transitions of one user are decided one after another on the shard of its key, so their times
 * increase (the version of ControlCommand 'user-presence'; no key is kept per user for it).
 */
const NOW_US = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])`;

/**
 * KEYS[1]=user sockets ARGV[1]=socketId: `cmd` (SADD or SREM) of the socket → {changed 0|1, count,
 * version µs when `transition` holds (the user went online / offline), else 0}.
 */
const userSetChange = (cmd: 'SADD' | 'SREM', transition: string) => `
local changed = redis.call('${cmd}', KEYS[1], ARGV[1])
local count = redis.call('SCARD', KEYS[1])
if ${transition} then
  ${NOW_US}
  return {changed, count, now}
end
return {changed, count, 0}`;

export const SET_ADD = userSetChange('SADD', 'changed == 1 and count == 1');
export const SET_REMOVE = userSetChange('SREM', 'changed == 1 and count == 0');

/** KEYS[1]=cache → {value, ttl seconds} or {} */
export const CACHE_GET = `
local v = redis.call('GET', KEYS[1])
if not v then return {} end
return {v, redis.call('TTL', KEYS[1])}`;
