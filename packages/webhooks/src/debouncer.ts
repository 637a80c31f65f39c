/** Receives a settled state change. Must not throw: it runs from a timer. */
export type DebounceReport<T> = (key: string, state: boolean, context: T) => void;

interface Entry<T> {
  /** Last state handed to `report` (false until the first report). */
  reported: boolean;
  current: boolean;
  timer: NodeJS.Timeout | undefined;
  /** The context passed with the latest `set`, handed to `report`. */
  context: T;
}

/**
 * Keyed debouncer of boolean state (channel occupied, member present).
 *
 * Guarantees, per key:
 * - a change is reported only once it has held for `delayMs`; returning to the last reported state within
 *   that time cancels it, so a page reload (leave and come back) reports nothing;
 * - reports alternate true/false starting with true: never the same state twice in a row;
 * - a key whose last report is false and has no pending change is forgotten, so memory grows only with
 *   keys currently reported true or pending.
 * Timers are unref'd: a pending change never keeps the process alive; call `flush()` on shutdown.
 * With `delayMs <= 0` changes are reported synchronously.
 */
export class Debouncer<T = undefined> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #delayMs: number;
  readonly #report: DebounceReport<T>;
  #pending = 0;

  constructor(delayMs: number, report: DebounceReport<T>) {
    this.#delayMs = delayMs;
    this.#report = report;
  }

  /** Keys tracked: reported true or with a pending change. */
  get size(): number {
    return this.#entries.size;
  }

  /** Changes waiting for their delay. */
  get pending(): number {
    return this.#pending;
  }

  set(key: string, state: boolean, context: T): void {
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      if (!state) return; // unknown keys are reported false already
      entry = { reported: false, current: false, timer: undefined, context };
      this.#entries.set(key, entry);
    }
    entry.context = context;
    if (entry.current === state) return;
    entry.current = state;
    this.#clearTimer(entry);
    if (state === entry.reported) {
      if (!entry.reported) this.#entries.delete(key);
      return;
    }
    if (this.#delayMs <= 0) {
      this.#settle(key, entry);
      return;
    }
    entry.timer = setTimeout(() => {
      entry.timer = undefined;
      this.#pending--;
      this.#settle(key, entry);
    }, this.#delayMs).unref();
    this.#pending++;
  }

  /** Reports every pending change now, in the order the keys were first seen. */
  flush(): void {
    for (const [key, entry] of this.#entries) {
      if (entry.timer === undefined) continue;
      this.#clearTimer(entry);
      this.#settle(key, entry);
    }
  }

  /** Forgets everything without reporting (pending changes are lost). */
  clear(): void {
    for (const entry of this.#entries.values()) this.#clearTimer(entry);
    this.#entries.clear();
  }

  #clearTimer(entry: Entry<T>): void {
    if (entry.timer === undefined) return;
    clearTimeout(entry.timer);
    entry.timer = undefined;
    this.#pending--;
  }

  #settle(key: string, entry: Entry<T>): void {
    const changed = entry.current !== entry.reported;
    entry.reported = entry.current;
    if (!entry.reported) this.#entries.delete(key);
    if (changed) this.#report(key, entry.reported, entry.context);
  }
}
