import { describe, expect, it } from 'vitest';
import { AppRegistry, appFromDocument, createApp, documentFromApp, validateAppDocument, type AppChanges } from './apps.js';

const secret = 'a'.repeat(8) + 'b'.repeat(8) + '0123456789';
const app = (id: string, key: string, extra: Record<string, unknown> = {}) => {
  const check = validateAppDocument({ id, key, secret, ...extra });
  if (!check.ok) throw new Error(JSON.stringify(check.issues));
  return appFromDocument(check.doc);
};

describe('validateAppDocument', () => {
  it('names every bad field at once: unknown, wrong type, out of range, weak secret, non-http webhook', () => {
    const check = validateAppDocument({ id: 'a b', key: 'k', secret: 'short', colour: 1, maxConnections: -1, webhooks: [{ url: 'javascript:alert(1)' }] });
    expect(check.ok).toBe(false);
    const fields = check.ok ? [] : check.issues.map((i) => i.field).sort();
    expect(fields).toEqual(['colour', 'id', 'maxConnections', 'secret', 'webhooks.0.url']);
  });

  it('fills the defaults, and a document round-trips through an app', () => {
    const check = validateAppDocument({ id: 7, key: 'k', secret, maxPresenceMembers: 5, previousSecrets: [{ secret: 'x'.repeat(20), expiresAt: 5 }] });
    expect(check.ok).toBe(true);
    if (!check.ok) return;
    expect(check.doc).toMatchObject({ id: '7', enabled: true, webhooks: [], clientEvents: true, cacheTtlSeconds: 1800 });
    const a = appFromDocument(check.doc);
    expect(a.limits.maxPresenceMembers).toBe(5);
    expect(a.previousSecrets).toEqual([{ secret: 'x'.repeat(20), expiresAt: 5 }]);
    expect(documentFromApp(a)).toEqual(check.doc);
  });
});

describe('AppRegistry', () => {
  it('updates an app in place: what holds the object sees the new fields, the index stays', () => {
    const first = app('1', 'k1', { maxConnections: 5, allowedOrigins: ['https://a.example'] });
    const r = new AppRegistry([first]);
    const seen: AppChanges[] = [];
    r.onChange((c) => seen.push(c));
    r.set('1', app('1', 'k1', { maxConnections: 1, enabled: false }));
    expect(r.byId('1')).toBe(first);
    expect([first.limits.maxConnections, first.enabled, first.allowedOrigins, first.index]).toEqual([1, false, undefined, 0]);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.updated[0]!.before).toMatchObject({ enabled: true, limits: { maxConnections: 5 } });
  });

  it('reports nothing for an identical app; a key change moves the key index', () => {
    const r = new AppRegistry([app('1', 'k1')]);
    const seen: AppChanges[] = [];
    r.onChange((c) => seen.push(c));
    r.set('1', app('1', 'k1'));
    expect(seen).toEqual([]);
    r.set('1', app('1', 'k2'));
    expect([r.byKey('k1'), r.byKey('k2')?.id]).toEqual([undefined, '1']);
  });

  it('never reuses an index; replaceAll removes what is missing', () => {
    const r = new AppRegistry([app('1', 'k1'), app('2', 'k2')]);
    r.set('2', undefined);
    r.set('3', app('3', 'k3'));
    expect(r.byId('3')!.index).toBe(2);
    const changes = r.replaceAll([app('3', 'k3'), app('4', 'k4')]);
    expect(changes.removed.map((a) => a.id)).toEqual(['1']);
    expect(changes.added.map((a) => a.id)).toEqual(['4']);
    expect(r.apps.map((a) => a.id)).toEqual(['3', '4']);
  });

  it('a new app whose key another id held replaces that app', () => {
    const r = new AppRegistry([createApp('1', 'shared', secret)]);
    const changes = r.set('2', app('2', 'shared'));
    expect(changes.removed.map((a) => a.id)).toEqual(['1']);
    expect(r.byKey('shared')?.id).toBe('2');
  });
});
