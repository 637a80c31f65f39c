-- Fragment: adds a socket's membership of a presence channel (idempotent per socket; a socket that
-- changes user leaves the old one first) and sets `first` to 1 when it is the user's first
-- connection. The including script defines the locals psock, pcount, members (keys), socket,
-- userId and info (user_info JSON, '' when absent).
local first = 0
local prev = redis.call('HGET', psock, socket)
if prev ~= userId then
  if prev then
    if redis.call('HINCRBY', pcount, prev, -1) <= 0 then
      redis.call('HDEL', pcount, prev)
      redis.call('HDEL', members, prev)
    end
  end
  redis.call('HSET', psock, socket, userId)
  if redis.call('HINCRBY', pcount, userId, 1) == 1 then
    redis.call('HSET', members, userId, info)
    first = 1
  end
end
