/**
 * The overview's charts, computed apart from their SVG: which lines to draw from the nodes'
 * series, the scales, and the path of each line. Drawn by LineChart.vue.
 */
import type { NodeInfo, NodeSample } from '@herald/broker';
import { formatClock, formatCompact } from './format.js';

interface Point {
  t: number;
  v: number;
}

export interface Line {
  label: string;
  points: Point[];
}

export type Metric = Exclude<keyof NodeSample, 't'>;

/** Nodes report a point every 5 s: points of different nodes within one step are summed together. */
const SERIES_STEP_MS = 5000;

/** One line per node, of one metric, oldest point first. */
export function nodeLines(nodes: readonly NodeInfo[], metric: Metric): Line[] {
  return nodes.map((n) => ({ label: n.id, points: [...n.series].sort((a, b) => a.t - b.t).map((s) => ({ t: s.t, v: s[metric] })) }));
}

/**
 * The sum of lines, step by step. Nodes report out of phase, so points are grouped by the step they
 * fall in; a node without a point in a step adds its previous value, so that a late report does
 * not show as a dip.
 */
export function sumLines(lines: readonly Line[], label: string, step = SERIES_STEP_MS): Line {
  const buckets = new Set<number>();
  const byLine = lines.map((l) => {
    const m = new Map<number, number>();
    for (const p of l.points) {
      const b = Math.round(p.t / step);
      m.set(b, p.v);
      buckets.add(b);
    }
    return { m, first: l.points.length ? Math.round(l.points[0]!.t / step) : Infinity };
  });
  const sorted = [...buckets].sort((a, b) => a - b);
  const last = byLine.map(() => 0);
  const points = sorted.map((b) => {
    let v = 0;
    byLine.forEach((l, i) => {
      const own = l.m.get(b);
      if (own !== undefined) last[i] = own;
      if (b >= l.first) v += last[i]!;
    });
    return { t: b * step, v };
  });
  return { label, points };
}

/** The smallest "round" number (1, 2, 2.5 or 5 times a power of ten) at or above `max`; 1 for nothing. */
export function niceCeil(max: number): number {
  if (!(max > 0) || !Number.isFinite(max)) return 1;
  const pow = 10 ** Math.floor(Math.log10(max));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * pow >= max * (1 - 1e-9)) return m * pow;
  return 10 * pow;
}

export interface ChartBox {
  width: number;
  height: number;
  /** Room for the y labels on the left and the x labels below. */
  left: number;
  right: number;
  top: number;
  bottom: number;
}

export interface ChartGeometry {
  paths: { label: string; d: string; last: number | undefined }[];
  yTicks: { y: number; label: string }[];
  xTicks: { x: number; label: string }[];
  /** The plot area, for the frame and the grid. */
  plot: { x0: number; x1: number; y0: number; y1: number };
}

/**
 * Where everything goes for lines over the window [end - windowMs, end]. Points outside the window
 * are left out; the y scale starts at 0 and ends at a round number above the highest point.
 */
export function chartGeometry(lines: readonly Line[], box: ChartBox, end: number, windowMs: number): ChartGeometry {
  const start = end - windowMs;
  const x0 = box.left;
  const x1 = Math.max(box.left + 1, box.width - box.right);
  const y0 = Math.max(box.top + 1, box.height - box.bottom);
  const y1 = box.top;
  const visible = lines.map((l) => ({ label: l.label, points: l.points.filter((p) => p.t >= start && p.t <= end) }));
  const max = niceCeil(Math.max(0, ...visible.flatMap((l) => l.points.map((p) => p.v))));
  const x = (t: number) => x0 + ((t - start) / windowMs) * (x1 - x0);
  const y = (v: number) => y0 - (v / max) * (y0 - y1);
  const r = (n: number) => Math.round(n * 10) / 10;

  const paths = visible.map((l) => ({
    label: l.label,
    d: l.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${r(x(p.t))},${r(y(p.v))}`).join(''),
    last: lines.find((o) => o.label === l.label)?.points.at(-1)?.v,
  }));

  const yTicks = [0, 0.25, 0.5, 0.75, 1].map((f) => ({ y: r(y(max * f)), label: formatCompact(max * f) }));

  // A tick per minute (or per two when the plot is narrow), on whole minutes of the clock.
  const minuteEvery = x1 - x0 < 400 && windowMs > 4 * 60_000 ? 2 : 1;
  const stepMs = minuteEvery * 60_000;
  const xTicks: ChartGeometry['xTicks'] = [];
  for (let t = Math.ceil(start / stepMs) * stepMs; t <= end; t += stepMs) {
    const tx = r(x(t));
    // A label (about 30 px wide, centred) that would be cut by the edge of the chart is left out.
    if (tx >= x0 + 10 && tx <= box.width - 16) xTicks.push({ x: tx, label: formatClock(t, false).slice(0, 5) });
  }

  return { paths, yTicks, xTicks, plot: { x0, x1, y0, y1 } };
}
