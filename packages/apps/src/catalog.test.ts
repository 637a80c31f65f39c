import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppRegistry, createApp, validateAppDocument, type AppDocument } from '@herald/config';
import { describe, expect, it } from 'vitest';
import { AppCatalog } from './catalog.js';
import { createLocalStore } from './local-store.js';
import { StoreUnavailableError, type AppStore } from './store.js';

const secret = '0123456789abcdef0123';
const doc = (id: string, key: string, extra: Record<string, unknown> = {}): AppDocument => {
  const c = validateAppDocument({ id, key, secret, ...extra });
  if (!c.ok) throw new Error('invalid');
  return c.doc;
};
const audit = (appId: string) => ({ action: 'create' as const, appId, actor: 'test', changes: {} });
const quiet = { info: () => undefined, warn: () => undefined };
const tmpStore = () => createLocalStore(join(mkdtempSync(join(tmpdir(), 'herald-apps-')), 'apps.json'));

describe('AppCatalog', () => {
  it('loads the store beside the pinned app, and follows changes announced by the store', async () => {
    const store = tmpStore();
    await store.create(doc('1', 'k1'), audit('1'));
    const pinned = createApp('env', 'env-key', secret);
    const registry = new AppRegistry([pinned]);
    const catalog = new AppCatalog({ store, registry, pinned: [pinned], log: quiet });
    await catalog.start();
    expect(registry.apps.map((a) => a.id).sort()).toEqual(['1', 'env']);
    const created = await store.create(doc('2', 'k2'), audit('2'));
    await expect.poll(() => registry.byId('2')?.key).toBe('k2');
    await store.update('2', { ...created.doc, enabled: false }, 1, audit('2'));
    await expect.poll(() => registry.byId('2')?.enabled).toBe(false);
    await store.delete('1', undefined, audit('1'));
    await expect.poll(() => registry.byId('1')).toBeUndefined();
    await catalog.close();
  });

  it('ignores a stored app with the id or key of the pinned one, and never removes the pinned one', async () => {
    const store = tmpStore();
    await store.create(doc('env', 'other'), audit('env'));
    await store.create(doc('3', 'env-key'), audit('3'));
    const pinned = createApp('env', 'env-key', secret);
    const registry = new AppRegistry([pinned]);
    const catalog = new AppCatalog({ store, registry, pinned: [pinned], log: quiet });
    await catalog.start();
    expect(registry.apps).toEqual([pinned]);
    expect(registry.byKey('other')).toBeUndefined();
    await catalog.close();
  });

  it('keeps serving what it has while the store fails, and says it is stale once the copy is too old', async () => {
    const inner = tmpStore();
    await inner.create(doc('1', 'k1'), audit('1'));
    let down = false;
    const store: AppStore = {
      ...inner,
      list: () => (down ? Promise.reject(new StoreUnavailableError('down')) : inner.list()),
      get: (id) => (down ? Promise.reject(new StoreUnavailableError('down')) : inner.get(id)),
    };
    const registry = new AppRegistry([]);
    const catalog = new AppCatalog({ store, registry, staleAfterMs: 1000, log: quiet });
    await catalog.start();
    expect(catalog.fresh()).toBe(true);
    down = true;
    await catalog.resync();
    await catalog.refresh('1');
    expect(registry.byId('1')?.key).toBe('k1');
    expect(catalog.stats().failures).toBe(2);
    await expect.poll(() => catalog.fresh(), { timeout: 5000 }).toBe(false);
    down = false;
    await catalog.resync();
    expect(catalog.fresh()).toBe(true);
    await catalog.close();
  });

  it('applies a re-created app, whose version starts at 1 again', async () => {
    const store = tmpStore();
    const first = await store.create(doc('1', 'k1'), audit('1'));
    const registry = new AppRegistry([]);
    const catalog = new AppCatalog({ store, registry, log: quiet });
    await catalog.start();
    await store.update('1', { ...first.doc, maxConnections: 9 }, 1, audit('1'));
    await catalog.refresh('1');
    expect(registry.byId('1')?.limits.maxConnections).toBe(9);
    await store.delete('1', undefined, audit('1'));
    await store.create(doc('1', 'k1', { maxConnections: 2 }), audit('1'));
    await catalog.resync();
    expect(registry.byId('1')?.limits.maxConnections).toBe(2);
    await catalog.close();
  });
});
