import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './apps.js';
import { loadConfig } from './config.js';

const dir = () => mkdtempSync(join(tmpdir(), 'herald-config-'));

describe('loadConfig', () => {
  it('applies the ops-contract defaults and generates credentials once, then reuses them', () => {
    const file = join(dir(), 'creds.json');
    const a = loadConfig({ PUSH_CREDENTIALS_FILE: file });
    expect(a).toMatchObject({ host: '0.0.0.0', wsPort: 3131, apiPort: 3232, logLevel: 'info', activityTimeout: 30 });
    expect(a.webhookDelayMs).toBeGreaterThanOrEqual(1000);
    expect(a.webhookDelayMs).toBeLessThanOrEqual(3000);
    expect(a.credentials).toEqual({ file, created: true });
    const app = a.apps[0]!;
    expect(app.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(app.key).toMatch(/^[0-9a-f]{20}$/);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ id: app.id, key: app.key, secret: app.secret });
    const b = loadConfig({ PUSH_CREDENTIALS_FILE: file });
    expect(b.credentials).toEqual({ file, created: false });
    expect(b.apps[0]).toMatchObject({ id: app.id, key: app.key, secret: app.secret });
    expect(loadConfig({ PUSH_CREDENTIALS_FILE: join(dir(), 'c.json') }).apps[0]!.secret).not.toBe(app.secret);
  });

  it('uses PUSH_APP_* and PUSH_WEBHOOK_URL for the default app', () => {
    const c = loadConfig({ PUSH_APP_ID: '7', PUSH_APP_KEY: 'k', PUSH_APP_SECRET: 'secret-secret', PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/h' });
    expect(c.apps).toHaveLength(1);
    expect(c.apps[0]).toMatchObject({ id: '7', key: 'k', webhooks: [{ url: 'http://127.0.0.1:9/h' }], limits: DEFAULT_LIMITS });
    expect(c.credentials).toBeUndefined();
  });

  it('refuses partial credentials, and clustered mode without credentials', () => {
    expect(() => loadConfig({ PUSH_APP_ID: '7' })).toThrow(/must be set together/);
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379' })).toThrow(/clustered mode/);
  });

  it('lists every bad variable at once', () => {
    try {
      loadConfig({ PUSH_WS_PORT: 'x', PUSH_WEBHOOK_DELAY_MS: '50', LOG_LEVEL: 'loud' });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      const msg = (err as Error).message;
      expect(msg).toContain('PUSH_WS_PORT');
      expect(msg).toContain('PUSH_WEBHOOK_DELAY_MS');
      expect(msg).toContain('LOG_LEVEL');
    }
  });

  it('reads PUSH_APPS_FILE with per-app limits and webhooks', () => {
    const file = join(dir(), 'apps.json');
    writeFileSync(file, JSON.stringify([
      { id: 1, key: 'k1', secret: 'secret-one', maxPresenceMembers: 5, webhooks: [{ url: 'http://127.0.0.1:1/w', events: ['channel_occupied'], format: 'webman' }] },
      { id: 'b', key: 'k2', secret: 'secret-two', clientEvents: false, enabled: false },
    ]));
    const c = loadConfig({ PUSH_APPS_FILE: file });
    expect(c.apps.map((a) => a.id)).toEqual(['1', 'b']);
    expect(c.apps[0]!.limits.maxPresenceMembers).toBe(5);
    expect(c.apps[0]!.limits.maxEventPayloadBytes).toBe(10240);
    expect(c.apps[0]!.webhooks).toEqual([{ url: 'http://127.0.0.1:1/w', events: ['channel_occupied'], format: 'webman' }]);
    expect(c.apps[1]).toMatchObject({ clientEvents: false, enabled: false });
  });

  it.each([
    ['not JSON', '{oops', /not valid JSON/],
    ['an empty list', '[]', /\[\]|at least|too small|>=1/i],
    ['a missing secret', JSON.stringify([{ id: '1', key: 'k' }]), /\[0\.secret\]/],
    ['a bad webhook url', JSON.stringify([{ id: '1', key: 'k', secret: 'secret-xx', webhooks: [{ url: 'nope' }] }]), /webhooks\.0\.url/],
    ['a duplicate key', JSON.stringify([{ id: '1', key: 'k', secret: 'secret-xx' }, { id: '2', key: 'k', secret: 'secret-yy' }]), /app key k appears twice/],
    ['a negative limit', JSON.stringify([{ id: '1', key: 'k', secret: 'secret-xx', maxPresenceMembers: -1 }]), /maxPresenceMembers/],
  ])('fails the start on a malformed apps file: %s', (_name, text, re) => {
    const file = join(dir(), 'apps.json');
    writeFileSync(file, text);
    expect(() => loadConfig({ PUSH_APPS_FILE: file })).toThrow(re);
  });

  it('names an unreadable apps file', () => {
    expect(() => loadConfig({ PUSH_APPS_FILE: '/nonexistent/apps.json' })).toThrow(/cannot be read/);
  });
});
