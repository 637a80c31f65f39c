import { describe, expect, it } from 'vitest';
import { DebugCap, stampRecord } from './debug-cap.js';

describe('DebugCap', () => {
  it('passes a burst of perSecond records, refuses the rest, refills with time, and reports the refused once', () => {
    let now = 1_000_000;
    const reports: [string, number][] = [];
    const cap = new DebugCap(
      500,
      (appId, n) => reports.push([appId, n]),
      () => now,
    );
    let passed = 0;
    for (let i = 0; i < 700; i++) if (cap.take('a')) passed++;
    expect(passed).toBe(500);
    // Another app has a budget of its own.
    expect(cap.take('b')).toBe(true);
    now += 100; // a tenth of a second: 50 more
    passed = 0;
    for (let i = 0; i < 100; i++) if (cap.take('a')) passed++;
    expect(passed).toBe(50);
    expect(reports).toEqual([]);
    cap.flush();
    expect(reports).toEqual([['a', 250]]);
    cap.flush();
    expect(reports).toHaveLength(1);
    now += 10_000; // refilled to the burst size, no more
    passed = 0;
    for (let i = 0; i < 600; i++) if (cap.take('a')) passed++;
    expect(passed).toBe(500);
    cap.close();
  });

  it('reports on its own within a second of the first refusal', async () => {
    const reports: number[] = [];
    const cap = new DebugCap(2, (_, n) => reports.push(n));
    for (let i = 0; i < 5; i++) cap.take('a');
    await expect.poll(() => reports).toEqual([3]);
    cap.close();
  });

  it('forget drops an app’s counts', () => {
    const reports: number[] = [];
    const cap = new DebugCap(1, (_, n) => reports.push(n));
    cap.take('a');
    cap.take('a');
    cap.forget('a');
    cap.flush();
    expect(reports).toEqual([]);
    cap.close();
  });
});

describe('stampRecord', () => {
  it('fills at and node when absent and keeps them when given', () => {
    const r = stampRecord({ kind: 'unsubscribed', socketId: '1.1', channel: 'c' }, 'n1');
    expect(r).toMatchObject({ kind: 'unsubscribed', node: 'n1' });
    expect(typeof r.at).toBe('number');
    const given = { kind: 'unsubscribed' as const, socketId: '1.1', channel: 'c', at: 5, node: 'w' };
    expect(stampRecord(given, 'n1')).toBe(given);
  });
});
