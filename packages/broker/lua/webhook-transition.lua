-- The channel's webhook transitions, decided once among all workers (RedisWebhooks.decide).
-- KEYS = subs, members, wh (reported state), whq (decided transitions); ARGV = channel, presence 0|1.
-- Compares the channel's stored state with what was last reported and, in the same atomic step,
-- records the new reported state and queues the events: so among several workers checking at
-- once exactly one decides each transition. Order: occupied, member changes, vacated. Returns
-- { queued, seq, occupied 0|1, reported members... }.
local occ = redis.call('EXISTS', KEYS[1]) == 1
local prev = redis.call('HEXISTS', KEYS[3], 'occ') == 1
local events = {}
if occ and not prev then
  events[#events + 1] = cjson.encode({ name = 'channel_occupied', channel = ARGV[1] })
end
if ARGV[2] == '1' then
  local cur = {}
  for _, u in ipairs(redis.call('HKEYS', KEYS[2])) do cur[u] = true end
  local reported = {}
  local fields = redis.call('HKEYS', KEYS[3])
  for _, f in ipairs(fields) do
    if string.sub(f, 1, 2) == 'm:' then reported[string.sub(f, 3)] = true end
  end
  for u in pairs(cur) do
    if not reported[u] then
      redis.call('HSET', KEYS[3], 'm:' .. u, '1')
      events[#events + 1] = cjson.encode({ name = 'member_added', channel = ARGV[1], user_id = u })
    end
  end
  for u in pairs(reported) do
    if not cur[u] then
      redis.call('HDEL', KEYS[3], 'm:' .. u)
      events[#events + 1] = cjson.encode({ name = 'member_removed', channel = ARGV[1], user_id = u })
    end
  end
end
if prev and not occ then
  events[#events + 1] = cjson.encode({ name = 'channel_vacated', channel = ARGV[1] })
end
if occ and not prev then redis.call('HSET', KEYS[3], 'occ', '1') end
if prev and not occ then redis.call('HDEL', KEYS[3], 'occ') end
if #events > 0 then
  local seq = redis.call('HINCRBY', KEYS[3], 'seq', #events)
  for i, e in ipairs(events) do
    redis.call('RPUSH', KEYS[4], (seq - #events + i) .. ' ' .. e)
  end
end
-- An entirely reported-away channel leaves no hash behind (only its sequence).
if redis.call('HLEN', KEYS[3]) == 1 and redis.call('HEXISTS', KEYS[3], 'seq') == 1 and not occ then
  redis.call('EXPIRE', KEYS[3], 86400)
else
  redis.call('PERSIST', KEYS[3])
end
-- What is reported now, for the workers' copy of it (restored if Redis loses it).
local out = { #events, tonumber(redis.call('HGET', KEYS[3], 'seq') or '0'), redis.call('HEXISTS', KEYS[3], 'occ') }
for _, f in ipairs(redis.call('HKEYS', KEYS[3])) do
  if string.sub(f, 1, 2) == 'm:' then out[#out + 1] = string.sub(f, 3) end
end
return out
