import type { RedisClient } from './redis-client.js';
import { LUA, type LuaScript } from './lua.js';

export type ScriptCall = (keys: string[], args: (string | number | Buffer)[]) => Promise<unknown>;

/**
 * Registers a script of packages/broker/lua/ on the client under `command` (ioredis sends EVALSHA
 * and falls back to EVAL once per connection) and returns a call taking the keys and the arguments.
 */
export function defineScript(client: RedisClient, command: string, script: LuaScript, numberOfKeys: number): ScriptCall {
  client.defineCommand(command, { lua: LUA[script], numberOfKeys });
  const fn = (client as unknown as Record<string, (...a: (string | number | Buffer)[]) => Promise<unknown>>)[command]!.bind(client);
  return (keys, args) => fn(...keys, ...args);
}
