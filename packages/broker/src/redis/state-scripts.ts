import { defineScript } from './define-script.js';
import { LuaScript } from './lua.js';
import type { RedisClient } from './redis-client.js';

/**
 * The scripts of the shared state, registered once per client. Each touches keys of one hash tag
 * only (one channel, or one user), so they run on Redis Cluster too.
 */
export function defineStateScripts(client: RedisClient) {
  return {
    join: defineScript(client, 'heraldJoin', LuaScript.Join, 1),
    leave: defineScript(client, 'heraldLeave', LuaScript.Leave, 1),
    presenceAdd: defineScript(client, 'heraldPresenceAdd', LuaScript.PresenceAdd, 4),
    presenceRemove: defineScript(client, 'heraldPresenceRemove', LuaScript.PresenceRemove, 4),
    presenceJoin: defineScript(client, 'heraldPresenceJoin', LuaScript.PresenceJoin, 5),
    presenceLeave: defineScript(client, 'heraldPresenceLeave', LuaScript.PresenceLeave, 5),
    userAdd: defineScript(client, 'heraldSetAdd', LuaScript.UserAdd, 1),
    userRemove: defineScript(client, 'heraldSetRemove', LuaScript.UserRemove, 1),
    cacheGet: defineScript(client, 'heraldCacheGet', LuaScript.CacheGet, 1),
  };
}
export type StateScripts = ReturnType<typeof defineStateScripts>;
