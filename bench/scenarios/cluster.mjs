// cluster: gateways on one private Redis. Subscribers on node A, triggers through node B (through A
// when there is one node), idle nodes C, D added. Throughput and latency against single-node
// Herald (embedded, no Redis) and the ceiling in the same run; Redis commands per published
// message from INFO commandstats as nodes are added (must stay flat: idle nodes subscribe to
// nothing). soketi 1.6.1 single and as 2 nodes on its Redis adapter for comparison.
import { maxWindow, startNodes, triggerPhase } from '../lib/common.mjs';
import { startRedis } from '../lib/servers.mjs';
import { diffCounts, log, redisCmd, redisCommandStats, round, sleep } from '../lib/util.mjs';

const IGNORED = new Set(['info', 'config|resetstat', 'config', 'ping']);

function sumCalls(stats) {
  let n = 0;
  for (const [k, v] of Object.entries(stats)) if (!IGNORED.has(k)) n += v;
  return n;
}

function topCommands(stats, per) {
  return Object.entries(stats)
    .filter(([k]) => !IGNORED.has(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, v]) => `${k}=${round(v / per, 3)}`)
    .join(' ');
}

export default {
  name: 'cluster',
  description: 'subscribers on node A, triggers through node B, idle nodes added 1→4; Redis commands per published message',
  sizes: {
    small: { subs: 500, nodes: [1, 2, 4], rate: 50, phaseMs: 2000, idleMs: 800, windowDeliveries: 50000, subscriberProcs: 2 },
    full: { subs: 5000, nodes: [1, 2, 3, 4], rate: 50, phaseMs: 8000, idleMs: 3000, windowDeliveries: 50000, subscriberProcs: 2 },
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
    ['nodes', (r) => r.nodes],
    ['trig/s', (r) => r.triggersPerSec],
    ['deliv/s', (r) => r.deliveredPerSec],
    ['p50 ms', (r) => r.p50],
    ['p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/msg', (r) => r.cpuUsPerMsg],
    ['redis cmds/msg', (r) => r.redisCmdsPerMsg],
    ['idle cmds/s', (r) => r.redisIdleCmdsPerSec],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['tput/single', (r) => r.vsSingle?.tput],
    ['p99/single', (r) => r.vsSingle?.p99],
    ['tput/ceil', (r) => r.vsCeiling?.tput],
    ['tput/soketi', (r) => r.vsSoketi?.tput],
    ['p99/soketi', (r) => r.vsSoketi?.p99],
  ],
  /** Ratios to single-node Herald (embedded) of the same run and phase. */
  postprocess(rows) {
    for (const r of rows) {
      if (r.kind !== 'herald' || r.server === 'herald') continue;
      const base = rows.find((o) => o.run === r.run && o.group === r.group && o.server === 'herald');
      if (!base) continue;
      const q = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? round(a / b, 3) : null);
      r.vsSingle = { tput: q(r.deliveredPerSec, base.deliveredPerSec), p99: q(r.p99, base.p99), p50: q(r.p50, base.p50), of: 'herald' };
    }
  },
  extraTables(rows) {
    const cmd = rows.filter((r) => r.redisCmdsPerMsg !== undefined);
    if (!cmd.length) return [];
    return [
      {
        title: 'Redis commands per published message (net of the idle rate), by command',
        rows: cmd,
        columns: [
          ['server', (r) => r.server],
          ['phase', (r) => r.phase],
          ['nodes', (r) => r.nodes],
          ['cmds/msg', (r) => r.redisCmdsPerMsg],
          ['raw cmds/msg', (r) => r.redisRawCmdsPerMsg],
          ['redis CPU µs/trigger', (r) => r.redisCpuUsPerTrigger],
          ['commands', (r) => r.redisTop],
        ],
      },
    ];
  },
  async run(ctx) {
    const { cfg, gen } = ctx;
    const configs = [];
    if (ctx.servers.includes('ceiling')) configs.push({ server: 'ceiling', kind: 'ceiling', nodes: 1 });
    if (ctx.servers.includes('herald')) {
      configs.push({ server: 'herald', kind: 'herald', nodes: 1 });
      for (const n of cfg.nodes) configs.push({ server: `herald-c${n}`, kind: 'herald', nodes: n, redis: true });
    }
    if (ctx.servers.includes('soketi')) {
      configs.push({ server: 'soketi', kind: 'soketi', nodes: 1 });
      configs.push({ server: 'soketi-c2', kind: 'soketi', nodes: 2, redis: true });
    }
    // Each run starts at a different configuration (load on a shared machine drifts).
    configs.push(...configs.splice(0, (ctx.run - 1) % configs.length));
    const redis = configs.some((c) => c.redis) ? await startRedis() : null;
    try {
      for (const c of configs) {
        const nodes = [];
        try {
          if (!(await startNodes(ctx, c, redis, nodes))) continue;
          const a = nodes[0];
          const b = nodes[Math.min(1, nodes.length - 1)];
          log(`cluster: ${c.server} (${c.nodes} node${c.nodes > 1 ? 's' : ''}), ${cfg.subs} subscribers on ${a.name}, triggers through ${b.name}`);
          const conn = await gen.connect(a.wsUrl, cfg.subs, { kind: 'single', name: 'bench-cluster' }, { app: a.app });
          if (conn.failed) ctx.note(`cluster ${c.server}: ${conn.failed} of ${cfg.subs} connections failed (${conn.errorText})`);
          await sleep(500); // let node A's topic subscription reach Redis
          let idlePerSec;
          if (c.redis) {
            await redisCmd(redis.port, 'CONFIG', 'RESETSTAT');
            await sleep(cfg.idleMs);
            idlePerSec = sumCalls(await redisCommandStats(redis.port)) / (cfg.idleMs / 1000);
          }
          for (const mode of ['fixed', 'max']) {
            if (c.redis) await redisCmd(redis.port, 'CONFIG', 'RESETSTAT');
            const r = await triggerPhase(ctx, {
              target: b,
              groups: { server: nodes.flatMap((n) => n.pids), ...(c.redis ? { redis: redis.pids } : {}) },
              mode,
              channels: { kind: 'single', name: 'bench-cluster', subs: conn.ok },
              rate: cfg.rate,
              durationMs: cfg.phaseMs,
              window: maxWindow(conn.ok, cfg.windowDeliveries),
            });
            const row = { group: mode, server: c.server, kind: c.kind, nodes: c.nodes, subscribers: cfg.subs, ...r };
            if (c.redis) {
              const stats = await redisCommandStats(redis.port);
              const raw = sumCalls(stats);
              const net = Math.max(0, raw - (idlePerSec * r.elapsedMs) / 1000);
              row.redisRawCmdsPerMsg = r.triggers ? round(raw / r.triggers, 3) : null;
              row.redisCmdsPerMsg = r.triggers ? round(net / r.triggers, 3) : null;
              row.redisIdleCmdsPerSec = round(idlePerSec, 1);
              row.redisTop = topCommands(diffCounts(stats, {}), r.triggers || 1);
            }
            ctx.emit(row);
          }
        } finally {
          await gen.closeAll();
          await Promise.all(nodes.map((n) => n.stop()));
          if (redis) await redisCmd(redis.port, 'FLUSHALL').catch(() => {});
        }
      }
    } finally {
      await redis?.stop();
    }
  },
};
