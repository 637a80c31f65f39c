-- Fragment: removes a socket's membership of a presence channel. Afterwards `user` is nil when the
-- socket was no member, and `gone` holds the user_info JSON ('' when none) when it was the user's
-- last connection, else nil. The including script defines the locals psock, pcount, members
-- (keys) and socket.
local user = redis.call('HGET', psock, socket)
local gone = nil
if user then
  redis.call('HDEL', psock, socket)
  if redis.call('HINCRBY', pcount, user, -1) <= 0 then
    redis.call('HDEL', pcount, user)
    gone = redis.call('HGET', members, user) or ''
    redis.call('HDEL', members, user)
  end
end
