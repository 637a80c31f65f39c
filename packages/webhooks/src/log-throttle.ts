/**
 * Lets a log line through at most once per `intervalMs` per key, so a flood of the same event (a full
 * buffer dropping thousands of events a second) logs a line a second, not thousands. Keys must come
 * from a bounded set (app id, event name), since each is remembered.
 */
export class LogThrottle {
  readonly #last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Undefined: hold this line back. Otherwise log it, with the returned number of lines held back since the last one. */
  take(key: string): number | undefined {
    const at = this.now();
    const last = this.#last.get(key);
    if (last !== undefined && at - last.at < this.intervalMs) {
      last.held++;
      return undefined;
    }
    this.#last.set(key, { at, held: 0 });
    return last?.held ?? 0;
  }
}
