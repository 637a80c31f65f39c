// http-fallback: the cost of pusher-js's HTTP fallback transports against WebSocket. For each
// transport in turn (the order rotates between runs), a fresh embedded Herald gateway, C
// subscribers on one channel over that transport, and the same signed HTTP triggers: a fixed rate
// of `fixedDeliveries` messages/s, then the maximum rate (closed loop, as in fanout). Each HTTP
// row carries its ratios to the WebSocket row of the same run and phase (`vsWs`). `--set
// phases=["max"]` runs one of the two phases (e.g. to profile it).
import { maxWindow, rotated, triggerPhase, tryStart } from '../lib/common.mjs';
import { log, round, sleep } from '../lib/util.mjs';

const CHANNEL = 'bench-http-fallback';
/** The transports, in the order tables list them: WebSocket, then pusher-js's two HTTP ones. */
const TRANSPORTS = ['ws', 'xhr_streaming', 'xhr'];
const NAMES = { ws: 'WebSocket', xhr_streaming: 'HTTP streaming', xhr: 'HTTP long polling' };

export default {
  name: 'http-fallback',
  description:
    'C subscribers on one channel over WebSocket, then HTTP streaming (xhr_streaming), then long polling (xhr), each on a fresh gateway; the same triggers at a fixed and at the maximum rate; server CPU per delivered message and its ratio to WebSocket in the same run',
  servers: ['herald'],
  sizes: {
    small: { subs: 100, transports: TRANSPORTS, fixedDeliveries: 20000, phaseMs: 3000, windowDeliveries: 50000, subscriberProcs: 2 },
    full: { subs: 1000, transports: TRANSPORTS, fixedDeliveries: 20000, phaseMs: 10000, windowDeliveries: 50000, subscriberProcs: 2 },
  },
  workers: (cfg) => ({ subscribers: cfg.subscriberProcs, publishers: 1 }),
  ratioMetrics: [],
  columns: [
    ['transport', (r) => r.transport],
    ['phase', (r) => r.phase],
    ['subs', (r) => r.subscribers],
    ['trig/s', (r) => r.triggersPerSec],
    ['deliv/s', (r) => r.deliveredPerSec],
    ['p50 ms', (r) => r.p50],
    ['p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/msg', (r) => r.cpuUsPerMsg],
    ['CPU ÷ ws', (r) => r.vsWs?.cpu],
    ['deliv/s ÷ ws', (r) => r.vsWs?.tput],
    ['p99 ÷ ws', (r) => r.vsWs?.p99],
    ['receive reqs', (r) => r.xhrReceives],
    ['renewals', (r) => r.xhrRenewals],
    ['srv cores', (r) => r.serverCores],
    ['RSS MB', (r) => r.rssMB],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
  ],
  /** Every HTTP row gets its figures over the WebSocket row's of the same run and phase. */
  postprocess(rows) {
    for (const r of rows) {
      if (r.transport === 'ws') continue;
      const ws = rows.find((o) => o.run === r.run && o.transport === 'ws' && o.phase === r.phase && o.subscribers === r.subscribers);
      if (!ws) continue;
      const ratio = (field) => (typeof r[field] === 'number' && ws[field] ? round(r[field] / ws[field], 3) : null);
      r.vsWs = { cpu: ratio('cpuUsPerMsg'), tput: ratio('deliveredPerSec'), p50: ratio('p50'), p99: ratio('p99'), of: 'ws' };
    }
  },
  tableRows(agg) {
    const order = (r) => (r.phase === 'fixed' ? 0 : 10) + TRANSPORTS.indexOf(r.transport);
    return [...agg].sort((a, b) => a.subscribers - b.subscribers || order(a) - order(b));
  },
  summary(agg) {
    const out = [];
    for (const r of this.tableRows(agg)) {
      if (r.transport === 'ws') continue;
      const ws = agg.find((o) => o.transport === 'ws' && o.phase === r.phase && o.subscribers === r.subscribers);
      const rate = r.phase === 'fixed' ? `at ${fmt(r.triggersPerSec)} triggers/s` : 'at the maximum rate';
      out.push(
        `- ${NAMES[r.transport]}, ${fmt(r.subscribers)} subscribers, ${rate}: ${fmt(r.cpuUsPerMsg)} µs of server CPU per delivered message against WebSocket's ${fmt(ws?.cpuUsPerMsg)} (${ratioText(r.vsWs?.cpu)} in the same run), ${fmt(r.deliveredPerSec)} deliveries/s (${ratioText(r.vsWs?.tput)}), p50 ${fmt(r.p50)} ms and p99 ${fmt(r.p99)} ms (WebSocket ${fmt(ws?.p50)} and ${fmt(ws?.p99)} ms), loss ${pct(r.loss)}${r.xhrRenewals ? ` (${fmt(r.xhrRenewals)} streams renewed past 256 KB)` : ''}; bound: ${r.bound}.`,
      );
    }
    return out;
  },
  async run(ctx) {
    const { cfg, gen } = ctx;
    const C = cfg.subs;
    for (const transport of rotated(cfg.transports, ctx.run - 1)) {
      const srv = await tryStart(ctx, 'herald', { name: `herald-${transport}` });
      try {
        log(`http-fallback: ${transport}, ${C} subscribers`);
        const c = await gen.connect(srv.wsUrl, C, { kind: 'single', name: CHANNEL }, { app: srv.app, transport });
        if (c.failed) ctx.note(`http-fallback ${transport}: ${c.failed} of ${C} connections failed (${c.errorText})`);
        await sleep(300);
        for (const mode of cfg.phases ?? ['fixed', 'max']) {
          const r = await triggerPhase(ctx, {
            target: srv,
            groups: { server: srv.pids },
            mode,
            channels: { kind: 'single', name: CHANNEL, subs: c.ok },
            rate: cfg.rate ?? Math.max(1, Math.round(cfg.fixedDeliveries / C)),
            durationMs: cfg.phaseMs,
            window: maxWindow(c.ok, cfg.windowDeliveries),
          });
          const xhr = transport === 'ws' ? {} : { xhrReceives: 0, xhrSends: 0, xhrRenewals: 0 };
          ctx.emit({
            group: `${C} ${mode} ${transport}`,
            server: `herald-${transport}`,
            kind: 'herald',
            transport,
            subscribers: C,
            connected: c.ok,
            ...xhr,
            ...r,
          });
        }
      } finally {
        await gen.closeAll();
        await srv.stop();
      }
    }
  },
};

function fmt(v) {
  if (v === null || v === undefined) return '–';
  if (typeof v !== 'number') return String(v);
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  if (Math.abs(v) >= 100) return String(Math.round(v));
  if (Math.abs(v) >= 10) return String(Math.round(v * 10) / 10);
  return String(Math.round(v * 100) / 100);
}

const pct = (v) => (typeof v === 'number' ? `${fmt(v * 100)} %` : '–');
const ratioText = (v) => (v === null || v === undefined ? '–' : `${fmt(v)}×`);
