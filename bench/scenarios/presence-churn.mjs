// presence-churn: K presence channels, each watched by O observer members connected to node A;
// churner connections on node B join a random presence channel, wait for subscription_succeeded,
// leave, and join the next, as fast as the server answers. Join/leave rate, join-ack latency,
// member_added latency seen by the observers (from the joiner's user_info timestamp: across
// nodes in the clustered configurations), whether every member_added/member_removed arrived, and
// Redis commands per join+leave. Single-node configurations put both groups on the one node.
import { genFields, startNodes } from '../lib/common.mjs';
import { PhaseMeter } from '../lib/proc.mjs';
import { startRedis } from '../lib/servers.mjs';
import { log, redisCmd, redisCommandStats, round, sleep } from '../lib/util.mjs';

const IGNORED = new Set(['info', 'config|resetstat', 'config', 'ping']);

export default {
  name: 'presence-churn',
  description: 'join/leave rate on presence channels across nodes (observers on node A, churners on node B)',
  sizes: {
    small: { channels: 20, observers: 2, churners: 100, phaseMs: 3000 },
    full: { channels: 100, observers: 3, churners: 1000, phaseMs: 10000 },
  },
  workers: () => ({ subscribers: 2, publishers: 0 }),
  ratioMetrics: [
    { key: 'tput', field: 'joinsPerSec' },
    { key: 'p99', field: 'p99' },
    { key: 'cpu', field: 'cpuUsPerJoin' },
  ],
  columns: [
    ['server', (r) => r.server],
    ['nodes', (r) => r.nodes],
    ['churners', (r) => r.churners],
    ['joins/s', (r) => r.joinsPerSec],
    ['leaves/s', (r) => r.leavesPerSec],
    ['join ack p50 ms', (r) => r.joinP50],
    ['join ack p99 ms', (r) => r.joinP99],
    ['added p50 ms', (r) => r.p50],
    ['added p99 ms', (r) => r.p99],
    ['added seen', (r) => r.addedSeen],
    ['removed seen', (r) => r.removedSeen],
    ['srv CPU µs/join+leave', (r) => r.cpuUsPerJoin],
    ['redis cmds/join+leave', (r) => r.redisCmdsPerJoin],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['joins ÷ ceil', (r) => r.vsCeiling?.tput],
    ['joins ÷ soketi', (r) => r.vsSoketi?.tput],
    ['added p99 ÷ soketi', (r) => r.vsSoketi?.p99],
  ],
  async run(ctx) {
    const { cfg, gen } = ctx;
    const configs = [];
    if (ctx.servers.includes('ceiling')) configs.push({ server: 'ceiling', kind: 'ceiling', nodes: 1 });
    if (ctx.servers.includes('herald'))
      configs.push({ server: 'herald', kind: 'herald', nodes: 1 }, { server: 'herald-c2', kind: 'herald', nodes: 2, redis: true });
    if (ctx.servers.includes('soketi'))
      configs.push({ server: 'soketi', kind: 'soketi', nodes: 1 }, { server: 'soketi-c2', kind: 'soketi', nodes: 2, redis: true });
    // Each run starts at a different configuration (load on a shared machine drifts).
    configs.push(...configs.splice(0, (ctx.run - 1) % configs.length));
    const redis = configs.some((c) => c.redis) ? await startRedis() : null;
    const [obsWorker, churnWorker] = gen.subs;
    try {
      for (const c of configs) {
        const nodes = [];
        try {
          if (!(await startNodes(ctx, c, redis, nodes))) continue;
          const a = nodes[0];
          const b = nodes[nodes.length - 1];
          log(`presence-churn: ${c.server}: ${cfg.channels} channels x ${cfg.observers} observers on ${a.name}, ${cfg.churners} churners on ${b.name}`);
          const nObs = cfg.channels * cfg.observers;
          const o = await gen.connect(
            a.wsUrl,
            nObs,
            { kind: 'presence', prefix: 'presence-bench-', channels: cfg.channels, userPrefix: 'obs' },
            { app: a.app, workers: [obsWorker], concurrency: 50 },
          );
          const ch = await gen.connect(b.wsUrl, cfg.churners, { kind: 'none' }, { app: b.app, workers: [churnWorker], concurrency: 50 });
          if (o.failed || ch.failed)
            ctx.note(`presence-churn ${c.server}: ${o.failed} observer and ${ch.failed} churner connections failed (${o.errorText} ${ch.errorText})`);
          await sleep(500);
          await gen.newPhase();
          if (c.redis) await redisCmd(redis.port, 'CONFIG', 'RESETSTAT');
          const meter = new PhaseMeter({ server: nodes.flatMap((n) => n.pids), gen: gen.pids(), ...(c.redis ? { redis: redis.pids } : {}) }).start();
          const rs = await gen.churn({ durationMs: cfg.phaseMs, prefix: 'presence-bench-', channels: cfg.channels, userPrefix: `churn${ctx.run}` }, [
            churnWorker,
          ]);
          const churnMs = Math.max(...rs.map((r) => r.elapsedMs));
          const joins = rs.reduce((x, r) => x + r.joins, 0);
          const leaves = rs.reduce((x, r) => x + r.leaves, 0);
          // Observers only: churners also see each other's member events while they are members.
          const st = await gen.drain(leaves * cfg.observers, { field: 'removed', quietMs: 1000, maxMs: 6000, workers: [obsWorker] });
          const m = meter.stop();
          const stChurn = await gen.stats(gen.phase, [churnWorker]);
          const lat = st.addedHist.summaryMs();
          const join = stChurn.joinHist.summaryMs();
          for (const [k, v] of Object.entries(stChurn.errors)) st.errors[k] = (st.errors[k] ?? 0) + v;
          st.closedUnexpectedly += stChurn.closedUnexpectedly;
          const sc = m.groups.server;
          const row = {
            group: 'churn',
            server: c.server,
            kind: c.kind,
            nodes: c.nodes,
            channels: cfg.channels,
            observers: nObs,
            churners: cfg.churners,
            joins,
            leaves,
            joinsPerSec: round(joins / (churnMs / 1000), 0),
            leavesPerSec: round(leaves / (churnMs / 1000), 0),
            joinP50: join.p50,
            joinP99: join.p99,
            ...lat,
            addedSeen: joins ? round(st.added / (joins * cfg.observers), 4) : null,
            removedSeen: leaves ? round(st.removed / (leaves * cfg.observers), 4) : null,
            serverCores: round(sc.cores, 2),
            cpuUsPerJoin: joins ? round((sc.cpuMs * 1000) / joins, 1) : null,
            rssMB: round(sc.peakRssKb / 1024, 1),
            errors: Object.keys(st.errors).length ? st.errors : undefined,
            closedByServer: st.closedUnexpectedly,
            ...genFields(m),
          };
          if (c.redis) {
            const stats = await redisCommandStats(redis.port);
            let n = 0;
            for (const [k, v] of Object.entries(stats)) if (!IGNORED.has(k)) n += v;
            row.redisCmdsPerJoin = joins ? round(n / joins, 2) : null;
            row.redisTop = Object.entries(stats)
              .filter(([k]) => !IGNORED.has(k))
              .sort((x, y) => y[1] - x[1])
              .slice(0, 6)
              .map(([k, v]) => `${k}=${round(v / (joins || 1), 2)}`)
              .join(' ');
            row.redisCores = round(m.groups.redis.cores, 2);
          }
          ctx.emit(row);
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
