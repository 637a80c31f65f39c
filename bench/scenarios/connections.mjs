// connections: N idle connections (connection_established, no subscription). Memory per
// connection above the empty process's baseline, connect rate, server CPU per connection. The
// servers and generator processes run with the fd limit raised as far as the machine allows; a
// count above that limit is capped (and said so), since a single server process cannot hold more.
import { genFields, rotated, tryStart } from '../lib/common.mjs';
import { LoadGen } from '../lib/loadgen.mjs';
import { PhaseMeter, rssKb } from '../lib/proc.mjs';
import { serverFdLimit } from '../lib/servers.mjs';
import { log, round, sleep } from '../lib/util.mjs';

async function steadyRss(pid, samples = 5, everyMs = 100) {
  const xs = [];
  for (let i = 0; i < samples; i++) {
    xs.push(rssKb(pid) ?? 0);
    await sleep(everyMs);
  }
  return xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
}

export default {
  name: 'connections',
  description: 'idle connections: RSS per connection above the empty-process baseline, connect rate',
  sizes: {
    small: { counts: [2000, 5000], concurrency: 100, settleMs: 1500 },
    full: { counts: [10000, 20000, 50000], concurrency: 200, settleMs: 3000 },
  },
  workers: (cfg) => {
    const max = Math.max(...cfg.counts);
    return { subscribers: Math.max(2, Math.ceil(max / (LoadGen.perWorkerCap() - 200))), publishers: 0 };
  },
  ratioMetrics: [
    { key: 'rate', field: 'connectPerSec' },
    { key: 'kbPerConn', field: 'kbPerConn' },
    { key: 'cpu', field: 'cpuUsPerConn' },
  ],
  columns: [
    ['server', (r) => r.server],
    ['asked', (r) => r.asked],
    ['open', (r) => r.open],
    ['conn/s', (r) => r.connectPerSec],
    ['connect p50 ms', (r) => r.connectP50],
    ['connect p99 ms', (r) => r.connectP99],
    ['base RSS MB', (r) => r.baseRssMB],
    ['RSS MB', (r) => r.rssMB],
    ['KB/conn', (r) => r.kbPerConn],
    ['srv CPU µs/conn', (r) => r.cpuUsPerConn],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['KB/conn ÷ ceil', (r) => r.vsCeiling?.kbPerConn],
    ['KB/conn ÷ soketi', (r) => r.vsSoketi?.kbPerConn],
    ['rate ÷ ceil', (r) => r.vsCeiling?.rate],
    ['rate ÷ soketi', (r) => r.vsSoketi?.rate],
  ],
  async run(ctx) {
    const { cfg, gen } = ctx;
    const fdLimit = serverFdLimit();
    const cap = fdLimit - 500;
    // Beyond one source address's ephemeral port range, spread clients over 127.0.0.x sources.
    const localAddresses = Math.max(...cfg.counts) > 25000 ? Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`) : undefined;
    const done = new Set();
    for (const [i, asked] of cfg.counts.entries()) {
      const n = Math.min(asked, cap);
      if (n < asked)
        ctx.note(
          `connections: ${asked} asked, capped at ${n}: a server process may open at most ${fdLimit} files here (hard RLIMIT_NOFILE; raising it needs CAP_SYS_RESOURCE)`,
        );
      if (done.has(n)) continue; // two asked sizes capped to the same count: measured once
      done.add(n);
      for (const kind of rotated(ctx.servers, i + ctx.run - 1)) {
        const srv = await tryStart(ctx, kind);
        if (!srv) continue;
        try {
          log(`connections: ${kind}, ${n} idle connections`);
          await sleep(800);
          const base = await steadyRss(srv.pid);
          const meter = new PhaseMeter({ server: srv.pids, gen: gen.pids() }).start();
          const c = await gen.connect(srv.wsUrl, n, { kind: 'none' }, { app: srv.app, concurrency: cfg.concurrency, localAddresses, timeoutMs: 30000 });
          const m = meter.stop();
          await sleep(cfg.settleMs);
          const rss = await steadyRss(srv.pid);
          const st = await gen.stats();
          if (c.failed) ctx.note(`connections ${kind} ${n}: ${c.failed} connects failed (${c.errorText})`);
          const sc = m.groups.server;
          ctx.emit({
            group: String(asked),
            server: kind,
            kind,
            asked,
            connections: n,
            open: st.open,
            failed: c.failed,
            connectPerSec: round(c.perSec, 0),
            connectP50: c.latency.p50,
            connectP99: c.latency.p99,
            baseRssMB: round(base / 1024, 1),
            rssMB: round(rss / 1024, 1),
            kbPerConn: c.ok ? round((rss - base) / c.ok, 2) : null,
            cpuUsPerConn: c.ok ? round((sc.cpuMs * 1000) / c.ok, 1) : null,
            serverCores: round(sc.cores, 2),
            connectMs: Math.round(c.elapsedMs),
            ...genFields(m),
          });
        } finally {
          await gen.closeAll();
          await srv.stop();
        }
      }
    }
  },
};
