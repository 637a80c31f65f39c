/**
 * A fixed-capacity list that forgets its oldest items: the debug console keeps the newest records
 * in view without its memory growing with the stream.
 */
export class RingBuffer<T> {
  readonly #items: (T | undefined)[];
  #start = 0;
  #size = 0;
  /** Items pushed out to make room, since creation or the last clear. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError('capacity must be a positive integer');
    this.#items = new Array<T | undefined>(capacity);
  }

  get size(): number {
    return this.#size;
  }

  push(...items: T[]): void {
    for (const item of items) {
      if (this.#size < this.capacity) {
        this.#items[(this.#start + this.#size) % this.capacity] = item;
        this.#size++;
      } else {
        this.#items[this.#start] = item;
        this.#start = (this.#start + 1) % this.capacity;
        this.dropped++;
      }
    }
  }

  /** Oldest first. */
  toArray(): T[] {
    const out: T[] = [];
    for (let i = 0; i < this.#size; i++) out.push(this.#items[(this.#start + i) % this.capacity] as T);
    return out;
  }

  clear(): void {
    this.#items.fill(undefined);
    this.#start = 0;
    this.#size = 0;
    this.dropped = 0;
  }
}
