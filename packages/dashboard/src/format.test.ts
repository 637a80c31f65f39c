import { describe, expect, it } from 'vitest';
import { formatAgo, formatBytes, formatCompact, formatCount, formatDuration, formatMs, formatRate } from './format.js';

describe('format', () => {
  it('writes counts with grouping, and compactly where space is short', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(Number.NaN)).toBe('–');
    expect(formatCompact(950)).toBe('950');
    expect(formatCompact(4.56)).toBe('4.6');
    expect(formatCompact(1500)).toBe('1.5k');
    expect(formatCompact(12_345)).toBe('12k');
    expect(formatCompact(2_000_000)).toBe('2M');
    expect(formatCompact(0)).toBe('0');
  });

  it('writes rates with a decimal only below 10', () => {
    expect(formatRate(4.5)).toBe('4.5');
    expect(formatRate(4)).toBe('4');
    expect(formatRate(880.4)).toBe('880');
    expect(formatRate(1234.4)).toBe('1,234');
    expect(formatRate(25_000)).toBe('25k');
  });

  it('writes latencies in ms or s', () => {
    expect(formatMs(0.4)).toBe('0.40 ms');
    expect(formatMs(12.34)).toBe('12.3 ms');
    expect(formatMs(250.6)).toBe('251 ms');
    expect(formatMs(1500)).toBe('1.5 s');
    expect(formatMs(undefined)).toBe('–');
  });

  it('writes durations with two units at most', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(5 * 60_000 + 3000)).toBe('5m 3s');
    expect(formatDuration(2 * 3600_000 + 5 * 60_000 + 9000)).toBe('2h 5m');
    expect(formatDuration(3 * 86_400_000 + 4 * 3600_000 + 1)).toBe('3d 4h');
    expect(formatDuration(86_400_000)).toBe('1d');
    expect(formatDuration(-5)).toBe('0s');
    expect(formatAgo(1000, 1500)).toBe('just now');
    expect(formatAgo(0, 61_000)).toBe('1m 1s ago');
  });

  it('writes sizes 1024-based', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(10 * 1024)).toBe('10 KB');
    expect(formatBytes(3 * 1024 * 1024)).toBe('3 MB');
  });
});
