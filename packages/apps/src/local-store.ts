import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { validateAppDocument, type AppDocument } from '@herald/config';
import { AppExistsError, AppNotFoundError, AppVersionConflictError, type AppStore, type AuditEntry, type AuditInput, type StoredApp } from './store.js';

/** The result of `run` as a promise: what it throws is the rejection (the store's methods never throw synchronously). */
function settle<T>(run: () => T): Promise<T> {
  try {
    return Promise.resolve(run());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/** Audit entries kept in the file. */
const AUDIT_MAX = 1000;

interface LocalFile {
  apps: StoredApp[];
  audit: AuditEntry[];
  seq: number;
}

/**
 * Embedded mode's store: one JSON file beside the generated credentials (git-ignored with them),
 * written whole to a temporary file and renamed over the old one, so a crash never leaves half of
 * it. One process owns it, so watchers are told in-process.
 */
export function createLocalStore(file: string, opts: { onInvalid?: (id: string, problem: string) => void } = {}): AppStore {
  const load = (): LocalFile => {
    if (!existsSync(file)) return { apps: [], audit: [], seq: 0 };
    const data = JSON.parse(readFileSync(file, 'utf8')) as LocalFile;
    const apps = data.apps.flatMap((a) => {
      const check = validateAppDocument(a.doc);
      if (check.ok) return [{ ...a, doc: check.doc }];
      opts.onInvalid?.(String(a.doc?.id), check.issues.map((i) => `${i.field}: ${i.message}`).join('; '));
      return [];
    });
    return { apps, audit: data.audit ?? [], seq: data.seq ?? 0 };
  };
  let data = load();
  const listeners: ((ids: string[] | undefined) => void)[] = [];

  const save = (next: LocalFile) => {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(next, null, 2) + '\n', { mode: 0o600 });
    renameSync(tmp, file);
    data = next;
  };

  /** Applies one change to a copy, saves it with its audit entry, then tells the watchers. */
  const commit = (id: string, apps: StoredApp[], audit: AuditInput, version: number) => {
    const seq = data.seq + 1;
    const entry: AuditEntry = { seq, at: new Date().toISOString(), version, ...audit };
    save({ apps, audit: [entry, ...data.audit].slice(0, AUDIT_MAX), seq });
    for (const l of listeners) l([id]);
  };

  const find = (id: string) => data.apps.find((a) => a.doc.id === id);
  const checkVersion = (id: string, expected: number | undefined) => {
    const current = find(id);
    if (current === undefined) throw new AppNotFoundError(id);
    if (expected !== undefined && expected !== current.version) throw new AppVersionConflictError(id, expected, current.version);
    return current;
  };
  const copy = (a: StoredApp): StoredApp => structuredClone(a);

  return {
    kind: 'local',
    readOnly: undefined,
    list: () => Promise.resolve(data.apps.map(copy)),
    get: (id) => Promise.resolve(((a) => (a ? copy(a) : undefined))(find(id))),
    create(doc: AppDocument, audit) {
      if (find(doc.id)) return Promise.reject(new AppExistsError('id', doc.id));
      if (data.apps.some((a) => a.doc.key === doc.key)) return Promise.reject(new AppExistsError('key', doc.key));
      const now = new Date().toISOString();
      const app: StoredApp = { doc: structuredClone(doc), version: 1, createdAt: now, updatedAt: now };
      commit(doc.id, [...data.apps, app], audit, 1);
      return Promise.resolve(copy(app));
    },
    update: (id, doc, expectedVersion, audit) =>
      settle(() => {
        const current = checkVersion(id, expectedVersion);
        if (data.apps.some((a) => a.doc.key === doc.key && a.doc.id !== id)) throw new AppExistsError('key', doc.key);
        const app: StoredApp = { doc: structuredClone(doc), version: current.version + 1, createdAt: current.createdAt, updatedAt: new Date().toISOString() };
        commit(
          id,
          data.apps.map((a) => (a.doc.id === id ? app : a)),
          audit,
          app.version,
        );
        return copy(app);
      }),
    delete: (id, expectedVersion, audit) =>
      settle(() => {
        const current = checkVersion(id, expectedVersion);
        commit(
          id,
          data.apps.filter((a) => a.doc.id !== id),
          audit,
          current.version,
        );
      }),
    audit(limit, beforeSeq) {
      return Promise.resolve(data.audit.filter((e) => beforeSeq === undefined || e.seq < beforeSeq).slice(0, limit));
    },
    watch(onChange) {
      listeners.push(onChange);
      return Promise.resolve();
    },
    close() {
      listeners.length = 0;
      return Promise.resolve();
    },
  };
}
