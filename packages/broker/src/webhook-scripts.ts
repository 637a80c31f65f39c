/** The Lua scripts of the clustered webhook pipeline (RedisWebhooks runs them). */

/**
 * KEYS = subs, members, wh (reported state), whq (decided transitions); ARGV = channel, presence 0|1.
 * Compares the channel's stored state with what was last reported and, in the same atomic step,
 * records the new reported state and queues the events: so among several workers checking at
 * once exactly one decides each transition. Order: occupied, member changes, vacated. Returns
 * { queued, seq, occupied 0|1, reported members... }.
 */
export const TRANSITION = `
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
return out`;

/**
 * KEYS = outbox; ARGV = cap, all-or-nothing 0|1, entry count, then per entry its field count and its
 * field/value strings. Every append to the outbox goes through here. Acknowledged entries are deleted,
 * so XLEN is the undelivered backlog: entries are appended while it is under the cap and refused
 * beyond (all-or-nothing: every entry or none). MAXLEN ~ is only a backstop; it never trims while the
 * cap holds, so nothing undelivered is trimmed away. Returns how many were appended (0: full).
 */
export const OUTBOX_APPEND = `
local room = tonumber(ARGV[1]) - redis.call('XLEN', KEYS[1])
local count = tonumber(ARGV[3])
if room <= 0 or (ARGV[2] == '1' and count > room) then return 0 end
local i = 4
local added = 0
while added < count and added < room do
  local n = tonumber(ARGV[i])
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, i + 1, i + n))
  i = i + n + 1
  added = added + 1
end
return added`;

/**
 * KEYS = wh (reported state); ARGV = seq, occupied 0|1, reported members... Writes a worker's copy of
 * a channel's reported state back when Redis holds an older one (its seq is lower) or none: after
 * Redis lost its data, or a failover to a replica that had not received the last decisions. Every
 * worker may restore its copy; the highest seq wins, so the result is the latest decision.
 */
export const RESTORE_REPORTED = `
local seq = tonumber(ARGV[1])
if tonumber(redis.call('HGET', KEYS[1], 'seq') or '0') >= seq then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'seq', seq)
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'occ', '1') end
for i = 3, #ARGV do redis.call('HSET', KEYS[1], 'm:' .. ARGV[i], '1') end
if ARGV[2] ~= '1' and #ARGV < 3 then redis.call('EXPIRE', KEYS[1], 86400) end
return 1`;
