import { describe, expect, it } from 'vitest';
import { Backoff, DEFAULT_RECONNECT, backoffCeiling, normalizeReconnectOptions } from './backoff.js';

describe('Backoff (exponential, full jitter)', () => {
  it('ceilings double from minDelayMs and stop at maxDelayMs', () => {
    const o = { minDelayMs: 1000, maxDelayMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 50, 5000].map((n) => backoffCeiling(n, o))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  });

  it('every delay lies in [0, ceiling) with the real random source', () => {
    const b = new Backoff(DEFAULT_RECONNECT);
    for (let attempt = 0; attempt < 200; attempt++) {
      const ceiling = backoffCeiling(attempt, DEFAULT_RECONNECT);
      const d = b.next();
      expect(Number.isInteger(d)).toBe(true);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(ceiling);
    }
  });

  it('uses the whole range: random 0 gives 0, random just under 1 gives the ceiling', () => {
    expect(new Backoff(DEFAULT_RECONNECT, () => 0).next()).toBe(0);
    const top = new Backoff(DEFAULT_RECONNECT, () => 0.999_999);
    expect([top.next(), top.next(), top.next()]).toEqual([999, 1999, 3999]);
  });

  it('grows: the mean delay per attempt rises until the cap', () => {
    const samples = 2000;
    const mean = (attempt: number) => {
      let sum = 0;
      for (let i = 0; i < samples; i++) {
        const b = new Backoff(DEFAULT_RECONNECT);
        for (let k = 0; k < attempt; k++) b.next();
        sum += b.next();
      }
      return sum / samples;
    };
    const means = [0, 1, 2, 3, 4].map(mean);
    for (let i = 1; i < means.length; i++) expect(means[i]!).toBeGreaterThan(means[i - 1]! * 1.5);
    // Full jitter: the mean is about half the ceiling (loose bounds, 2000 samples).
    expect(means[0]!).toBeGreaterThan(400);
    expect(means[0]!).toBeLessThan(600);
  });

  it('reset() starts again from the first ceiling', () => {
    const b = new Backoff({ minDelayMs: 100, maxDelayMs: 10_000 }, () => 0.999_999);
    b.next();
    b.next();
    expect(b.attempts).toBe(2);
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(99);
  });

  it('never overflows after very many attempts', () => {
    const b = new Backoff({ minDelayMs: 1000, maxDelayMs: 30_000 }, () => 0.5);
    for (let i = 0; i < 10_000; i++) b.next();
    expect(b.next()).toBe(15_000);
  });

  it('validates options', () => {
    expect(normalizeReconnectOptions(undefined)).toEqual({ minDelayMs: 1000, maxDelayMs: 30_000 });
    expect(normalizeReconnectOptions({ minDelayMs: 50 })).toEqual({ minDelayMs: 50, maxDelayMs: 30_000 });
    expect(normalizeReconnectOptions({ minDelayMs: 60_000 })).toEqual({ minDelayMs: 60_000, maxDelayMs: 60_000 });
    expect(() => normalizeReconnectOptions({ minDelayMs: -1 })).toThrow(TypeError);
    expect(() => normalizeReconnectOptions({ minDelayMs: 100, maxDelayMs: 10 })).toThrow(TypeError);
  });
});
