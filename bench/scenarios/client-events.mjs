// client-events: P private channels with two members each (authenticated with the app secret as
// an auth endpoint would); one member sends client-* events, the server relays them to the other.
// Fixed rate per sender (within Pusher's 10/s), then closed loop (each sender keeps `window`
// events in flight). Herald runs with maxClientEventsPerSecond raised so the max phase measures
// relay capacity, not the limiter; soketi's default app has no client-event limit.
import { genFields, rotated, tryStart } from '../lib/common.mjs';
import { PhaseMeter } from '../lib/proc.mjs';
import { heraldAppsFile } from '../lib/servers.mjs';
import { log, round, sleep } from '../lib/util.mjs';

export default {
  name: 'client-events',
  description: 'client-event relay on private channels (pairs): relayed events/s and latency',
  sizes: {
    small: { pairs: 250, rate: 5, window: 4, phaseMs: 3000, subscriberProcs: 2 },
    full: { pairs: 2500, rate: 5, window: 4, phaseMs: 10000, subscriberProcs: 2 },
  },
  workers: (cfg) => ({ subscribers: cfg.subscriberProcs, publishers: 0 }),
  ratioMetrics: [
    { key: 'tput', field: 'relayedPerSec' },
    { key: 'p99', field: 'p99' },
    { key: 'cpu', field: 'cpuUsPerMsg' },
  ],
  columns: [
    ['server', (r) => r.server],
    ['phase', (r) => r.phase],
    ['pairs', (r) => r.pairs],
    ['sent/s', (r) => r.sentPerSec],
    ['relayed/s', (r) => r.relayedPerSec],
    ['p50 ms', (r) => r.p50],
    ['p95 ms', (r) => r.p95],
    ['p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/msg', (r) => r.cpuUsPerMsg],
    ['srv cores', (r) => r.serverCores],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['tput ÷ ceil', (r) => r.vsCeiling?.tput],
    ['tput ÷ soketi', (r) => r.vsSoketi?.tput],
    ['p99 ÷ ceil', (r) => r.vsCeiling?.p99],
    ['p99 ÷ soketi', (r) => r.vsSoketi?.p99],
  ],
  async run(ctx) {
    const { cfg, gen } = ctx;
    const conns = cfg.pairs * 2;
    for (const kind of rotated(ctx.servers, ctx.run - 1)) {
      const opts = kind === 'herald' ? { appsFile: heraldAppsFile({ clientEvents: true, maxClientEventsPerSecond: 1000000 }) } : {};
      const srv = await tryStart(ctx, kind, opts);
      if (!srv) continue;
      try {
        log(`client-events: ${kind}, ${cfg.pairs} private channels with 2 members`);
        const c = await gen.connect(srv.wsUrl, conns, { kind: 'pairs', prefix: 'private-bench-ce-' }, { app: srv.app, concurrency: 100 });
        if (c.failed) ctx.note(`client-events ${kind}: ${c.failed} of ${conns} connections failed (${c.errorText})`);
        await sleep(300);
        for (const mode of ['fixed', 'max']) {
          await gen.newPhase();
          const meter = new PhaseMeter({ server: srv.pids, gen: gen.pids() }).start();
          const rs = await gen.clientEvents({ mode, rate: cfg.rate, window: cfg.window, durationMs: cfg.phaseMs, payloadBytes: 100 });
          const sent = rs.reduce((a, r) => a + r.sent, 0);
          const writtenOff = rs.reduce((a, r) => a + r.writtenOff, 0);
          const st = await gen.drain(sent, { quietMs: 700, maxMs: 5000 });
          const m = meter.stop();
          const sendMs = Math.max(...rs.map((r) => r.elapsedMs));
          const lat = st.hist.summaryMs();
          const sc = m.groups.server;
          ctx.emit({
            group: mode,
            server: kind,
            kind,
            phase: mode,
            pairs: cfg.pairs,
            senders: rs.reduce((a, r) => a + r.senders, 0),
            sent,
            sentPerSec: round(sent / (sendMs / 1000), 0),
            relayed: st.delivered,
            relayedPerSec: round(st.delivered / (sendMs / 1000), 0),
            loss: sent ? round(Math.max(0, 1 - st.delivered / sent), 5) : null,
            writtenOff,
            ...lat,
            serverCores: round(sc.cores, 2),
            cpuUsPerMsg: st.delivered ? round((sc.cpuMs * 1000) / st.delivered, 2) : null,
            rssMB: round(sc.peakRssKb / 1024, 1),
            errors: Object.keys(st.errors).length ? st.errors : undefined,
            closedByServer: st.closedUnexpectedly,
            ...genFields(m),
          });
        }
      } finally {
        await gen.closeAll();
        await srv.stop();
      }
    }
  },
};
