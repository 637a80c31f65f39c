-- A socket unsubscribes. KEYS[1]=subs ARGV[1]=socketId -> {removed 0|1, count}
local removed = redis.call('HDEL', KEYS[1], ARGV[1])
return {removed, redis.call('HLEN', KEYS[1])}
