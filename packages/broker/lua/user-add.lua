-- A socket signs in as a user. KEYS[1]=user sockets ARGV[1]=socketId -> {added 0|1, count,
-- version µs when the user went online (first socket), else 0}.
-- Redis's clock in µs, read inside the script that decides a user's online/offline transition: the
-- transitions of one user are decided one after another on the shard of its key, so their times
-- increase (the version of ControlCommand 'user-presence'; no key is kept per user for it).
local changed = redis.call('SADD', KEYS[1], ARGV[1])
local count = redis.call('SCARD', KEYS[1])
if changed == 1 and count == 1 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
  return {changed, count, now}
end
return {changed, count, 0}
