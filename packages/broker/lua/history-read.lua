-- Reads a channel's history. KEYS = meta, log; ARGV = ttl seconds, meta ttl seconds, candidate
-- epoch, after (the entries after this offset; -1: from the oldest), limit, backward (1: the
-- newest `limit`, else the oldest). Returns {epoch, offset, oldest held, first offset returned,
-- entries...}. A channel read before its first event gets its epoch here (offset 0), so that
-- subscribers hold a position from the start.
-- #include fragments/history-epoch.lua
local after, limit, backward = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6] == '1'
local n = redis.call('LLEN', log)
local oldest = offset - n + 1
local from, to = 0, n - 1
if after >= 0 then from = math.max(0, after - oldest + 1) end
if from > to then return {epoch, offset, oldest, offset + 1} end
if backward then from = math.max(from, to - limit + 1) else to = math.min(to, from + limit - 1) end
local out = {epoch, offset, oldest, oldest + from}
for _, e in ipairs(redis.call('LRANGE', log, from, to)) do out[#out + 1] = e end
return out
