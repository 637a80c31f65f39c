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

/**
 * KEYS = psock, pcount, members; ARGV = socketId, userId, userInfoJson ('' when absent).
 * Returns 1 when this is the user's first connection in the channel. Idempotent per socket.
 */
export const PRESENCE_ADD = `
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev == ARGV[2] then return 0 end
if prev then
  local left = redis.call('HINCRBY', KEYS[2], prev, -1)
  if left <= 0 then
    redis.call('HDEL', KEYS[2], prev)
    redis.call('HDEL', KEYS[3], prev)
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local n = redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
if n == 1 then
  redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
  return 1
end
return 0`;

/**
 * KEYS = psock, pcount, members; ARGV[1] = socketId.
 * Returns {} when the socket was not in, {userId} when the user has other connections left,
 * {userId, userInfoJson} when its last connection left.
 */
export const PRESENCE_REMOVE = `
local user = redis.call('HGET', KEYS[1], ARGV[1])
if not user then return {} end
redis.call('HDEL', KEYS[1], ARGV[1])
local n = redis.call('HINCRBY', KEYS[2], user, -1)
if n <= 0 then
  redis.call('HDEL', KEYS[2], user)
  local info = redis.call('HGET', KEYS[3], user) or ''
  redis.call('HDEL', KEYS[3], user)
  return {user, info}
end
return {user}`;

/**
 * JOIN then PRESENCE_ADD then the member list, in one call. KEYS = subs, psock, pcount, members;
 * ARGV = socketId, nodeId, userId, userInfoJson. Returns {added, count, first, members (HGETALL)}.
 */
export const PRESENCE_JOIN = `
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
local count = redis.call('HLEN', KEYS[1])
local first = 0
local prev = redis.call('HGET', KEYS[2], ARGV[1])
if prev ~= ARGV[3] then
  if prev then
    local left = redis.call('HINCRBY', KEYS[3], prev, -1)
    if left <= 0 then
      redis.call('HDEL', KEYS[3], prev)
      redis.call('HDEL', KEYS[4], prev)
    end
  end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
  if redis.call('HINCRBY', KEYS[3], ARGV[3], 1) == 1 then
    redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
    first = 1
  end
end
return {added, count, first, redis.call('HGETALL', KEYS[4])}`;

/**
 * LEAVE then PRESENCE_REMOVE, in one call. KEYS = subs, psock, pcount, members; ARGV[1] = socketId.
 * Returns {removed, count} when the socket was no member, {removed, count, userId} when the user has
 * other connections left, {removed, count, userId, userInfoJson} when its last connection left.
 */
export const PRESENCE_LEAVE = `
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
local count = redis.call('HLEN', KEYS[1])
local user = redis.call('HGET', KEYS[2], ARGV[1])
if not user then return {removed, count} end
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('HINCRBY', KEYS[3], user, -1) <= 0 then
  redis.call('HDEL', KEYS[3], user)
  local info = redis.call('HGET', KEYS[4], user) or ''
  redis.call('HDEL', KEYS[4], user)
  return {removed, count, user, info}
end
return {removed, count, user}`;

/** KEYS[1]=user sockets ARGV[1]=socketId → {added, count} */
export const SET_ADD = `
local added = redis.call('SADD', KEYS[1], ARGV[1])
return {added, redis.call('SCARD', KEYS[1])}`;

/** KEYS[1]=user sockets ARGV[1]=socketId → {removed, count} */
export const SET_REMOVE = `
local removed = redis.call('SREM', KEYS[1], ARGV[1])
return {removed, redis.call('SCARD', KEYS[1])}`;

/** KEYS[1]=cache → {value, ttl seconds} or {} */
export const CACHE_GET = `
local v = redis.call('GET', KEYS[1])
if not v then return {} end
return {v, redis.call('TTL', KEYS[1])}`;
