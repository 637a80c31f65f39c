import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_LIMITS } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { ConfigError } from './config-error.js';
import { loadConfig } from './config.js';

const dir = () => mkdtempSync(join(tmpdir(), 'herald-config-'));
const creds = { PUSH_APP_ID: '7', PUSH_APP_KEY: 'k', PUSH_APP_SECRET: 'secret-secret-0123456789' };

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
    const c = loadConfig({ PUSH_APP_ID: '7', PUSH_APP_KEY: 'k', PUSH_APP_SECRET: 'secret-secret-0123456789', PUSH_WEBHOOK_URL: 'http://127.0.0.1:9/h' });
    expect(c.apps).toHaveLength(1);
    expect(c.apps[0]).toMatchObject({ id: '7', key: 'k', webhooks: [{ url: 'http://127.0.0.1:9/h' }], limits: DEFAULT_LIMITS });
    expect(c.credentials).toBeUndefined();
  });

  it('refuses partial credentials, and clustered mode with neither credentials nor a store that can hold apps', () => {
    expect(() => loadConfig({ PUSH_APP_ID: '7' })).toThrow(/must be set together/);
    expect(() => loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379', PUSH_APPS_STORE: 'file' })).toThrow(/clustered mode/);
  });

  it('chooses the app store: the file with PUSH_APPS_FILE, else Redis clustered and a local file embedded', () => {
    const redis = 'redis://127.0.0.1:6379';
    const clustered = loadConfig({ REDIS_URL: redis });
    expect([clustered.appsStore, clustered.apps]).toEqual([{ kind: 'redis' }, []]);
    const embedded = loadConfig({ ...creds, PUSH_CREDENTIALS_FILE: '/tmp/x/credentials.json' });
    expect(embedded.appsStore).toEqual({ kind: 'local', file: '/tmp/x/apps.json' });
    expect(loadConfig({ ...creds, REDIS_URL: redis, PUSH_APPS_STORE: 'file' }).appsStore.kind).toBe('file');
    const sql = loadConfig({ REDIS_URL: redis, PUSH_APPS_STORE: 'postgres://h/db', PUSH_APPS_SOKETI_TABLE: 'apps' });
    expect(sql.appsStore).toEqual({ kind: 'sql', url: 'postgres://h/db', soketiTable: 'apps', pollMs: 200 });
  });

  it('refuses an unknown store, soketi mode without SQL, Redis without Redis, and a file with another store', () => {
    expect(() => loadConfig({ ...creds, PUSH_APPS_STORE: 'mongodb://h' })).toThrow(/PUSH_APPS_STORE/);
    expect(() => loadConfig({ ...creds, PUSH_APPS_SOKETI_TABLE: 'apps' })).toThrow(/PUSH_APPS_SOKETI_TABLE/);
    expect(() => loadConfig({ ...creds, PUSH_APPS_STORE: 'redis' })).toThrow(/needs Redis/);
    expect(() => loadConfig({ ...creds, PUSH_APPS_STORE: 'mysql://h/db', PUSH_APPS_SOKETI_TABLE: 'apps; drop' })).toThrow(/PUSH_APPS_SOKETI_TABLE/);
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
    writeFileSync(
      file,
      JSON.stringify([
        {
          id: 1,
          key: 'k1',
          secret: 'secret-one-0123456789',
          maxPresenceMembers: 5,
          webhooks: [{ url: 'http://127.0.0.1:1/w', events: ['channel_occupied'], format: 'webman' }],
        },
        { id: 'b', key: 'k2', secret: 'secret-two-0123456789', clientEvents: false, enabled: false },
      ]),
    );
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
    ['a bad webhook url', JSON.stringify([{ id: '1', key: 'k', secret: 'secret-xx-0123456789', webhooks: [{ url: 'nope' }] }]), /webhooks\.0\.url/],
    [
      'a duplicate key',
      JSON.stringify([
        { id: '1', key: 'k', secret: 'secret-xx-0123456789' },
        { id: '2', key: 'k', secret: 'secret-yy-0123456789' },
      ]),
      /app key k appears twice/,
    ],
    ['a negative limit', JSON.stringify([{ id: '1', key: 'k', secret: 'secret-xx-0123456789', maxPresenceMembers: -1 }]), /maxPresenceMembers/],
  ])('fails the start on a malformed apps file: %s', (_name, text, re) => {
    const file = join(dir(), 'apps.json');
    writeFileSync(file, text);
    expect(() => loadConfig({ PUSH_APPS_FILE: file })).toThrow(re);
  });

  it('names an unreadable apps file', () => {
    expect(() => loadConfig({ PUSH_APPS_FILE: '/nonexistent/apps.json' })).toThrow(/cannot be read/);
  });
});

describe('secrets and values that would open a door', () => {
  const env = (secret: string) => ({ PUSH_APP_ID: '7', PUSH_APP_KEY: 'k', PUSH_APP_SECRET: secret });

  it.each([
    ['the .env.example placeholder', 'change-me-to-a-long-random-secret', /PUSH_APP_SECRET is a placeholder/],
    ['any change-me value', 'CHANGE-ME-please-0123456789', /PUSH_APP_SECRET is a placeholder/],
    ['a 15-character secret', 'a'.repeat(15), /PUSH_APP_SECRET is shorter than 16 characters/],
  ])('refuses PUSH_APP_SECRET: %s (PUSH_ERR_CONFIG, naming the variable)', (_name, secret, re) => {
    try {
      loadConfig(env(secret));
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).code).toBe('PUSH_ERR_CONFIG');
      expect((err as Error).message).toMatch(re);
      // The refusal names the variable, never the value.
      expect((err as Error).message).not.toContain(secret);
    }
  });

  it('accepts a 16-character secret', () => {
    expect(loadConfig(env('0123456789abcdef')).apps[0]!.secret).toBe('0123456789abcdef');
  });

  it('names each app of the apps file whose secret is weak', () => {
    const file = join(dir(), 'apps.json');
    writeFileSync(
      file,
      JSON.stringify([
        { id: 'good', key: 'k1', secret: '0123456789abcdef0123' },
        { id: 'short', key: 'k2', secret: 'secret-x' },
        { id: 'placeholder', key: 'k3', secret: 'app-secret-at-least-16-chars' },
      ]),
    );
    const msg = (() => {
      try {
        loadConfig({ PUSH_APPS_FILE: file });
      } catch (err) {
        return (err as Error).message;
      }
      return '';
    })();
    expect(msg).toMatch(/secret of app short is shorter than 16/);
    expect(msg).toMatch(/secret of app placeholder is a placeholder/);
    expect(msg).not.toMatch(/app good/);
  });

  it.each(['he{r}ald', 'a*', 'what?', 'x[1]', 'two words', 'tab\there', 'back\\slash'])('refuses PUSH_REDIS_PREFIX %j', (prefix) => {
    expect(() => loadConfig({ ...env('0123456789abcdef'), REDIS_URL: 'redis://127.0.0.1:6379', PUSH_REDIS_PREFIX: prefix })).toThrow(/PUSH_REDIS_PREFIX/);
  });

  it('accepts an ordinary PUSH_REDIS_PREFIX', () => {
    expect(loadConfig({ ...env('0123456789abcdef'), REDIS_URL: 'redis://127.0.0.1:6379', PUSH_REDIS_PREFIX: 'herald-prod:eu1' }).redis?.prefix).toBe(
      'herald-prod:eu1',
    );
  });

  it('refuses an admin token shorter than 16 characters, and leaves it unset by default', () => {
    expect(() => loadConfig({ ...env('0123456789abcdef'), PUSH_ADMIN_TOKEN: 'short' })).toThrow(/PUSH_ADMIN_TOKEN/);
    expect(loadConfig(env('0123456789abcdef')).adminToken).toBeUndefined();
  });

  it('has bounded defaults for the API listener, the frame queue and the webhook buffers', () => {
    const c = loadConfig(env('0123456789abcdef'));
    expect(c.api).toEqual({ headersTimeoutMs: 10_000, requestTimeoutMs: 30_000, maxConnections: 1000 });
    expect(c.maxQueuedFrames).toBe(100);
    expect(c.webhookBuffers).toEqual({ outboxMax: 100_000, maxInFlight: 1000 });
  });
});
