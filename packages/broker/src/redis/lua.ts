import { readFileSync } from 'node:fs';

/**
 * packages/broker/lua/, outside src/ so that this relative URL holds both from src/redis/ (tests run
 * the sources) and from dist/redis/ (production runs the build): the package ships the folder.
 */
export const LUA_DIR = new URL('../../lua/', import.meta.url);

/** Every script the code runs, by its file name in packages/broker/lua/ (without `.lua`). */
export const LuaScript = {
  Join: 'join',
  Leave: 'leave',
  PresenceAdd: 'presence-add',
  PresenceRemove: 'presence-remove',
  PresenceJoin: 'presence-join',
  PresenceLeave: 'presence-leave',
  UserAdd: 'user-add',
  UserRemove: 'user-remove',
  CacheGet: 'cache-get',
  LeaseRenew: 'lease-renew',
  WebhookTransition: 'webhook-transition',
  OutboxAppend: 'outbox-append',
  RestoreReported: 'restore-reported',
  HistoryPublish: 'history-publish',
  HistoryRead: 'history-read',
} as const;
export type LuaScript = (typeof LuaScript)[keyof typeof LuaScript];

/**
 * A line `-- #include fragments/<name>.lua` stands for that fragment's text: the presence scripts
 * share their member bookkeeping this way. One level only (a fragment includes nothing), so a
 * script reads as its own lines plus the fragments it names.
 */
const INCLUDE = /^-- #include (fragments\/[a-z-]+\.lua)$/gm;

/** The script's source with its fragments in place; throws if a file is missing. */
export function readLuaScript(name: string, dir: URL = LUA_DIR): string {
  const source = readFileSync(new URL(`${name}.lua`, dir), 'utf8');
  return source.replace(INCLUDE, (_, fragment: string) => readFileSync(new URL(fragment, dir), 'utf8').trimEnd());
}

/** Every script, read once when the module loads (a missing file fails the start, not a later command). */
export const LUA: Readonly<Record<LuaScript, string>> = Object.freeze(
  Object.fromEntries(Object.values(LuaScript).map((name) => [name, readLuaScript(name)])) as Record<LuaScript, string>,
);
