import { describe, expect, it } from 'vitest';
import { AppRegistry, appFromDocument, documentFromApp, validateAppDocument } from './apps.js';
import { ConfigError } from './config-error.js';
import { loadConfig } from './config.js';

/** Message recovery's settings: the apps' `history` field and the environment's app's variables. */
const secret = 'a'.repeat(8) + 'b'.repeat(8) + '0123456789';

describe('the history field of an app', () => {
  it('validates, round-trips through an app, and turns off at 0', () => {
    const check = validateAppDocument({ id: '1', key: 'k', secret, history: { size: 100, ttlSeconds: 600, channelPrefixes: ['chat-'] } });
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    const app = appFromDocument(check.doc);
    expect(app.history).toEqual({ size: 100, ttlSeconds: 600, channelPrefixes: ['chat-'] });
    expect(documentFromApp(app)).toEqual(check.doc);
    const off = validateAppDocument({ id: '1', key: 'k', secret, history: { size: 0, ttlSeconds: 600 } });
    expect(off.ok && appFromDocument(off.doc).history).toBeUndefined();
  });

  it('names bad values', () => {
    const check = validateAppDocument({ id: '1', key: 'k', secret, history: { size: -1, ttlSeconds: 1e9, channelPrefixes: [''], extra: 1 } });
    expect(check.ok).toBe(false);
    const fields = check.ok ? [] : check.issues.map((i) => i.field).sort();
    expect(fields).toEqual(['history', 'history.channelPrefixes.0', 'history.size', 'history.ttlSeconds']);
  });

  it('is updated in place and removed by an update without it', () => {
    const doc = (history?: object) => {
      const c = validateAppDocument({ id: '1', key: 'k', secret, ...(history ? { history } : {}) });
      if (!c.ok) throw new Error('invalid');
      return appFromDocument(c.doc);
    };
    const reg = new AppRegistry([doc({ size: 5, ttlSeconds: 5 })]);
    const held = reg.byId('1')!;
    reg.set('1', doc({ size: 9, ttlSeconds: 5 }));
    expect(held.history).toEqual({ size: 9, ttlSeconds: 5 });
    reg.set('1', doc());
    expect(held.history).toBeUndefined();
  });
});

describe('PUSH_HISTORY_SIZE and PUSH_HISTORY_TTL_SECONDS', () => {
  const creds = { PUSH_APP_ID: '7', PUSH_APP_KEY: 'k', PUSH_APP_SECRET: 'secret-secret-0123456789' };
  it('are off by default and give the environment app its history together', () => {
    expect(loadConfig(creds).apps[0]!.history).toBeUndefined();
    expect(loadConfig({ ...creds, PUSH_HISTORY_SIZE: '50', PUSH_HISTORY_TTL_SECONDS: '120' }).apps[0]!.history).toEqual({ size: 50, ttlSeconds: 120 });
    expect(() => loadConfig({ ...creds, PUSH_HISTORY_SIZE: '50' })).toThrow(ConfigError);
    expect(() => loadConfig({ ...creds, PUSH_HISTORY_SIZE: '-1', PUSH_HISTORY_TTL_SECONDS: '1' })).toThrow(ConfigError);
  });
});
