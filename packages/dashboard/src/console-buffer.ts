/**
 * What the debug console holds: the newest records (at most `capacity`, the oldest dropped), the
 * records that arrived while paused (kept apart, not shown until resumed), and the counts the page
 * shows. The stream itself stays open while paused: records are kept, only rendering stops.
 */
import { RingBuffer } from './ring.js';
import { matchesFilter, type DebugRecord, type RecordFilter } from './records.js';

export interface ConsoleEntry {
  /** Arrival order: a stable key for the list, unlike `at`, which comes from several clocks. */
  seq: number;
  record: DebugRecord;
}

export class ConsoleBuffer {
  readonly #shown: RingBuffer<ConsoleEntry>;
  readonly #held: RingBuffer<ConsoleEntry>;
  #seq = 0;
  paused = false;
  /** Records the server said it did not send (`skipped` messages), since the last clear. */
  skipped = 0;
  /** Records that arrived while paused, since the pause. */
  arrivedWhilePaused = 0;

  constructor(readonly capacity: number) {
    this.#shown = new RingBuffer(capacity);
    this.#held = new RingBuffer(capacity);
  }

  add(record: DebugRecord): void {
    const entry = { seq: ++this.#seq, record };
    if (this.paused) {
      this.#held.push(entry);
      this.arrivedWhilePaused++;
    } else this.#shown.push(entry);
  }

  addSkipped(count: number): void {
    this.skipped += count;
  }

  pause(): void {
    this.paused = true;
    this.arrivedWhilePaused = 0;
  }

  /** Shows what arrived while paused (the newest `capacity` of it, as if never paused). */
  resume(): void {
    this.paused = false;
    this.#shown.push(...this.#held.toArray());
    this.#held.clear();
    this.arrivedWhilePaused = 0;
  }

  /** Forgets every record and count; the stream and the pause state are unchanged. */
  clear(): void {
    this.#shown.clear();
    this.#held.clear();
    this.skipped = 0;
    this.arrivedWhilePaused = 0;
  }

  /** Records pushed out of view to keep at most `capacity`, since the last clear. */
  get dropped(): number {
    return this.#shown.dropped;
  }

  get size(): number {
    return this.#shown.size;
  }

  /** The shown records that pass the filter, newest first. */
  view(filter: RecordFilter): ConsoleEntry[] {
    const all = this.#shown.toArray();
    const out: ConsoleEntry[] = [];
    for (let i = all.length - 1; i >= 0; i--) if (matchesFilter(all[i]!.record, filter)) out.push(all[i]!);
    return out;
  }
}
