-- The last event of a cache channel with its TTL. KEYS[1]=cache -> {value, ttl seconds} or {}
local v = redis.call('GET', KEYS[1])
if not v then return {} end
return {v, redis.call('TTL', KEYS[1])}
