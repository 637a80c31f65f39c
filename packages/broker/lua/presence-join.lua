-- join.lua then presence-add.lua then the member list, in one call. KEYS = subs, psock, pcount,
-- members, topic; ARGV = socketId, nodeId, userId, userInfoJson, pubCmd, member_added payload.
-- Returns {added, count, first, members (HGETALL)}.
local subs, psock, pcount, members, topic = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local socket, nodeId, userId, info, pubCmd, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local added = redis.call('HSETNX', subs, socket, nodeId)
local count = redis.call('HLEN', subs)
-- #include fragments/add-member.lua
-- #include fragments/announce-added.lua
return {added, count, first, redis.call('HGETALL', members)}
