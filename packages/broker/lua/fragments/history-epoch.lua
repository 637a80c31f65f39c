-- A channel's history, as history-publish.lua and history-read.lua share it. KEYS[1] = meta (hash:
-- e = epoch, o = offset of the latest event, t = ms of the latest publication), KEYS[2] = log (list
-- of `<ms>\n<frame>`, oldest first; its last entry is offset o). Sets meta, log, now, ttlMs, epoch
-- and offset; the meta exists (a new epoch when it did not) and no expired entry is left.
local meta, log = KEYS[1], KEYS[2]
local ttlMs, metaTtl, candidate = tonumber(ARGV[1]) * 1000, tonumber(ARGV[2]), ARGV[3]
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local epoch = redis.call('HGET', meta, 'e')
if epoch then
  local o, t = tonumber(redis.call('HGET', meta, 'o')), tonumber(redis.call('HGET', meta, 't') or '0')
  -- The log vanished while its TTL (refreshed at every publication) still ran: evicted, so events
  -- may be lost. A new epoch, so that no client takes what follows for continuity.
  if o > 0 and now - t < ttlMs - 1000 and redis.call('EXISTS', log) == 0 then epoch = false end
end
if not epoch then
  -- A new history (Redis restarted empty, the meta evicted or expired): whatever log is left
  -- belongs to the old epoch.
  epoch = candidate
  redis.call('DEL', log)
  redis.call('HSET', meta, 'e', epoch, 'o', 0, 't', now)
end
local offset = tonumber(redis.call('HGET', meta, 'o'))
-- Entries are in publication order: the expired ones are at the head.
while true do
  local head = redis.call('LINDEX', log, 0)
  if not head then break end
  local at = string.find(head, '\n', 1, true)
  if at and tonumber(string.sub(head, 1, at - 1)) >= now - ttlMs then break end
  redis.call('LPOP', log)
end
redis.call('EXPIRE', meta, metaTtl)
