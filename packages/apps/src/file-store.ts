import type { AppDocument } from '@herald/config';
import { ReadOnlyStoreError, type AppStore, type StoredApp } from './store.js';

/**
 * The apps of PUSH_APPS_FILE (or of the environment alone): read at start, never written. To change
 * them, edit the file and restart, or move to a store that can be written.
 */
export function createFileStore(docs: readonly AppDocument[], readOnly: string): AppStore {
  const at = new Date().toISOString();
  const apps: StoredApp[] = docs.map((doc) => ({ doc, version: 1, createdAt: at, updatedAt: at }));
  const refuse = () => Promise.reject(new ReadOnlyStoreError(readOnly));
  return {
    kind: 'file',
    readOnly,
    list: () => Promise.resolve(apps.map((a) => structuredClone(a))),
    get: (id) => Promise.resolve(((a) => (a ? structuredClone(a) : undefined))(apps.find((a) => a.doc.id === id))),
    create: refuse,
    update: refuse,
    delete: refuse,
    audit: () => Promise.resolve([]),
    watch: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}
