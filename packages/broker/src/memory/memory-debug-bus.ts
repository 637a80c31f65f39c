import { DebugCap, stampRecord, tellRecord, tellSkipped } from '../debug-cap.js';
import { DEBUG_NODE_RATE, type DebugBus, type DebugConsole, type DebugRecordInput } from '../debug.js';

export interface MemoryDebugBusOptions {
  /** Stamped on records that do not name their node. */
  nodeId: string;
  /** @default DEBUG_NODE_RATE */
  perSecond?: number;
  /** Clock of the cap, for tests. */
  now?: () => number;
}

/**
 * The embedded node's debug bus: consoles and producers in one process, so the "cluster-wide"
 * flag is whether the app has a console in this map.
 */
export class MemoryDebugBus implements DebugBus {
  readonly #consoles = new Map<string, Set<DebugConsole>>();
  readonly #cap: DebugCap;
  readonly #nodeId: string;

  constructor(opts: MemoryDebugBusOptions) {
    this.#nodeId = opts.nodeId;
    this.#cap = new DebugCap(
      opts.perSecond ?? DEBUG_NODE_RATE,
      (appId, count) => {
        for (const c of this.#consoles.get(appId) ?? []) tellSkipped(c, count);
      },
      opts.now,
    );
  }

  watching(appId: string): boolean {
    return this.#consoles.has(appId);
  }

  emit(appId: string, input: DebugRecordInput): void {
    const set = this.#consoles.get(appId);
    if (set === undefined || !this.#cap.take(appId)) return;
    const record = stampRecord(input, this.#nodeId);
    for (const c of set) tellRecord(c, record);
  }

  open(appId: string, console: DebugConsole): () => void {
    let set = this.#consoles.get(appId);
    if (set === undefined) this.#consoles.set(appId, (set = new Set()));
    // Its own entry: one console object opened twice is closed once per open.
    const entry: DebugConsole = { record: (r) => console.record(r), skipped: (n) => console.skipped(n) };
    set.add(entry);
    return () => {
      const s = this.#consoles.get(appId);
      if (s === undefined || !s.delete(entry) || s.size > 0) return;
      this.#consoles.delete(appId);
      this.#cap.forget(appId);
    };
  }

  close(): Promise<void> {
    this.#consoles.clear();
    this.#cap.close();
    return Promise.resolve();
  }
}
