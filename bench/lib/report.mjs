// Ratios to the ceiling and to soketi (same run), medians over runs, text/markdown tables, and
// the SVG chart of fan-out throughput and latency against subscriber count.
import { median, round } from './util.mjs';

/**
 * Adds row.vsCeiling and row.vsSoketi: {metric: herald/baseline} from rows of the same run and
 * group. metrics: [{ key, field }]; every ratio is "this server / baseline" (so > 1 is more
 * throughput, or more latency/CPU/memory: read with the metric's direction).
 */
export function addRatios(rows, metrics) {
  for (const r of rows) {
    if (r.kind === 'ceiling') continue;
    const same = rows.filter((o) => o.run === r.run && o.group === r.group && o !== r);
    const ceiling = same.find((o) => o.kind === 'ceiling');
    let soketi = null;
    if (r.kind !== 'soketi') {
      soketi =
        same.find((o) => o.kind === 'soketi' && (o.nodes ?? 1) === (r.nodes ?? 1)) ?? same.find((o) => o.kind === 'soketi' && (o.nodes ?? 1) === 1) ?? null;
    }
    const ratio = (base) => {
      if (!base) return null;
      const out = {};
      for (const { key, field } of metrics) {
        const a = r[field];
        const b = base[field];
        out[key] = typeof a === 'number' && typeof b === 'number' && b !== 0 ? round(a / b, 3) : null;
      }
      out.of = base.server;
      return out;
    };
    r.vsCeiling = ratio(ceiling);
    if (r.kind !== 'soketi') r.vsSoketi = ratio(soketi);
  }
  return rows;
}

/** Median of every numeric field over runs, per (group, server). */
export function aggregate(rows) {
  const by = new Map();
  for (const r of rows) {
    const k = `${r.group}\u0000${r.server}`;
    if (!by.has(k)) by.set(k, []);
    by.get(k).push(r);
  }
  const out = [];
  for (const list of by.values()) {
    if (list.length === 1) {
      out.push(list[0]);
      continue;
    }
    out.push(medianObject(list));
  }
  // Groups in order of first appearance; in a group, the ceiling, then Herald, then soketi.
  const groups = [...new Set(rows.map((r) => r.group))];
  const rank = (r) => ({ ceiling: 0, herald: 100, soketi: 200 })[r.kind] + (r.nodes ?? 1) + (r.server === r.kind ? 0 : 10);
  return out.sort((a, b) => groups.indexOf(a.group) - groups.indexOf(b.group) || rank(a) - rank(b));
}

function medianObject(list) {
  const first = list[0];
  const o = { ...first, runs: list.length };
  for (const [k, v] of Object.entries(first)) {
    if (typeof v === 'number') o[k] = round(median(list.map((x) => x[k])), 3);
    else if (v && typeof v === 'object' && !Array.isArray(v) && k.startsWith('vs')) {
      const parts = list.map((x) => x[k]).filter(Boolean);
      o[k] = parts.length ? medianObject(parts) : null;
      if (o[k]) delete o[k].runs;
    } else if (typeof v === 'boolean') o[k] = list.some((x) => x[k]);
    else if (typeof v === 'string' && k === 'bound') {
      // the most frequent value over the runs
      const n = new Map();
      for (const x of list) n.set(x[k], (n.get(x[k]) ?? 0) + 1);
      o[k] = [...n.entries()].sort((a, b) => b[1] - a[1])[0][0];
    }
  }
  return o;
}

const fmtNum = (v) => {
  if (v === null || v === undefined) return '–';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'number') return String(v);
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (Number.isInteger(v) && a < 1000) return String(v);
  if (a >= 100000) return Math.round(v).toLocaleString('en-US');
  if (a >= 1000) return Math.round(v).toLocaleString('en-US');
  if (a >= 100) return v.toFixed(0);
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  if (a === 0) return '0';
  return v.toPrecision(2);
};

/** columns: [[header, row => value]] */
export function table(rows, columns, { markdown = false } = {}) {
  const head = columns.map((c) => c[0]);
  const body = rows.map((r) => columns.map((c) => fmtNum(c[1](r))));
  if (markdown) {
    const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
    for (const b of body) lines.push(`| ${b.join(' | ')} |`);
    return lines.join('\n');
  }
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells) => cells.map((c, i) => (i < 2 ? c.padEnd(w[i]) : c.padStart(w[i]))).join('  ');
  return [line(head), w.map((n) => '-'.repeat(n)).join('  '), ...body.map(line)].join('\n');
}

/**
 * The fan-out chart, against subscriber count, one line per server: delivered messages/s at the
 * closed-loop max rate, p99 end-to-end latency at the fixed rate, and server CPU per delivered
 * message at the max rate.
 */
export function fanoutSvg(rows, { title = 'Fan-out', subtitle = '' } = {}) {
  const servers = ['herald', 'soketi', 'ceiling'].filter((s) => rows.some((r) => r.server === s));
  const colors = { herald: '#d62728', soketi: '#1f77b4', ceiling: '#7f7f7f' };
  const names = { herald: 'Herald', soketi: 'soketi 1.6.1', ceiling: 'ceiling (bare uWS)' };
  const xs = [...new Set(rows.map((r) => r.subscribers))].sort((a, b) => a - b);
  const W = 1000;
  const H = 380;
  const panelW = 250;
  const panelH = 240;
  const top = 70;
  const num = (v) => (v === 0 ? '0' : v >= 10 ? v.toFixed(0) : v.toFixed(1));
  const panels = [
    {
      x0: 60,
      title: 'Delivered messages/s (max rate)',
      phase: 'max',
      field: 'deliveredPerSec',
      fmt: (v) => (v >= 1000 ? `${Math.round(v / 1000)}k` : `${Math.round(v)}`),
    },
    { x0: 390, title: 'p99 end-to-end latency, ms (fixed rate)', phase: 'fixed', field: 'p99', fmt: num },
    { x0: 720, title: 'Server CPU µs per message (max rate)', phase: 'max', field: 'cpuUsPerMsg', fmt: num },
  ];
  const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">\n`;
  out += `<rect width="${W}" height="${H}" fill="#ffffff"/>\n`;
  out += `<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>\n`;
  out += `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>\n`;
  for (const p of panels) {
    const pts = rows.filter((r) => r.phase === p.phase && typeof r[p.field] === 'number');
    const ymax = niceMax(Math.max(1e-9, ...pts.map((r) => r[p.field])));
    const xAt = (i) => p.x0 + (xs.length === 1 ? panelW / 2 : (i * panelW) / (xs.length - 1));
    const yAt = (v) => top + panelH - (v / ymax) * panelH;
    out += `<text x="${p.x0 + panelW / 2}" y="${top - 12}" text-anchor="middle" font-weight="bold">${esc(p.title)}</text>\n`;
    out += `<line x1="${p.x0}" y1="${top + panelH}" x2="${p.x0 + panelW}" y2="${top + panelH}" stroke="#333"/>\n`;
    out += `<line x1="${p.x0}" y1="${top}" x2="${p.x0}" y2="${top + panelH}" stroke="#333"/>\n`;
    for (let k = 0; k <= 4; k++) {
      const v = (ymax * k) / 4;
      const y = yAt(v);
      out += `<line x1="${p.x0}" y1="${y}" x2="${p.x0 + panelW}" y2="${y}" stroke="#e5e5e5"/>\n`;
      out += `<text x="${p.x0 - 6}" y="${y + 4}" text-anchor="end" fill="#333">${p.fmt(v)}</text>\n`;
    }
    xs.forEach((x, i) => {
      out += `<text x="${xAt(i)}" y="${top + panelH + 16}" text-anchor="middle" fill="#333">${x.toLocaleString('en-US')}</text>\n`;
    });
    out += `<text x="${p.x0 + panelW / 2}" y="${top + panelH + 34}" text-anchor="middle" fill="#333">subscribers on one channel</text>\n`;
    for (const s of servers) {
      const series = xs.map((x, i) => {
        const r = pts.find((q) => q.server === s && q.subscribers === x);
        return r ? [xAt(i), yAt(r[p.field]), r[p.field]] : null;
      });
      const path = series
        .filter(Boolean)
        .map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`)
        .join(' ');
      if (path) out += `<path d="${path}" fill="none" stroke="${colors[s]}" stroke-width="2.5"${s === 'ceiling' ? ' stroke-dasharray="6,4"' : ''}/>\n`;
      for (const pt of series.filter(Boolean))
        out += `<circle cx="${pt[0].toFixed(1)}" cy="${pt[1].toFixed(1)}" r="3.5" fill="${colors[s]}"><title>${esc(names[s])}: ${pt[2]}</title></circle>\n`;
    }
  }
  servers.forEach((s, i) => {
    const x = 250 + i * 200;
    const y = H - 18;
    out += `<line x1="${x}" y1="${y - 4}" x2="${x + 28}" y2="${y - 4}" stroke="${colors[s]}" stroke-width="3"${s === 'ceiling' ? ' stroke-dasharray="6,4"' : ''}/>\n`;
    out += `<text x="${x + 34}" y="${y}" fill="#222">${esc(names[s])}</text>\n`;
  });
  out += '</svg>\n';
  return out;
}

function niceMax(v) {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}
