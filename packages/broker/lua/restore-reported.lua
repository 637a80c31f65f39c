-- KEYS = wh (reported state); ARGV = seq, occupied 0|1, reported members... Writes a worker's copy of
-- a channel's reported state back when Redis holds an older one (its seq is lower) or none: after
-- Redis lost its data, or a failover to a replica that had not received the last decisions. Every
-- worker may restore its copy; the highest seq wins, so the result is the latest decision.
local seq = tonumber(ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') >= seq then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', seq)
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'occ', '1') end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], 'm:' .. ARGV[i], '1') end
if ARGV[2] ~= '1' and #ARGV < 3 then redis.call('EXPIRE', KEYS[1], 86400) end
return 1
