-- leave.lua then presence-remove.lua, in one call. KEYS = subs, psock, pcount, members, topic;
-- ARGV = socketId, pubCmd, member_removed payload, the payload's userId. Returns {removed, count}
-- when the socket was no member, {removed, count, userId} when the user has other connections left,
-- {removed, count, userId, userInfoJson} when its last connection left.
local subs, psock, pcount, members, topic = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local socket, pubCmd, payload, expectedUser = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local removed = redis.call('HDEL', subs, socket)
local count = redis.call('HLEN', subs)
-- #include fragments/remove-member.lua
-- #include fragments/announce-removed.lua
if not user then return {removed, count} end
if gone then return {removed, count, user, gone} end
return {removed, count, user}
