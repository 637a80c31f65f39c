// fanout: C subscribers on one channel; signed HTTP triggers at a fixed rate of `fixedDeliveries`
// messages/s (fixedDeliveries / C triggers/s), then at the maximum rate (closed loop: the publisher
// keeps at most `window` deliveries outstanding, so the server is driven as fast as it and the
// generator can deliver without unbounded buffering).
import { maxWindow, rotated, triggerPhase, tryStart } from '../lib/common.mjs';
import { log, sleep } from '../lib/util.mjs';

export default {
  name: 'fanout',
  description: 'C subscribers on one channel; triggers through the signed HTTP API at a fixed and at the maximum rate',
  sizes: {
    small: { subs: [250, 500, 1000], fixedDeliveries: 50000, phaseMs: 2500, windowDeliveries: 50000, subscriberProcs: 2 },
    full: { subs: [1000, 5000, 10000], fixedDeliveries: 50000, phaseMs: 10000, windowDeliveries: 50000, subscriberProcs: 2 },
  },
  workers: (cfg) => ({ subscribers: cfg.subscriberProcs, publishers: 1 }),
  ratioMetrics: [
    { key: 'tput', field: 'deliveredPerSec' },
    { key: 'p99', field: 'p99' },
    { key: 'cpu', field: 'cpuUsPerMsg' },
  ],
  columns: [
    ['server', (r) => r.server],
    ['phase', (r) => r.phase],
    ['subs', (r) => r.subscribers],
    ['trig/s', (r) => r.triggersPerSec],
    ['deliv/s', (r) => r.deliveredPerSec],
    ['p50 ms', (r) => r.p50],
    ['p95 ms', (r) => r.p95],
    ['p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/msg', (r) => r.cpuUsPerMsg],
    ['srv cores', (r) => r.serverCores],
    ['RSS MB', (r) => r.rssMB],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['tput/ceil', (r) => r.vsCeiling?.tput],
    ['tput/soketi', (r) => r.vsSoketi?.tput],
    ['p99/ceil', (r) => r.vsCeiling?.p99],
    ['p99/soketi', (r) => r.vsSoketi?.p99],
  ],
  async run(ctx) {
    const { cfg, gen } = ctx;
    for (const [i, C] of cfg.subs.entries()) {
      for (const kind of rotated(ctx.servers, i + ctx.run - 1)) {
        const srv = await tryStart(ctx, kind);
        if (!srv) continue;
        try {
          log(`fanout: ${kind}, ${C} subscribers`);
          const c = await gen.connect(srv.wsUrl, C, { kind: 'single', name: 'bench-fanout' }, { app: srv.app });
          if (c.failed) ctx.note(`fanout ${kind} C=${C}: ${c.failed} of ${C} connections failed (${c.errorText})`);
          await sleep(300);
          for (const mode of ['fixed', 'max']) {
            const r = await triggerPhase(ctx, {
              target: srv,
              groups: { server: srv.pids },
              mode,
              channels: { kind: 'single', name: 'bench-fanout', subs: c.ok },
              // The fixed phase runs at a moderate delivery rate (issue 8: 50,000 deliveries/s), whatever C.
              rate: cfg.rate ?? Math.max(1, Math.round(cfg.fixedDeliveries / C)),
              durationMs: cfg.phaseMs,
              window: maxWindow(c.ok, cfg.windowDeliveries),
            });
            ctx.emit({ group: `${C} ${mode}`, server: kind, kind, subscribers: C, connected: c.ok, connectPerSec: Math.round(c.perSec), ...r });
          }
        } finally {
          await gen.closeAll();
          await srv.stop();
        }
      }
    }
  },
};
