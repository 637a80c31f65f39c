import { describe, expect, it } from 'vitest';
import { LogThrottle } from './log-throttle.js';

describe('LogThrottle', () => {
  it('lets one line a second through per key and says how many it held back', () => {
    let now = 10_000;
    const t = new LogThrottle(1000, () => now);
    expect(t.take('a')).toBe(0);
    expect(t.take('a')).toBeUndefined();
    expect(t.take('a')).toBeUndefined();
    expect(t.take('b')).toBe(0);
    now += 999;
    expect(t.take('a')).toBeUndefined();
    now += 1;
    expect(t.take('a')).toBe(3);
    expect(t.take('a')).toBeUndefined();
    now += 5000;
    expect(t.take('a')).toBe(1);
    expect(t.take('b')).toBe(0);
  });
});
