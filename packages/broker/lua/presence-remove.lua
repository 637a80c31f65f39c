-- A socket leaves a presence channel's members. KEYS = psock, pcount, members, topic; ARGV =
-- socketId, pubCmd, member_removed payload, the payload's userId. Returns {} when the socket was not
-- in, {userId} when the user has other connections left, {userId, userInfoJson} when its last
-- connection left (and then has published the payload if the user is the expected one).
local psock, pcount, members, topic = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local socket, pubCmd, payload, expectedUser = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
-- #include fragments/remove-member.lua
-- #include fragments/announce-removed.lua
if not user then return {} end
if gone then return {user, gone} end
return {user}
