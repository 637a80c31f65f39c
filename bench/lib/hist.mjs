// Log-linear latency histogram (values in microseconds), mergeable across processes.
// 16 sub-buckets per power of two: a reported percentile is within ~3% of the true value.
const SUB = 16;
const SIZE = 16 + 44 * SUB;

export class Hist {
  constructor(counts) {
    this.counts = counts ? Uint32Array.from(counts) : new Uint32Array(SIZE);
    this.n = 0;
    this.max = 0;
    this.sum = 0;
    if (counts) for (const c of this.counts) this.n += c;
  }

  static index(v) {
    if (v < 16) return v < 0 ? 0 : Math.floor(v);
    const e = Math.floor(Math.log2(v));
    const m = Math.floor(v / 2 ** (e - 4)) & 15;
    const i = 16 + (e - 4) * SUB + m;
    return i >= SIZE ? SIZE - 1 : i;
  }

  static value(i) {
    if (i < 16) return i + 0.5;
    const e = Math.floor((i - 16) / SUB) + 4;
    const m = (i - 16) % SUB;
    const lo = 2 ** e + m * 2 ** (e - 4);
    return lo + 2 ** (e - 5);
  }

  record(v) {
    this.counts[Hist.index(v)]++;
    this.n++;
    this.sum += v;
    if (v > this.max) this.max = v;
  }

  merge(other) {
    const c = other.counts ?? other;
    for (let i = 0; i < SIZE; i++) this.counts[i] += c[i] ?? 0;
    this.n += other.n ?? 0;
    this.sum += other.sum ?? 0;
    if ((other.max ?? 0) > this.max) this.max = other.max;
    return this;
  }

  toJSON() {
    return { counts: Array.from(this.counts), n: this.n, sum: this.sum, max: this.max };
  }

  static from(o) {
    const h = new Hist();
    if (o) h.merge(o);
    return h;
  }

  percentile(p) {
    if (this.n === 0) return null;
    const target = Math.max(1, Math.ceil((p / 100) * this.n));
    let acc = 0;
    for (let i = 0; i < SIZE; i++) {
      acc += this.counts[i];
      if (acc >= target) return Math.min(Hist.value(i), this.max || Infinity);
    }
    return this.max;
  }

  /** p50/p95/p99/max in milliseconds, rounded to 0.01 ms. */
  summaryMs() {
    const r = (v) => (v === null ? null : Math.round(v / 10) / 100);
    return {
      p50: r(this.percentile(50)),
      p95: r(this.percentile(95)),
      p99: r(this.percentile(99)),
      max: r(this.n ? this.max : null),
      mean: this.n ? r(this.sum / this.n) : null,
    };
  }
}
