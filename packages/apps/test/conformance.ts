import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AppExistsError, AppNotFoundError, AppVersionConflictError, type AppStore } from '@herald/apps';
import { appDocument, auditInput, fullDocument, newSecret, uniqueId } from './support/app-documents.js';

export interface ConformanceStores {
  store: AppStore;
  /** A second store instance on the same backing data, as another node would have. */
  other: AppStore;
  cleanup: () => Promise<void>;
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

/** How long a change may take to reach another node's watcher (issue #14). */
const WATCH_DEADLINE_MS = 1000;

/**
 * The behaviour every writable AppStore shares, whatever keeps the data. `make` is called before
 * each test; the backing data may hold apps of earlier tests, so each test uses ids of its own.
 */
export function describeAppStoreConformance(name: string, make: () => Promise<ConformanceStores>): void {
  describe(`${name} store conformance`, () => {
    let store: AppStore;
    let other: AppStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, other, cleanup } = await make());
    });
    afterEach(async () => {
      await cleanup();
    });

    it('creates apps at version 1 and reads them back by id and in the list, on both nodes', async () => {
      const a = appDocument(uniqueId());
      const b = appDocument(uniqueId());
      const created = await store.create(a, auditInput('create', a.id));
      await store.create(b, auditInput('create', b.id));
      expect(created).toMatchObject({ doc: a, version: 1 });
      expect(created.createdAt).toMatch(ISO);
      expect(created.updatedAt).toBe(created.createdAt);
      expect(await store.get(a.id)).toEqual(created);
      expect(await other.get(a.id)).toEqual(created);
      const listed = (await other.list()).filter((s) => s.doc.id === a.id || s.doc.id === b.id);
      expect(listed.map((s) => s.doc).sort((x, y) => x.id.localeCompare(y.id))).toEqual([a, b].sort((x, y) => x.id.localeCompare(y.id)));
      expect(await store.get(uniqueId('missing'))).toBeUndefined();
    });

    it('round-trips a document with every field exactly', async () => {
      const doc = fullDocument(uniqueId());
      await store.create(doc, auditInput('create', doc.id));
      expect((await other.get(doc.id))?.doc).toEqual(doc);
      expect((await other.list()).find((s) => s.doc.id === doc.id)?.doc).toEqual(doc);
    });

    it('refuses a second app with an existing id or key (AppExistsError naming the field)', async () => {
      const a = appDocument(uniqueId());
      await store.create(a, auditInput('create', a.id));
      const sameId = appDocument(a.id, { key: `other-${a.key}` });
      await expect(other.create(sameId, auditInput('create', a.id))).rejects.toMatchObject({ constructor: AppExistsError, field: 'id', value: a.id });
      const sameKey = appDocument(uniqueId(), { key: a.key });
      await expect(other.create(sameKey, auditInput('create', sameKey.id))).rejects.toMatchObject({ constructor: AppExistsError, field: 'key', value: a.key });
      expect(await store.get(sameKey.id)).toBeUndefined();
      expect((await store.get(a.id))?.doc).toEqual(a);
    });

    it('updates at the current version only (AppVersionConflictError otherwise)', async () => {
      const a = appDocument(uniqueId());
      const v1 = await store.create(a, auditInput('create', a.id));
      // Read whole once before the change: a store that keeps its last full read must see it next time.
      expect((await store.list()).find((s) => s.doc.id === a.id)).toEqual(v1);
      const changed = { ...a, enabled: false, maxConnections: 7 };
      const v2 = await other.update(a.id, changed, 1, auditInput('update', a.id, { enabled: false, maxConnections: 7 }));
      expect(v2).toMatchObject({ doc: changed, version: 2, createdAt: v1.createdAt });
      expect(Date.parse(v2.updatedAt)).toBeGreaterThanOrEqual(Date.parse(v1.updatedAt));
      expect(await store.get(a.id)).toEqual(v2);
      await expect(store.update(a.id, { ...a, enabled: true }, 1, auditInput('update', a.id))).rejects.toMatchObject({
        constructor: AppVersionConflictError,
        id: a.id,
        expected: 1,
        actual: 2,
      });
      expect((await store.get(a.id))?.doc).toEqual(changed);
      expect((await store.list()).find((s) => s.doc.id === a.id)).toEqual(v2);
    });

    it("refuses an update that takes another app's key, and changes nothing", async () => {
      const a = appDocument(uniqueId());
      const b = appDocument(uniqueId());
      await store.create(a, auditInput('create', a.id));
      await store.create(b, auditInput('create', b.id));
      await expect(store.update(b.id, { ...b, key: a.key }, 1, auditInput('update', b.id, { key: a.key }))).rejects.toMatchObject({
        constructor: AppExistsError,
        field: 'key',
        value: a.key,
      });
      expect(await other.get(b.id)).toMatchObject({ doc: b, version: 1 });
      // A key given up is free to take.
      const freed = await store.update(a.id, { ...a, key: `moved-${a.key}` }, 1, auditInput('update', a.id));
      expect(freed.version).toBe(2);
      expect((await store.update(b.id, { ...b, key: a.key }, 1, auditInput('update', b.id))).doc.key).toBe(a.key);
    });

    it('deletes at a given version or at any, and reports a missing app (AppNotFoundError)', async () => {
      const a = appDocument(uniqueId());
      const b = appDocument(uniqueId());
      await store.create(a, auditInput('create', a.id));
      await store.create(b, auditInput('create', b.id));
      await store.update(a.id, { ...a, enabled: false }, 1, auditInput('update', a.id));
      await expect(other.delete(a.id, 1, auditInput('delete', a.id))).rejects.toMatchObject({ constructor: AppVersionConflictError, expected: 1, actual: 2 });
      expect(await store.get(a.id)).toBeDefined();
      await other.delete(a.id, 2, auditInput('delete', a.id));
      await other.delete(b.id, undefined, auditInput('delete', b.id));
      expect(await store.get(a.id)).toBeUndefined();
      expect(await store.get(b.id)).toBeUndefined();
      expect((await store.list()).filter((s) => s.doc.id === a.id || s.doc.id === b.id)).toEqual([]);
      await expect(store.delete(a.id, undefined, auditInput('delete', a.id))).rejects.toMatchObject({ constructor: AppNotFoundError, id: a.id });
      await expect(store.update(a.id, a, 2, auditInput('update', a.id))).rejects.toMatchObject({ constructor: AppNotFoundError, id: a.id });
      // The id is free again, and starts over at version 1.
      expect((await store.create(a, auditInput('create', a.id))).version).toBe(1);
    });

    it('records every change in the audit, newest first, in pages, with no secret value in it', async () => {
      const id = uniqueId();
      const a = appDocument(id);
      const rotated = newSecret();
      await store.create(a, auditInput('create', id, { key: a.key, secret: '(changed)' }));
      await store.update(id, { ...a, enabled: false }, 1, auditInput('update', id, { enabled: false }));
      await store.update(
        id,
        { ...a, enabled: false, secret: rotated, previousSecrets: [{ secret: a.secret, expiresAt: 1_900_000_000_000 }] },
        2,
        auditInput('rotate-secret', id, { secret: '(changed)' }),
      );
      await store.update(id, { ...a, secret: rotated, maxConnections: 3 }, 3, auditInput('update', id, { enabled: true, maxConnections: 3 }));
      await other.delete(id, 4, auditInput('delete', id));

      // Other tests' entries are older: this test's five are the newest.
      const newest = await other.audit(3);
      const older = await other.audit(3, newest.at(-1)?.seq);
      const mine = [...newest, ...older].slice(0, 5);
      expect(mine.map((e) => [e.action, e.appId, e.version])).toEqual([
        ['delete', id, 4],
        ['update', id, 4],
        ['rotate-secret', id, 3],
        ['update', id, 2],
        ['create', id, 1],
      ]);
      const seqs = [...newest, ...older].map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(mine[0]).toMatchObject({ actor: '203.0.113.7', changes: {} });
      expect(mine[1]?.changes).toEqual({ enabled: true, maxConnections: 3 });
      expect(mine[4]?.changes).toEqual({ key: a.key, secret: '(changed)' });
      for (const e of mine) expect(e.at).toMatch(ISO);
      const text = JSON.stringify(await store.audit(1000));
      expect(text).not.toContain(a.secret);
      expect(text).not.toContain(rotated);
    });

    it('lets exactly one of several concurrent updates at the same version win', async () => {
      const a = appDocument(uniqueId());
      await store.create(a, auditInput('create', a.id));
      const attempts = Array.from({ length: 8 }, (_, i) =>
        (i % 2 === 0 ? store : other).update(a.id, { ...a, maxConnections: i + 1 }, 1, auditInput('update', a.id, { maxConnections: i + 1 })),
      );
      const results = await Promise.allSettled(attempts);
      const won = results.flatMap((r, i) => (r.status === 'fulfilled' ? [i] : []));
      expect(won).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AppVersionConflictError);
      expect(await other.get(a.id)).toMatchObject({ version: 2, doc: { maxConnections: (won[0] ?? -1) + 1 } });
    });

    it(`tells another node's watcher of a change within ${WATCH_DEADLINE_MS} ms`, async () => {
      const seen: { at: number; ids: string[] | undefined }[] = [];
      await other.watch((ids) => seen.push({ at: performance.now(), ids }));
      const a = appDocument(uniqueId());
      const latencies: number[] = [];
      // Three writes of different kinds, each waited for on its own.
      const writes = [
        () => store.create(a, auditInput('create', a.id)),
        () => store.update(a.id, { ...a, enabled: false }, 1, auditInput('update', a.id)),
        () => store.delete(a.id, undefined, auditInput('delete', a.id)),
      ];
      for (const write of writes) {
        seen.length = 0;
        const start = performance.now();
        await write();
        await expect.poll(() => seen.some((s) => s.ids === undefined || s.ids.includes(a.id))).toBe(true);
        const first = seen.find((s) => s.ids === undefined || s.ids.includes(a.id));
        latencies.push((first?.at ?? Infinity) - start);
      }
      console.log(`${name}: a change reached another node's watcher in ${latencies.map((l) => `${l.toFixed(1)} ms`).join(', ')}`);
      for (const l of latencies) expect(l).toBeLessThan(WATCH_DEADLINE_MS);
    });
  });
}
