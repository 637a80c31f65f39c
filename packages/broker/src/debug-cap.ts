import type { DebugConsole, DebugRecord, DebugRecordInput } from './debug.js';

interface Bucket {
  tokens: number;
  at: number;
}

/** How often the skipped counts are reported: the console's "N skipped" at most once a second. */
const REPORT_MS = 1000;

/**
 * A node's per-app budget of debug records: a token bucket of `perSecond` tokens refilled
 * continuously, so a burst of up to `perSecond` passes and a steady flood is cut to `perSecond`.
 * What it refuses is counted per app and handed to `report` once a second (only while there is
 * something to report: no timer runs otherwise).
 */
export class DebugCap {
  readonly #buckets = new Map<string, Bucket>();
  readonly #skipped = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly report: (appId: string, count: number) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** True if the app's record may pass; false (and counted) when over the budget. */
  take(appId: string): boolean {
    const now = this.now();
    let b = this.#buckets.get(appId);
    if (b === undefined) this.#buckets.set(appId, (b = { tokens: this.perSecond, at: now }));
    else if (now > b.at) {
      b.tokens = Math.min(this.perSecond, b.tokens + ((now - b.at) * this.perSecond) / 1000);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return true;
    }
    this.#skipped.set(appId, (this.#skipped.get(appId) ?? 0) + 1);
    if (this.#timer === undefined) {
      this.#timer = setTimeout(() => this.flush(), REPORT_MS);
      this.#timer.unref();
    }
    return false;
  }

  /** Reports every count now (also what the timer does). */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const counts = [...this.#skipped];
    this.#skipped.clear();
    for (const [appId, count] of counts) this.report(appId, count);
  }

  /** The app is no longer watched: its bucket and counts go. */
  forget(appId: string): void {
    this.#buckets.delete(appId);
    this.#skipped.delete(appId);
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#buckets.clear();
    this.#skipped.clear();
  }
}

/** The record with `at` and `node` filled in (the input itself when it has both). */
export function stampRecord(input: DebugRecordInput, node: string): DebugRecord {
  if (input.at !== undefined && input.node !== undefined) return input as DebugRecord;
  return { ...input, at: input.at ?? Date.now(), node: input.node ?? node };
}

/** Tells one console, which is someone else's code: what it throws stays here. */
export function tellRecord(c: DebugConsole, record: DebugRecord): void {
  try {
    c.record(record);
  } catch {
    // A console's failure is its own; producers and the other consoles carry on.
  }
}

export function tellSkipped(c: DebugConsole, count: number): void {
  try {
    c.skipped(count);
  } catch {
    // As in tellRecord.
  }
}
