/**
 * Reads a fingerprint of the data every `intervalMs` and reports `undefined` (read everything)
 * when it differs from the last one read. A failed read (the database is down) is reported to
 * `onError` and the next poll tries again; the fingerprint lives in the database, so a change made
 * while the poller could not read is still found once it can.
 */
export class Poller {
  readonly #intervalMs: number;
  readonly #read: () => Promise<string>;
  readonly #onChange: (ids: string[] | undefined) => void;
  readonly #onError: (err: Error) => void;
  #last: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = false;

  constructor(opts: { intervalMs: number; read: () => Promise<string>; onChange: (ids: string[] | undefined) => void; onError: (err: Error) => void }) {
    this.#intervalMs = opts.intervalMs;
    this.#read = opts.read;
    this.#onChange = opts.onChange;
    this.#onError = opts.onError;
  }

  /** Reads the first fingerprint (rejects when it cannot), then polls. */
  async start(): Promise<void> {
    this.#last = await this.#read();
    this.#schedule();
  }

  /** Stops polling and waits for a poll in flight, so the pool can be ended after it. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    // One poll at a time: the next is timed from the end of the last, so a slow database never
    // has polls queue up.
    this.#timer = setTimeout(() => {
      this.#running = this.#poll().finally(() => {
        this.#running = undefined;
        this.#schedule();
      });
    }, this.#intervalMs);
  }

  async #poll(): Promise<void> {
    let current: string;
    try {
      current = await this.#read();
    } catch (err) {
      if (!this.#stopped) this.#onError(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (this.#stopped || current === this.#last) return;
    this.#last = current;
    this.#onChange(undefined);
  }
}
