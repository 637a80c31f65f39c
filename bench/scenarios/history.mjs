// history: message recovery's cost. C subscribers on one channel of an app with history on, then
// of the same app with history off, in the same run, embedded and as one gateway on a private
// Redis; server CPU per delivered message for each at the same fixed rate, and (Redis) the memory
// one channel's history takes once far more than `size` events were published.
import { maxWindow, rotated, triggerPhase, tryStart } from '../lib/common.mjs';
import { heraldAppsFile, startRedis } from '../lib/servers.mjs';
import { log, redisCmd, round, sleep } from '../lib/util.mjs';

const CHANNEL = 'bench-history';

export default {
  name: 'history',
  description: 'C subscribers on one channel, history on vs off in the same run (embedded and on Redis): CPU per delivered message, Redis memory per channel',
  sizes: {
    small: {
      subs: 1000,
      fixedDeliveries: 50000,
      phaseMs: 3000,
      windowDeliveries: 50000,
      subscriberProcs: 2,
      size: 100,
      ttlSeconds: 600,
      modes: ['embedded', 'redis'],
    },
    full: {
      subs: 5000,
      fixedDeliveries: 50000,
      phaseMs: 10000,
      windowDeliveries: 50000,
      subscriberProcs: 2,
      size: 100,
      ttlSeconds: 600,
      modes: ['embedded', 'redis'],
    },
  },
  workers: (cfg) => ({ subscribers: cfg.subscriberProcs, publishers: 1 }),
  ratioMetrics: [],
  columns: [
    ['server', (r) => r.server],
    ['history', (r) => r.history],
    ['subs', (r) => r.subscribers],
    ['trig/s', (r) => r.triggersPerSec],
    ['deliv/s', (r) => r.deliveredPerSec],
    ['p50 ms', (r) => r.p50],
    ['p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/msg', (r) => r.cpuUsPerMsg],
    ['on/off CPU', (r) => r.cpuOnOverOff],
    ['redis µs/trig', (r) => r.redisCpuUsPerTrigger],
    ['hist entries', (r) => r.historyEntries],
    ['hist bytes', (r) => r.historyBytes],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
  ],
  /** Each run's history-on row gets its CPU per delivered message over the same run's history-off one. */
  postprocess(rows) {
    for (const on of rows.filter((r) => r.history === 'on')) {
      const off = rows.find((r) => r.history === 'off' && r.server === on.server);
      if (off?.cpuUsPerMsg) on.cpuOnOverOff = round(on.cpuUsPerMsg / off.cpuUsPerMsg, 3);
    }
  },
  async run(ctx) {
    const { cfg, gen } = ctx;
    const C = cfg.subs;
    for (const mode of cfg.modes) {
      // Which goes first alternates between runs, so that warm-up or drift favours neither.
      for (const history of rotated(['off', 'on'], ctx.run - 1)) {
        const redis = mode === 'redis' ? await startRedis() : undefined;
        const appsFile = heraldAppsFile(history === 'on' ? { history: { size: cfg.size, ttlSeconds: cfg.ttlSeconds } } : {});
        const srv = await tryStart(ctx, 'herald', { name: `herald-${mode}-${history}`, appsFile, ...(redis ? { redisPort: redis.port, prefix: 'hb' } : {}) });
        try {
          log(`history: ${mode}, history ${history}, ${C} subscribers`);
          const c = await gen.connect(srv.wsUrl, C, { kind: 'single', name: CHANNEL }, { app: srv.app });
          if (c.failed) ctx.note(`history ${mode} ${history}: ${c.failed} of ${C} connections failed (${c.errorText})`);
          await sleep(300);
          const r = await triggerPhase(ctx, {
            target: srv,
            groups: { server: srv.pids, ...(redis ? { redis: redis.pids } : {}) },
            mode: 'fixed',
            channels: { kind: 'single', name: CHANNEL, subs: c.ok },
            rate: cfg.rate ?? Math.max(1, Math.round(cfg.fixedDeliveries / C)),
            durationMs: cfg.phaseMs,
            window: maxWindow(c.ok, cfg.windowDeliveries),
          });
          const row = { group: `${mode} ${history}`, server: `herald-${mode}`, kind: 'herald', history, subscribers: C, connected: c.ok, ...r };
          if (redis && history === 'on') {
            const base = `hb:{${srv.app.id}:${CHANNEL}}`;
            row.historyEntries = Number(await redisCmd(redis.port, 'LLEN', `${base}:hl`));
            row.historyBytes =
              Number(await redisCmd(redis.port, 'MEMORY', 'USAGE', `${base}:hl`)) + Number(await redisCmd(redis.port, 'MEMORY', 'USAGE', `${base}:hm`));
          }
          ctx.emit(row);
        } finally {
          await gen.closeAll();
          await srv.stop();
          await redis?.stop();
        }
      }
    }
  },
};
