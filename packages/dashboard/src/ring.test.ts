import { describe, expect, it } from 'vitest';
import { RingBuffer } from './ring.js';

describe('RingBuffer', () => {
  it('keeps the newest items, oldest first, and counts those it dropped', () => {
    const r = new RingBuffer<number>(3);
    r.push(1, 2);
    expect(r.toArray()).toEqual([1, 2]);
    r.push(3, 4, 5);
    expect(r.toArray()).toEqual([3, 4, 5]);
    expect(r.size).toBe(3);
    expect(r.dropped).toBe(2);
    r.clear();
    expect(r.toArray()).toEqual([]);
    expect(r.dropped).toBe(0);
    r.push(6);
    expect(r.toArray()).toEqual([6]);
  });

  it('wraps around many times', () => {
    const r = new RingBuffer<number>(4);
    for (let i = 0; i < 103; i++) r.push(i);
    expect(r.toArray()).toEqual([99, 100, 101, 102]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RingBuffer(0)).toThrow(RangeError);
    expect(() => new RingBuffer(1.5)).toThrow(RangeError);
  });
});
