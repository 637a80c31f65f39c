import { describe, expect, it } from 'vitest';
import type { NodeInfo } from '@herald/broker';
import { chartGeometry, niceCeil, nodeLines, sumLines } from './chart.js';

function node(id: string, points: [number, number][]): NodeInfo {
  return {
    id,
    role: 'gateway',
    version: '0.1.0',
    startedAt: 0,
    reportedAt: 0,
    connections: 0,
    messagesInPerSecond: 0,
    messagesOutPerSecond: 0,
    eventLoopDelayMs: { p50: 0, p99: 0, max: 0 },
    ready: true,
    series: points.map(([t, v]) => ({ t, connections: v, messagesInPerSecond: v / 10, messagesOutPerSecond: v * 10 })),
  };
}

describe('chart', () => {
  it('rounds the top of the scale up', () => {
    expect(niceCeil(0)).toBe(1);
    expect(niceCeil(7)).toBe(10);
    expect(niceCeil(10)).toBe(10);
    expect(niceCeil(11)).toBe(20);
    expect(niceCeil(230)).toBe(250);
    expect(niceCeil(0.3)).toBeCloseTo(0.5);
    expect(niceCeil(Number.NaN)).toBe(1);
  });

  it('makes a line per node, sorted by time', () => {
    const lines = nodeLines(
      [
        node('gw-1', [
          [10_000, 3],
          [5000, 2],
        ]),
      ],
      'messagesOutPerSecond',
    );
    expect(lines).toEqual([
      {
        label: 'gw-1',
        points: [
          { t: 5000, v: 20 },
          { t: 10_000, v: 30 },
        ],
      },
    ]);
  });

  it('sums nodes step by step, carrying a node forward when its point is late', () => {
    const a = {
      label: 'a',
      points: [
        { t: 5000, v: 1 },
        { t: 10_000, v: 2 },
        { t: 15_000, v: 3 },
      ],
    };
    // b reports 1 s out of phase, misses 15 s, and starts later than a.
    const b = {
      label: 'b',
      points: [
        { t: 11_000, v: 10 },
        { t: 21_000, v: 20 },
      ],
    };
    expect(sumLines([a, b], 'all').points).toEqual([
      { t: 5000, v: 1 },
      { t: 10_000, v: 12 },
      { t: 15_000, v: 13 },
      { t: 20_000, v: 23 },
    ]);
    expect(sumLines([], 'none').points).toEqual([]);
  });

  it('places the points of the window in the plot', () => {
    const box = { width: 200, height: 100, left: 0, right: 0, top: 0, bottom: 0 };
    const g = chartGeometry(
      [
        {
          label: 'x',
          points: [
            { t: 0, v: 0 },
            { t: 50, v: 5 },
            { t: 100, v: 10 },
            { t: 200, v: 99 },
          ],
        },
      ],
      box,
      100,
      100,
    );
    // The point after `end` is left out of the path but its value is the legend's latest.
    expect(g.paths).toEqual([{ label: 'x', d: 'M0,100L100,50L200,0', last: 99 }]);
    expect(g.yTicks.map((t) => t.label)).toEqual(['0', '2.5', '5', '7.5', '10']);
    expect(g.plot).toEqual({ x0: 0, x1: 200, y0: 100, y1: 0 });
  });

  it('puts an x tick on every whole minute', () => {
    const box = { width: 700, height: 100, left: 40, right: 10, top: 5, bottom: 20 };
    const end = Date.UTC(2026, 11, 6, 12, 10, 30);
    const g = chartGeometry([], box, end, 5 * 60_000);
    expect(g.xTicks).toHaveLength(5);
    expect(g.paths).toEqual([]);
    expect(g.yTicks[4]!.label).toBe('1');
    // A minute falling at the right edge would have its label cut: it is left out.
    expect(chartGeometry([], box, Date.UTC(2026, 11, 6, 12, 10, 1), 5 * 60_000).xTicks).toHaveLength(4);
  });
});
