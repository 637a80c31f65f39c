-- A socket subscribes. KEYS[1]=subs ARGV[1]=socketId ARGV[2]=nodeId -> {added 0|1, count}
local added = redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
return {added, redis.call('HLEN', KEYS[1])}
