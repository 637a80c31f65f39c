-- Fragment: publishes member_removed (`payload`) to `topic` when remove-member.lua found the last
-- connection of the user the caller expected (`expectedUser`); another user is left to the caller.
-- Published here for the reason given in announce-added.lua.
if gone and user == expectedUser then redis.call(pubCmd, topic, payload) end
