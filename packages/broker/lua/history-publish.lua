-- Publishes an event of a history channel: numbers it, keeps it, publishes it with its position,
-- in one step, so offsets follow the order of publication. KEYS = meta, log, topic; ARGV = ttl
-- seconds, meta ttl seconds, candidate epoch, size, pubCmd, exceptSocketId, frame (a JSON object).
-- Returns the event's offset.
-- #include fragments/history-epoch.lua
local size, pubCmd, except, frame = tonumber(ARGV[4]), ARGV[5], ARGV[6], ARGV[7]
offset = redis.call('HINCRBY', meta, 'o', 1)
local out = string.sub(frame, 1, -2) .. ',"position":"' .. epoch .. ':' .. offset .. '"}'
redis.call('RPUSH', log, now .. '\n' .. out)
redis.call('LTRIM', log, -size, -1)
redis.call('PEXPIRE', log, ttlMs)
redis.call('HSET', meta, 't', now)
redis.call(pubCmd, KEYS[3], except .. '\n' .. out)
return offset
