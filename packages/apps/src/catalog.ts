import { appFromDocument, type App, type AppRegistry } from '@herald/config';
import type { AppStore, StoredApp } from './store.js';

export interface CatalogLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface CatalogOptions {
  store: AppStore;
  /** The registry the node serves from; the catalog keeps it equal to the store. */
  registry: AppRegistry;
  /** Apps the environment defines (PUSH_APP_*): served as given; a stored app with their id or key is ignored. */
  pinned?: readonly App[];
  /** Everything is read again this often, so a lost notification heals. @default 30000 */
  resyncMs?: number;
  /** /ready turns 503 when the last successful read is older than this. @default 3600000 */
  staleAfterMs?: number;
  log: CatalogLog;
}

export interface CatalogStats {
  apps: number;
  /** Milliseconds since the store was last read whole, successfully. */
  lastSyncAgeMs: number;
  /** Reads of the store that failed since the start. */
  failures: number;
  /** Changes applied (an app added, changed or removed) since the start. */
  applied: number;
}

/** The catalog's figures as gauges (name, help, value), for the gateway's and the worker's /metrics alike. */
export function catalogGauges(stats: () => CatalogStats): { name: string; help: string; value: () => number }[] {
  return [
    { name: 'herald_apps', help: 'Apps this node serves', value: () => stats().apps },
    { name: 'herald_apps_changes_applied', help: 'App changes (added, changed, removed) this node applied since it started', value: () => stats().applied },
    { name: 'herald_apps_sync_age_seconds', help: 'Seconds since the apps were last read whole from the store', value: () => stats().lastSyncAgeMs / 1000 },
    { name: 'herald_apps_store_failures', help: 'Reads of the app store that failed since the start', value: () => stats().failures },
  ];
}

/**
 * The node's copy of the apps: read whole at start, then kept current by the store's notifications
 * (one app read again per change) and by a full read every `resyncMs`. Lookups on the hot path read
 * the registry, never the store; a store that is down leaves the copy as it was. Reads are applied
 * one at a time, and a read older than what was applied (its version lower) is dropped.
 */
export class AppCatalog {
  readonly #o: Required<Omit<CatalogOptions, 'pinned'>> & { pinned: readonly App[] };
  /** What was applied of each stored app: a re-created app (another createdAt) starts again at version 1. */
  readonly #versions = new Map<string, { version: number; createdAt: string }>();
  #queue: Promise<void> = Promise.resolve();
  #timer: NodeJS.Timeout | undefined;
  #lastGoodAt = 0;
  #failures = 0;
  #applied = 0;
  #closed = false;
  #resyncWaiting: Promise<void> | undefined;
  readonly #ignored = new Set<string>();

  constructor(o: CatalogOptions) {
    this.#o = { resyncMs: 30_000, staleAfterMs: 3_600_000, pinned: [], ...o };
  }

  get store(): AppStore {
    return this.#o.store;
  }

  /** The apps the environment defines. */
  get pinned(): readonly App[] {
    return this.#o.pinned;
  }

  /** True for an app the environment defines (the admin API cannot change it). */
  isPinned(id: string): boolean {
    return this.#o.pinned.some((p) => p.id === id);
  }

  /**
   * Reads the store until it answers (or `timeoutMs` passes: throws the last error), then listens
   * for changes and starts the periodic resync.
   */
  async start(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await this.#resync();
        break;
      } catch (err) {
        if (Date.now() >= deadline || this.#closed) throw err;
        this.#o.log.warn({ err: (err as Error).message, store: this.#o.store.kind }, 'app store unreachable at start; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
    // Failures are counted and logged by the queue; the next notification or resync tries again.
    await this.#o.store.watch((ids) => {
      if (ids === undefined) void this.resync();
      else for (const id of ids) void this.refresh(id);
    });
    this.#timer = setInterval(() => void this.resync(), this.#o.resyncMs);
    this.#timer.unref();
  }

  /** Reads one app again (after a notification, or a change this node made), in turn with the others. */
  refresh(id: string): Promise<void> {
    return this.#enqueue(async () => {
      const stored = await this.#o.store.get(id);
      if (stored === undefined) this.#remove(id);
      else this.#put(stored);
    });
  }

  /**
   * Reads everything again, in turn. A resync already waiting its turn covers this one: while the
   * store hangs, the periodic ones do not pile up behind it.
   */
  resync(): Promise<void> {
    if (this.#resyncWaiting !== undefined) return this.#resyncWaiting;
    const run = this.#enqueue(() => {
      this.#resyncWaiting = undefined;
      return this.#resync();
    });
    this.#resyncWaiting = run;
    return run;
  }

  /** The copy is young enough to serve from (the last full read is within staleAfterMs). */
  fresh(): boolean {
    return Date.now() - this.#lastGoodAt < this.#o.staleAfterMs;
  }

  stats(): CatalogStats {
    return { apps: this.#o.registry.size, lastSyncAgeMs: Date.now() - this.#lastGoodAt, failures: this.#failures, applied: this.#applied };
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    await this.#queue;
    await this.#o.store.close();
  }

  #enqueue(job: () => Promise<void>): Promise<void> {
    const run = this.#queue.then(async () => {
      if (this.#closed) return;
      try {
        await job();
      } catch (err) {
        this.#failures++;
        this.#o.log.warn({ err: (err as Error).message, store: this.#o.store.kind }, 'reading the app store failed; serving the apps already known');
      }
    });
    this.#queue = run;
    return run;
  }

  async #resync(): Promise<void> {
    const list = await this.#o.store.list();
    const ids = new Set(list.map((a) => a.doc.id));
    for (const app of this.#o.registry.apps) if (!ids.has(app.id)) this.#remove(app.id);
    for (const p of this.#o.pinned) if (this.#o.registry.byId(p.id) === undefined) this.#o.registry.set(p.id, p);
    for (const stored of list) this.#put(stored);
    this.#lastGoodAt = Date.now();
  }

  #put(stored: StoredApp): void {
    const { doc, version, createdAt } = stored;
    const known = this.#versions.get(doc.id);
    if (known !== undefined && known.createdAt === createdAt && version <= known.version && this.#o.registry.byId(doc.id) !== undefined) return;
    const pinned = this.#o.pinned.find((p) => p.id === doc.id || p.key === doc.key);
    if (pinned !== undefined) {
      if (!this.#ignored.has(doc.id)) {
        this.#ignored.add(doc.id);
        this.#o.log.warn({ appId: doc.id }, 'a stored app has the id or key of the app the environment defines (PUSH_APP_*): the stored one is ignored');
      }
      return;
    }
    this.#versions.set(doc.id, { version, createdAt });
    const changes = this.#o.registry.set(doc.id, appFromDocument(doc));
    this.#applied += changes.added.length + changes.updated.length + changes.removed.length;
  }

  #remove(id: string): void {
    if (this.isPinned(id)) return;
    this.#versions.delete(id);
    this.#applied += this.#o.registry.set(id, undefined).removed.length;
  }
}
