-- Every append to the webhook outbox goes through here (RedisWebhooks).
-- KEYS = outbox; ARGV = cap, all-or-nothing 0|1, entry count, then per entry its field count and its
-- field/value strings. Acknowledged entries are deleted, so XLEN is the undelivered backlog: entries
-- are appended while it is under the cap and refused beyond (all-or-nothing: every entry or none).
-- MAXLEN ~ is only a backstop; it never trims while the cap holds, so nothing undelivered is trimmed
-- away. Returns how many were appended (0: full).
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
return added
