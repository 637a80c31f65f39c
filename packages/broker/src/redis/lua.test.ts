import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LUA, LUA_DIR, LuaScript, readLuaScript } from './lua.js';

const luaFiles = (sub: string) =>
  readdirSync(new URL(sub, LUA_DIR))
    .filter((f) => f.endsWith('.lua'))
    .map((f) => f.slice(0, -'.lua'.length))
    .sort();

describe('Lua scripts', () => {
  it('loads every script file of packages/broker/lua/, and names no script without a file', () => {
    expect(Object.keys(LUA).sort()).toEqual(luaFiles('./'));
    expect(Object.values(LuaScript).sort()).toEqual(luaFiles('./'));
  });

  it('resolves every include, and every fragment is included by some script', () => {
    const included = new Set<string>();
    for (const name of Object.values(LuaScript)) {
      const raw = readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
      for (const m of raw.matchAll(/^-- #include fragments\/([a-z-]+)\.lua$/gm)) included.add(m[1]!);
      expect(LUA[name]).not.toMatch(/#include/);
      expect(LUA[name].trim().length).toBeGreaterThan(0);
    }
    expect([...included].sort()).toEqual(luaFiles('./fragments/'));
  });

  it('puts the fragment text where the include line was', () => {
    const fragment = readFileSync(new URL('fragments/add-member.lua', LUA_DIR), 'utf8').trimEnd();
    expect(readLuaScript(LuaScript.PresenceAdd)).toContain(fragment);
  });

  it('fails on a script name without a file', () => {
    expect(() => readLuaScript('no-such-script')).toThrow(/ENOENT/);
  });
});
