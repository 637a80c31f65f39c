-- A signed-in socket leaves. KEYS[1]=user sockets ARGV[1]=socketId -> {removed 0|1, count,
-- version µs when the user went offline (last socket), else 0}. The version is Redis's clock, as in
-- user-add.lua.
local changed = redis.call('SREM', KEYS[1], ARGV[1])
local count = redis.call('SCARD', KEYS[1])
if changed == 1 and count == 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return {changed, count, now}
end
return {changed, count, 0}
