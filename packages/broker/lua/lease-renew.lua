-- A node renews its lease and learns what it was, in one step: a reaper's ZREM landing between a
-- separate read and write would go unnoticed, the write putting a live lease back over state that
-- was removed. KEYS[1]=nodes ARGV[1]=nodeId ARGV[2]=new expiry (ms) -> previous expiry, or nil
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return previous
