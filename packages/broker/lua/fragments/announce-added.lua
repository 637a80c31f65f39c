-- Fragment: publishes member_added (`payload`) to `topic` when add-member.lua set `first`.
-- Member events are published by the script that decides them (pubCmd is PUBLISH, or SPUBLISH on
-- Redis Cluster; the topic shares the channel's hash tag), so every node receives a channel's
-- member_added and member_removed in the order Redis decided them. Published by the caller after
-- the script returned, a leave on one node and the same user's join on another could be announced
-- in the opposite order, and every client would drop a user who is present.
if first == 1 then redis.call(pubCmd, topic, payload) end
