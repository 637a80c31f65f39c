// many-channels: N connections, each on its own channel plus one shared channel. Triggers go to a
// random own channel (one delivery each); every sharedEvery-th goes to the shared channel (N deliveries).
// Measures signed triggers accepted per second (fixed rate, then closed-loop max), latency, loss,
// server CPU per trigger.
import { maxWindow, rotated, triggerPhase, tryStart } from '../lib/common.mjs';
import { log, sleep } from '../lib/util.mjs';

export default {
  name: 'many-channels',
  description: 'N connections each on its own channel plus a shared one; random triggers; signed triggers per second',
  sizes: {
    small: { conns: 2000, rate: 500, sharedEvery: 500, phaseMs: 3000, concurrency: 32, subscriberProcs: 2 },
    full: { conns: 10000, rate: 1000, sharedEvery: 1000, phaseMs: 10000, concurrency: 32, subscriberProcs: 2 },
  },
  workers: (cfg) => ({ subscribers: cfg.subscriberProcs, publishers: 1 }),
  ratioMetrics: [
    { key: 'tput', field: 'triggersPerSec' },
    { key: 'p99', field: 'p99' },
    { key: 'cpu', field: 'cpuUsPerTrigger' },
  ],
  columns: [
    ['server', (r) => r.server],
    ['phase', (r) => r.phase],
    ['conns', (r) => r.connections],
    ['trig/s', (r) => r.triggersPerSec],
    ['deliv/s', (r) => r.deliveredPerSec],
    ['http p50 ms', (r) => r.httpP50],
    ['http p99 ms', (r) => r.httpP99],
    ['e2e p50 ms', (r) => r.p50],
    ['e2e p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/trig', (r) => r.cpuUsPerTrigger],
    ['RSS MB', (r) => r.rssMB],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['trig/s ÷ ceil', (r) => r.vsCeiling?.tput],
    ['trig/s ÷ soketi', (r) => r.vsSoketi?.tput],
    ['p99 ÷ soketi', (r) => r.vsSoketi?.p99],
  ],
  async run(ctx) {
    const { cfg, gen } = ctx;
    const N = cfg.conns;
    for (const kind of rotated(ctx.servers, ctx.run - 1)) {
      const srv = await tryStart(ctx, kind);
      if (!srv) continue;
      try {
        log(`many-channels: ${kind}, ${N} connections on their own channel + shared`);
        const c = await gen.connect(srv.wsUrl, N, { kind: 'own', prefix: 'bench-own-', shared: 'bench-shared' }, { app: srv.app, concurrency: 100 });
        if (c.failed) ctx.note(`many-channels ${kind}: ${c.failed} of ${N} connections failed (${c.errorText})`);
        await sleep(300);
        for (const mode of ['fixed', 'max']) {
          const r = await triggerPhase(ctx, {
            target: srv,
            groups: { server: srv.pids },
            mode,
            // Connection indexes are 0..N-1, so bench-own-<random below N> always has one subscriber
            // (when every connection succeeded; failures show up as loss).
            channels: { kind: 'random', prefix: 'bench-own-', count: N, subs: 1, shared: 'bench-shared', sharedEvery: cfg.sharedEvery, sharedSubs: c.ok },
            rate: cfg.rate,
            durationMs: cfg.phaseMs,
            window: maxWindow(c.ok, 5000),
            concurrency: mode === 'max' ? cfg.concurrency : 64,
          });
          ctx.emit({ group: mode, server: kind, kind, connections: N, connected: c.ok, ...r });
        }
      } finally {
        await gen.closeAll();
        await srv.stop();
      }
    }
  },
};
