import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@herald/test-support';
import { StoreUnavailableError, type AppStore, type PollingStoreOptions } from '@herald/apps';
import type { FieldIssue } from '@herald/config';
import { describeAppStoreConformance } from '../conformance.js';
import { appDocument, auditInput, uniqueId } from './app-documents.js';
import { documentedSql, runScript } from './doc-blocks.js';
import type { TestDatabase } from '@herald/test-support';

/** What differs between PostgreSQL and MySQL/MariaDB in the SQL store tests. */
export interface SqlHarness {
  name: string;
  /** The id of the hand-edit block of docs/app-stores-sql.md for this database. */
  handEditBlock: string;
  createDatabase(): Promise<TestDatabase>;
  createStore(url: string, opts?: PollingStoreOptions): Promise<AppStore>;
  /** The URL of a server that is not there. */
  unreachableUrl(port: number): string;
  /** Writes a row straight into herald_apps, past the store's checks. */
  insertRow(db: TestDatabase, id: string, key: string, doc: unknown): Promise<void>;
  /** A new login with every right on the database. */
  createLogin(db: TestDatabase, user: string): Promise<void>;
  /** Refuses the login's new connections and ends its open ones. */
  cutLogin(db: TestDatabase, user: string): Promise<void>;
  /** How many connections the login has open. */
  connectionsOf(db: TestDatabase, user: string): Promise<number>;
  restoreLogin(db: TestDatabase, user: string): Promise<void>;
  dropLogin(db: TestDatabase, user: string): Promise<void>;
}

/** The conformance suite and the SQL-only behaviour, on one database created for the run. */
export function describeSqlStore(h: SqlHarness): void {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await h.createDatabase();
  });
  afterAll(async () => {
    await db.drop();
  });

  describeAppStoreConformance(h.name, async () => {
    const store = await h.createStore(db.url);
    const other = await h.createStore(db.url);
    return { store, other, cleanup: async () => void (await Promise.all([store.close(), other.close()])) };
  });

  describe(`${h.name} app store`, () => {
    it('creates its schema exactly once when several nodes start at once, and starting again changes nothing', async () => {
      await using fresh = await h.createDatabase();
      const first = await Promise.all(Array.from({ length: 4 }, () => h.createStore(fresh.url)));
      const a = appDocument(uniqueId());
      await first[0]?.create(a, auditInput('create', a.id));
      const migrations = await fresh.query<{ version: number }>('SELECT version FROM herald_schema_migrations ORDER BY version');
      expect(migrations.map((m) => Number(m.version))).toEqual([1]);
      await Promise.all(first.map((s) => s.close()));

      const again = await h.createStore(fresh.url);
      expect((await fresh.query('SELECT version FROM herald_schema_migrations')).length).toBe(1);
      expect((await again.get(a.id))?.doc).toEqual(a);
      expect((await again.audit(10)).map((e) => e.appId)).toEqual([a.id]);
      await again.close();
    });

    it('leaves a stored row that fails validation out of list and get, and reports it', async () => {
      const invalid: [string, FieldIssue[]][] = [];
      const store = await h.createStore(db.url, { onInvalid: (id, issues) => invalid.push([id, issues]) });
      try {
        const good = appDocument(uniqueId());
        await store.create(good, auditInput('create', good.id));
        const weak = { ...appDocument(uniqueId()), secret: 'short' };
        await h.insertRow(db, weak.id, weak.key, weak);
        const stranger = appDocument(uniqueId());
        const misfiled = uniqueId();
        await h.insertRow(db, misfiled, `k-${misfiled}`, stranger);

        const ids = (await store.list()).map((s) => s.doc.id);
        expect(ids).toContain(good.id);
        expect(ids).not.toContain(weak.id);
        expect(ids).not.toContain(misfiled);
        expect(ids).not.toContain(stranger.id);
        expect(invalid.find(([id]) => id === weak.id)?.[1]).toEqual([{ field: 'secret', message: expect.stringMatching(/shorter/) }]);
        expect(invalid.find(([id]) => id === misfiled)?.[1].map((i) => i.field)).toEqual(['id', 'key']);

        invalid.length = 0;
        expect(await store.get(weak.id)).toBeUndefined();
        expect(invalid.map(([id]) => id)).toEqual([weak.id]);
      } finally {
        await store.close();
      }
    });

    it('refuses to write a document that fails validation, and writes nothing', async () => {
      const store = await h.createStore(db.url);
      try {
        const doc = { ...appDocument(uniqueId()), secret: 'short' };
        await expect(store.create(doc, auditInput('create', doc.id))).rejects.toThrow(/app document is invalid: secret: the secret is shorter/);
        expect(await store.get(doc.id)).toBeUndefined();
        const good = appDocument(uniqueId());
        await store.create(good, auditInput('create', good.id));
        await expect(store.update(good.id, { ...good, id: uniqueId() }, 1, auditInput('update', good.id))).rejects.toThrow(/id: .* is not the id/);
        await expect(store.update(good.id, { ...good, webhooks: [{ url: 'ftp://x' }] }, 1, auditInput('update', good.id))).rejects.toThrow(/webhooks\.0\.url/);
        expect(await store.get(good.id)).toMatchObject({ version: 1, doc: good });
        expect((await store.audit(50)).filter((e) => e.appId === good.id || e.appId === doc.id)).toHaveLength(1);
      } finally {
        await store.close();
      }
    });

    it('keeps a secret out of the audit even when a caller puts it in the changes', async () => {
      const store = await h.createStore(db.url);
      try {
        const a = appDocument(uniqueId());
        await store.create(a, auditInput('create', a.id, { secret: a.secret, nested: [{ s: a.secret }] }));
        const [entry] = await store.audit(1);
        expect(entry).toMatchObject({ appId: a.id, changes: { secret: '(changed)', nested: [{ s: '(changed)' }] } });
      } finally {
        await store.close();
      }
    });

    it('keeps keys that differ only in case or trailing spaces apart', async () => {
      const store = await h.createStore(db.url);
      try {
        const base = `Key-${uniqueId()}`;
        const keys = [base, base.toLowerCase(), `${base} `];
        for (const key of keys) {
          const doc = appDocument(uniqueId(), { key });
          await store.create(doc, auditInput('create', doc.id));
        }
        expect(
          (await store.list())
            .map((s) => s.doc.key)
            .filter((k) => keys.includes(k))
            .sort(),
        ).toEqual([...keys].sort());
      } finally {
        await store.close();
      }
    });

    it("applies the documented hand edit, and its notification reaches a node's watcher", async () => {
      const store = await h.createStore(db.url);
      try {
        const a = appDocument(uniqueId());
        await store.create(a, auditInput('create', a.id));
        const seen: (string[] | undefined)[] = [];
        await store.watch((ids) => seen.push(ids));
        await runScript(db, documentedSql(h.handEditBlock).replaceAll("'my-app'", `'${a.id}'`));
        await expect.poll(() => seen.some((ids) => ids === undefined || ids.includes(a.id))).toBe(true);
        expect(await store.get(a.id)).toMatchObject({ version: 2, doc: { ...a, maxConnections: 500 } });
      } finally {
        await store.close();
      }
    });

    it('rejects with StoreUnavailableError when the server is not there', async () => {
      const port = await freePort();
      await expect(h.createStore(h.unreachableUrl(port))).rejects.toBeInstanceOf(StoreUnavailableError);
    });

    it('fails with StoreUnavailableError while its connections are cut, recovers by itself, and its watcher reports what changed meanwhile', async () => {
      const user = `herald_cut_${uniqueId('u').slice(2)}`;
      await h.createLogin(db, user);
      const errors: Error[] = [];
      const writer = await h.createStore(db.url);
      const node = await h.createStore(db.urlAs(user), { onError: (err) => errors.push(err) });
      try {
        const seen: (string[] | undefined)[] = [];
        await node.watch((ids) => seen.push(ids));
        const a = appDocument(uniqueId());
        await writer.create(a, auditInput('create', a.id));
        await expect.poll(() => seen.some((ids) => ids === undefined || ids.includes(a.id))).toBe(true);

        await h.cutLogin(db, user);
        await expect.poll(() => h.connectionsOf(db, user)).toBe(0);
        await expect(node.list()).rejects.toBeInstanceOf(StoreUnavailableError);
        await expect(node.get(a.id)).rejects.toBeInstanceOf(StoreUnavailableError);

        // Made while the node can neither listen nor poll: only catching up can find it.
        seen.length = 0;
        await writer.update(a.id, { ...a, enabled: false }, 1, auditInput('update', a.id, { enabled: false }));
        await h.restoreLogin(db, user);

        await expect.poll(() => seen.includes(undefined)).toBe(true);
        expect(await node.get(a.id)).toMatchObject({ version: 2, doc: { enabled: false } });
        expect(errors.length).toBeGreaterThan(0);
      } finally {
        await Promise.all([writer.close(), node.close()]);
        await h.dropLogin(db, user);
      }
    });
  });
}
