// The scale run in one picture: how a gateway kill and a drain redistribute the connections over the surviving gateways,
// what each fault does to fan-out p99 latency (against one embedded node at the same rate), and how long recovery took
// against the 60 s target. Hand-written SVG like fanoutSvg in report.mjs; missing rows or null figures draw nothing.

const PASSES = ['single', 'cluster'];
const COLORS = { single: '#d62728', cluster: '#1f77b4' };
const NAMES = { single: 'one Redis server', cluster: 'Redis Cluster' };
const GW_COLORS = ['#8c9db0', '#b09a80', '#8fae92', '#ab8fa6', '#9aa39e', '#b5a878', '#7fa5b0', '#a89494'];
const MEASURES = [
  { field: 'allBackS', opacity: 1, name: 'every cut client back', short: 'all clients back' },
  { field: 'exactS', opacity: 0.35, name: 'REST and member lists exact', short: 'lists exact' },
];
const [W, H, top, panelW, panelH] = [1000, 400, 70, 240, 240];
const bottom = top + panelH;

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;');
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
const fmtK = (v) => (v >= 1000 ? `${+(v / 1000).toFixed(1)}k` : `${+v.toFixed(v < 10 ? 2 : 0)}`);
const int = (v) => Math.round(v).toLocaleString('en-US');

function niceMax(v) {
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.2, 1.6, 2, 2.4, 3, 4, 6, 8, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

// Linear from 0, or logarithmic on 1-2-5 steps when the values span more than a factor 20 (fault phases reach
// 10-20 s of p99 while steady state is a few hundred ms, which would flatten everything else on a linear axis).
function yScale(values, { logAbove = Infinity } = {}) {
  const vs = values.filter((v) => isNum(v) && v > 0);
  const lo = Math.min(...vs);
  const hi = Math.max(...vs);
  if (vs.length && hi / lo > logAbove) {
    const steps = [];
    const ms = hi / lo > 1000 ? [1] : [1, 2, 5]; // 1-2-5 ticks would crowd beyond three decades
    for (let e = Math.floor(Math.log10(lo)); 10 ** e <= hi * 10; e++) for (const m of ms) steps.push(m * 10 ** e);
    const a = steps.filter((s) => s <= lo).pop();
    const b = steps.find((s) => s >= hi);
    const f = (v) => (Math.log10(v) - Math.log10(a)) / (Math.log10(b) - Math.log10(a));
    return { at: (v) => bottom - Math.min(1, Math.max(0, f(v))) * panelH, ticks: steps.filter((s) => s >= a && s <= b) };
  }
  const ymax = niceMax(Math.max(1, ...vs));
  return { at: (v) => bottom - (Math.max(0, v) / ymax) * panelH, ticks: [0, 1, 2, 3, 4].map((k) => (ymax * k) / 4) };
}

// Title, axes, grid and tick labels; categories sit at band centres, staggered on two lines when the bands are narrow.
function frame(x0, title, y, cats) {
  const band = panelW / cats.length;
  let out = `<text x="${x0 + panelW / 2}" y="${top - 12}" text-anchor="middle" font-weight="bold">${esc(title)}</text>\n`;
  for (const v of y.ticks) {
    out += `<line x1="${x0}" y1="${y.at(v)}" x2="${x0 + panelW}" y2="${y.at(v)}" stroke="#e5e5e5"/>\n`;
    out += `<text x="${x0 - 6}" y="${y.at(v) + 4}" text-anchor="end" fill="#333">${fmtK(v)}</text>\n`;
  }
  out += `<line x1="${x0}" y1="${bottom}" x2="${x0 + panelW}" y2="${bottom}" stroke="#333"/>\n`;
  out += `<line x1="${x0}" y1="${top}" x2="${x0}" y2="${bottom}" stroke="#333"/>\n`;
  cats.forEach((c, i) => {
    const y = bottom + 16 + (band < 60 && i % 2 ? 13 : 0);
    out += `<text x="${x0 + band * (i + 0.5)}" y="${y}" text-anchor="middle" fill="#333">${esc(c)}</text>\n`;
  });
  return out;
}

// A polyline through the points that exist, each point with a tooltip; a missing point just shortens the line.
function series(pts, color, width = 2.5, r = 3.5) {
  const ok = pts.filter(Boolean);
  const d = ok.map((p, i) => `${i ? 'L' : 'M'}${p.x.toFixed(1)},${p.y.toFixed(1)}`).join(' ');
  let out = d ? `<path d="${d}" fill="none" stroke="${color}" stroke-width="${width}"/>\n` : '';
  for (const p of ok) out += `<circle cx="${p.x.toFixed(1)}" cy="${p.y.toFixed(1)}" r="${r}" fill="${color}"><title>${esc(p.tip)}</title></circle>\n`;
  return out;
}

// A dashed reference line across a panel, labelled just outside its right edge where no point or bar can cover it.
function refLine(x0, y, label, tip) {
  let out = `<line x1="${x0}" y1="${y.toFixed(1)}" x2="${x0 + panelW}" y2="${y.toFixed(1)}" stroke="#888" stroke-width="1.5" stroke-dasharray="6,4">`;
  out += `<title>${esc(tip)}</title></line>\n`;
  out += `<text x="${x0 + panelW + 4}" y="${(y + 4).toFixed(1)}" font-size="11" fill="#555">${esc(label)}</text>\n`;
  return out;
}

export function scaleSvg(rows, { title = 'Scale', subtitle = '' } = {}) {
  const list = (Array.isArray(rows) ? rows : []).filter((r) => r && typeof r === 'object' && !r.meta && typeof r.group === 'string');
  const row = (pass, phase, server) => list.find((r) => r.group === `${pass}/${phase}` && r.server === server);
  const passes = PASSES.filter((p) => list.some((r) => r.group.startsWith(`${p}/`) || r.group.startsWith(`fault:${p}:`)));
  const ref = list.find((r) => r.group === 'single-node')?.fanP99;
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">\n`;
  out += `<rect width="${W}" height="${H}" fill="#ffffff"/>\n`;
  out += `<text x="${W / 2}" y="22" text-anchor="middle" font-size="16" font-weight="bold">${esc(title)}</text>\n`;
  out += `<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>\n`;

  // 1: connections per gateway through the faults, for one pass (the first; the second redistributes the same way).
  const p1 = passes.includes('single') ? 'single' : passes[0];
  const cats1 = ['steady', 'gw-kill', 'gw-drain', 'worker-kill'];
  const gws = [...new Set(list.filter((r) => r.group.startsWith(`${p1}/`) && /^gw\d+$/.test(r.server)).map((r) => r.server))];
  gws.sort((a, b) => a.slice(2) - b.slice(2));
  const x1 = 65;
  const y1 = yScale(cats1.flatMap((c) => gws.map((g) => row(p1, c, g)?.conns)));
  out += frame(x1, 'Connections per gateway', y1, cats1);
  gws.forEach((g, k) => {
    const pts = cats1.map((c, i) => {
      const v = row(p1, c, g)?.conns;
      return isNum(v) && { x: x1 + (panelW / cats1.length) * (i + 0.5), y: y1.at(v), tip: `${g}, ${c} (${NAMES[p1]}): ${int(v)} connections` };
    });
    out += series(pts, GW_COLORS[k % GW_COLORS.length], 1.5, 3);
  });

  // 2: fan-out p99 of the whole cluster per phase, one line per pass, against the one-node reference.
  const cats2 = ['fanout', 'steady', 'gw-kill', 'gw-drain', 'worker-kill'];
  const x2 = 385;
  const y2 = yScale([ref, ...passes.flatMap((p) => cats2.map((c) => row(p, c, 'all')?.fanP99))], { logAbove: 20 });
  out += frame(x2, 'Fan-out p99 latency, ms', y2, cats2);
  if (isNum(ref) && ref > 0) out += refLine(x2, y2.at(ref), 'one node', `one embedded node at the same rate: p99 ${int(ref)} ms`);
  for (const p of passes) {
    const pts = cats2.map((c, i) => {
      const r = row(p, c, 'all');
      if (!isNum(r?.fanP99) || r.fanP99 <= 0) return null;
      const tip = `${NAMES[p]}, ${c}: p99 ${int(r.fanP99)} ms${isNum(r.fanP50) ? `, p50 ${int(r.fanP50)} ms` : ''}`;
      return { x: x2 + (panelW / cats2.length) * (i + 0.5), y: y2.at(r.fanP99), tip };
    });
    out += series(pts, COLORS[p]);
  }

  // 3: recovery per fault: solid when every cut client was back and subscribed, light when the lists were exact.
  const cats3 = ['gw-kill', 'gw-drain'];
  const x3 = 705;
  const fault = (p, f) => list.find((r) => r.group === `fault:${p}:${f}`);
  const vals3 = passes.flatMap((p) => cats3.flatMap((f) => MEASURES.map((m) => fault(p, f)?.[m.field])));
  const y3 = yScale([60, ...vals3.filter(isNum).map((v) => v * 1.1)]);
  out += frame(x3, 'Recovery after a fault, s', y3, cats3);
  const barW = 22;
  const span = passes.length * MEASURES.length * barW + (passes.length - 1) * 6;
  cats3.forEach((f, i) => {
    const left = x3 + (panelW / cats3.length) * (i + 0.5) - span / 2;
    passes.forEach((p, j) => {
      const r = fault(p, f);
      MEASURES.forEach((m, k) => {
        const x = left + j * (MEASURES.length * barW + 6) + k * barW;
        const v = r?.[m.field];
        const tip = `${NAMES[p]}, ${f}: ${!r ? 'no result' : isNum(v) ? `${m.name} after ${v} s` : `${m.name}: not reached in the run`}`;
        if (!isNum(v)) {
          out += `<text x="${x + barW / 2}" y="${bottom - 4}" text-anchor="middle" font-size="10" fill="${COLORS[p]}">n/a<title>${esc(tip)}</title></text>\n`;
          return;
        }
        const y = y3.at(v);
        const extra = m.field === 'allBackS' && isNum(r.backP50S) ? ` (p50 ${r.backP50S} s, p99 ${r.backP99S} s, ${int(r.cut ?? 0)} cut)` : '';
        out += `<rect x="${x + 1}" y="${y.toFixed(1)}" width="${barW - 2}" height="${(bottom - y).toFixed(1)}" `;
        out += `fill="${COLORS[p]}" fill-opacity="${m.opacity}" stroke="${COLORS[p]}"><title>${esc(tip + extra)}</title></rect>\n`;
        out += `<text x="${x + barW / 2}" y="${(y - 3).toFixed(1)}" text-anchor="middle" font-size="10" fill="#333">${v.toFixed(1)}</text>\n`;
      });
    });
  });
  out += refLine(x3, y3.at(60), 'target', 'target: every client back and every list exact within 60 s');
  out += `<text x="${x3 + panelW + 4}" y="${(y3.at(60) + 16).toFixed(1)}" font-size="11" fill="#555">60 s</text>\n`;

  // Legend, centred: passes, gateways, the reference, then the two bar measures.
  const items = [
    ...passes.map((p) => ({ label: NAMES[p], mark: `stroke="${COLORS[p]}" stroke-width="3"` })),
    ...(gws.length ? [{ label: `each gateway (${p1 === 'single' ? 'one Redis' : NAMES[p1]})`, mark: `stroke="${GW_COLORS[0]}" stroke-width="2"` }] : []),
    ...(isNum(ref) ? [{ label: 'one node', mark: 'stroke="#888" stroke-width="1.5" stroke-dasharray="6,4"' }] : []),
    ...MEASURES.map((m) => ({ label: m.short, bar: m.opacity })),
  ];
  const widthOf = (it) => 34 + it.label.length * 6.2 + 20;
  let x = (W - items.reduce((s, it) => s + widthOf(it), 0)) / 2;
  const y = H - 18;
  for (const it of items) {
    out += it.mark
      ? `<line x1="${x}" y1="${y - 4}" x2="${x + 28}" y2="${y - 4}" ${it.mark}/>\n`
      : `<rect x="${x + 6}" y="${y - 11}" width="16" height="12" fill="#666" fill-opacity="${it.bar}" stroke="#666"/>\n`;
    out += `<text x="${x + 34}" y="${y}" fill="#222">${esc(it.label)}</text>\n`;
    x += widthOf(it);
  }
  out += '</svg>\n';
  return out;
}
