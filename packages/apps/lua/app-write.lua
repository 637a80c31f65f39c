-- Creates, updates or deletes one app, with its audit entry and the change notification, in one
-- step: no node can read a document without its version, or a version without its audit entry.
--
-- KEYS: docs (id -> document JSON), meta (id -> "version|createdAt|updatedAt"), keys (key -> id),
--       audit (list, newest first), seq (audit counter)
-- ARGV: op (create|update|delete), id, key, document JSON, expected version ('' = any), now (ISO),
--       audit JSON object (action, appId, actor, changes), publish command, topic, audit length cap
-- Returns {'ok', version, createdAt, updatedAt} | {'exists', field} | {'notfound'} | {'conflict', version}
local docs, meta, keys, audit, seq = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local op, id, key, doc, expected, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local auditBody, publish, topic, auditMax = ARGV[7], ARGV[8], ARGV[9], tonumber(ARGV[10])

local current = redis.call('HGET', meta, id)
local version, createdAt
if current then
  local v, c = string.match(current, '^(%d+)|([^|]*)|')
  version, createdAt = tonumber(v), c
end

if op == 'create' then
  if current then return { 'exists', 'id' } end
  if redis.call('HEXISTS', keys, key) == 1 then return { 'exists', 'key' } end
  version, createdAt = 0, now
else
  if not current then return { 'notfound' } end
  if expected ~= '' and tonumber(expected) ~= version then return { 'conflict', version } end
end

-- The key the app had: the document is read, never re-encoded (cjson would turn [] into {}).
local oldKey
if current then oldKey = cjson.decode(redis.call('HGET', docs, id)).key end

if op == 'delete' then
  redis.call('HDEL', docs, id)
  redis.call('HDEL', meta, id)
  if redis.call('HGET', keys, oldKey) == id then redis.call('HDEL', keys, oldKey) end
else
  if op == 'update' and key ~= oldKey then
    local holder = redis.call('HGET', keys, key)
    if holder and holder ~= id then return { 'exists', 'key' } end
    redis.call('HDEL', keys, oldKey)
  end
  version = version + 1
  redis.call('HSET', docs, id, doc)
  redis.call('HSET', meta, id, version .. '|' .. createdAt .. '|' .. now)
  redis.call('HSET', keys, key, id)
end

local n = redis.call('INCR', seq)
redis.call('LPUSH', audit, '{"seq":' .. n .. ',"at":"' .. now .. '","version":' .. version .. ',' .. string.sub(auditBody, 2))
redis.call('LTRIM', audit, 0, auditMax - 1)
redis.call(publish, topic, id)
return { 'ok', version, createdAt, now }
