-- A socket joins a presence channel's members. KEYS = psock, pcount, members, topic; ARGV =
-- socketId, userId, userInfoJson ('' when absent), pubCmd, member_added payload. Returns 1 when this
-- is the user's first connection in the channel (and then has published the payload). Idempotent
-- per socket.
local psock, pcount, members, topic = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local socket, userId, info, pubCmd, payload = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
-- #include fragments/add-member.lua
-- #include fragments/announce-added.lua
return first
