import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Debouncer } from './debouncer.js';

describe('Debouncer', () => {
  let reports: [string, boolean][];
  let debouncer: Debouncer;

  beforeEach(() => {
    vi.useFakeTimers();
    reports = [];
    debouncer = new Debouncer(1000, (key, state) => reports.push([key, state]));
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('reports a change once it has held for the delay', () => {
    debouncer.set('a', true, undefined);
    vi.advanceTimersByTime(999);
    expect(reports).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(reports).toEqual([['a', true]]);
  });

  it('reports nothing for a leave-and-return within the window', () => {
    debouncer.set('a', true, undefined);
    vi.advanceTimersByTime(1000);
    debouncer.set('a', false, undefined);
    vi.advanceTimersByTime(500);
    debouncer.set('a', true, undefined);
    vi.advanceTimersByTime(5000);
    expect(reports).toEqual([['a', true]]);
    expect(debouncer.pending).toBe(0);
  });

  it('reports exactly one vacate after the delay for a real leave, then forgets the key', () => {
    debouncer.set('a', true, undefined);
    vi.advanceTimersByTime(1000);
    debouncer.set('a', false, undefined);
    debouncer.set('a', false, undefined);
    vi.advanceTimersByTime(999);
    expect(reports).toEqual([['a', true]]);
    vi.advanceTimersByTime(1);
    expect(reports).toEqual([
      ['a', true],
      ['a', false],
    ]);
    vi.advanceTimersByTime(10_000);
    expect(reports).toHaveLength(2);
    expect(debouncer.size).toBe(0);
  });

  it('never reports the same state twice in a row under alternating changes', () => {
    let state = false;
    for (let i = 0; i < 200; i++) {
      state = !state;
      debouncer.set('a', state, undefined);
      vi.advanceTimersByTime([100, 999, 1000, 1500][i % 4]!);
    }
    vi.advanceTimersByTime(2000);
    expect(reports.length).toBeGreaterThan(0);
    reports.forEach(([, s], i) => expect(s).toBe(i % 2 === 0));
  });

  it('keeps keys independent', () => {
    debouncer.set('a', true, undefined);
    debouncer.set('b', true, undefined);
    debouncer.set('a', false, undefined);
    vi.advanceTimersByTime(1000);
    expect(reports).toEqual([['b', true]]);
    expect(debouncer.size).toBe(1);
  });

  it('ignores a false for an unknown key', () => {
    debouncer.set('a', false, undefined);
    vi.advanceTimersByTime(1000);
    expect(reports).toEqual([]);
    expect(debouncer.size).toBe(0);
  });

  it('flush reports pending changes immediately and only once', () => {
    debouncer.set('a', true, undefined);
    debouncer.set('b', true, undefined);
    vi.advanceTimersByTime(1000);
    debouncer.set('a', false, undefined);
    debouncer.set('c', true, undefined);
    expect(debouncer.pending).toBe(2);
    debouncer.flush();
    expect(reports).toEqual([
      ['a', true],
      ['b', true],
      ['a', false],
      ['c', true],
    ]);
    expect(debouncer.pending).toBe(0);
    vi.advanceTimersByTime(5000);
    expect(reports).toHaveLength(4);
    expect(debouncer.size).toBe(2); // b and c are reported true
  });

  it('passes the latest context and reports synchronously with delay 0', () => {
    const seen: unknown[] = [];
    const now = new Debouncer<{ n: number }>(0, (_k, s, ctx) => seen.push([s, ctx.n]));
    now.set('a', true, { n: 1 });
    now.set('a', false, { n: 2 });
    expect(seen).toEqual([
      [true, 1],
      [false, 2],
    ]);
    expect(now.size).toBe(0);
  });

  it('unrefs its timers', () => {
    vi.useRealTimers();
    const spy = vi.spyOn(globalThis, 'setTimeout');
    const d = new Debouncer(1000, () => undefined);
    d.set('a', true, undefined);
    const timer = spy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    spy.mockRestore();
    d.clear();
  });
});
