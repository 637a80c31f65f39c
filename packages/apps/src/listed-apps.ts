import type { StoredApp } from './store.js';

/**
 * What a store's last full read parsed and validated, by id, with the version line (version and
 * creation time) it was read at. Every node reads the whole set every PUSH_APPS_RESYNC_MS; with
 * thousands of apps, validating every document each time costs hundreds of milliseconds of a
 * gateway's event loop, so a full read lists the version lines alone and fetches the documents of
 * the ids whose line changed.
 */
export class ListedApps {
  readonly #byId = new Map<string, { line: string; app: StoredApp }>();

  /** Forgets the ids not in `lines`, and returns those whose document must be fetched. */
  changed(lines: ReadonlyMap<string, string>): string[] {
    for (const id of this.#byId.keys()) if (!lines.has(id)) this.#byId.delete(id);
    return [...lines.keys()].filter((id) => this.#byId.get(id)?.line !== lines.get(id));
  }

  /**
   * Keeps what was fetched for `id` (undefined: gone or invalid). A document written between the
   * two reads is kept with the older line, so the next read fetches it again.
   */
  set(id: string, line: string, app: StoredApp | undefined): void {
    if (app === undefined) this.#byId.delete(id);
    else this.#byId.set(id, { line, app });
  }

  /** The apps as last read, by id (shared, not copied: a store's list() is read, never changed). */
  all(): StoredApp[] {
    return [...this.#byId.values()].map((l) => l.app).sort((a, b) => (a.doc.id < b.doc.id ? -1 : a.doc.id > b.doc.id ? 1 : 0));
  }
}
