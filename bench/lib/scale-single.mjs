// The `scale` scenario's two single-gateway measurements: the reference fan-out latency of one
// embedded node at the rate the cluster's fan-out channel gets, and RSS per idle connection (one
// subscription each) on one clustered gateway at the most connections its fd limit allows.
import { PhaseMeter, rssKb } from './proc.mjs';
import { buildSpecs, LoadPool } from './scale-load.mjs';
import { startRedisDeployment, startGateway } from './scale-procs.mjs';
import { sourceAddresses } from './scale-pass.mjs';
import { APP, heraldAppsFile, serverFdLimit, startServer } from './servers.mjs';
import { WebSocket } from 'ws';
import { httpGet, log, nowUs, round, sleep } from './util.mjs';

/** Connections one client process holds at most (its fd limit, with room for reconnects). */
const perProcess = () => Math.max(100, serverFdLimit() - 1500);

async function steadyRss(pid) {
  const xs = [];
  for (let i = 0; i < 5; i++) {
    xs.push(rssKb(pid) ?? 0);
    await sleep(100);
  }
  return xs.sort((a, b) => a - b)[2];
}

/** Major garbage collections the gateway has run, from its /metrics (prom-client's GC histogram). */
async function majorGcs(apiBase) {
  const { body } = await httpGet(`${apiBase}/metrics`, 5000);
  const m = body.match(/^herald_process_nodejs_gc_duration_seconds_count\{[^}]*kind="major"[^}]*\} (\d+)/m);
  return m ? Number(m[1]) : 0;
}

/**
 * A full garbage collection in the gateway, asked through its inspector (SIGUSR1 opens it on
 * 127.0.0.1:9229; the gateway itself offers no way to ask): true once V8 has run it, false when the
 * inspector did not answer (the port taken, say).
 */
async function forceGc(pid) {
  process.kill(pid, 'SIGUSR1');
  let url;
  for (let i = 0; i < 50 && !url; i++) {
    const r = await httpGet('http://127.0.0.1:9229/json/list', 1000);
    if (r.status === 200) url = JSON.parse(r.body).find((t) => t.type === 'node')?.webSocketDebuggerUrl;
    if (!url) await sleep(100);
  }
  if (!url) return false;
  const ws = new WebSocket(url);
  try {
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const done = new Promise((resolve) => ws.on('message', (m) => JSON.parse(Buffer.isBuffer(m) ? m.toString('utf8') : '{}').id === 1 && resolve(true)));
    ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' }));
    return await Promise.race([done, sleep(30000).then(() => false)]);
  } catch {
    return false;
  } finally {
    ws.close();
  }
}

/**
 * RSS once the garbage of connecting is gone. Read right after connecting, RSS holds everything the
 * handshakes, subscriptions and Redis replies allocated: at 19,000 connections, 75 MB more than
 * once a major GC had run. V8 runs one by itself once allocation stops, but not always within a
 * minute and a half, so the gateway is asked for one; only if that fails does this wait for V8's
 * own (its first major GC since this call), or `backstopMs`.
 */
async function settledRss(gw, backstopMs) {
  const t0 = Date.now();
  if (await forceGc(gw.pid)) return { kb: await steadyRss(gw.pid), waitedS: round((Date.now() - t0) / 1000, 1), gc: true, by: 'forced' };
  const before = await majorGcs(gw.apiBase);
  while ((await majorGcs(gw.apiBase)) <= before && Date.now() - t0 < backstopMs) await sleep(500);
  const gc = Date.now() - t0 < backstopMs;
  return { kb: await steadyRss(gw.pid), waitedS: round((Date.now() - t0) / 1000, 1), gc, by: gc ? 'own' : 'none' };
}

/** One embedded node, `subs` subscribers on one channel, the fan-out stream at `rate` for `ms`. */
export async function singleNodeFanout(ctx, { subs, rate, ms, marginMs }) {
  const srv = await startServer('herald', { name: 'single' });
  const pool = new LoadPool();
  const procs = Math.max(1, Math.ceil(subs / perProcess()));
  try {
    await pool.start({
      procs,
      gateways: [{ idx: 0, wsUrl: srv.wsUrl, apiBase: srv.apiBase }],
      app: APP,
      localAddresses: sourceAddresses(procs),
      clientCfg: { maxConnectAttempts: 10 },
      ownCount: 1,
    });
    const specs = buildSpecs({ fanSubs: subs, privChannels: 0, presChannels: 0, presMembers: 0, ownConns: 0 }, procs, 1);
    const c = await pool.connect(specs, { concurrency: ctx.cfg.connectConcurrency, timeoutMs: ctx.cfg.connectTimeoutMs });
    if (c.ok !== subs) ctx.note(`single node: ${c.ok} of ${subs} subscribers connected`);
    await pool.setPhase(1);
    const startUs = nowUs();
    const meter = new PhaseMeter({ server: srv.pids, gen: pool.pids() }).start();
    await pool.load({ fanRate: rate });
    await sleep(ms);
    await pool.stopTriggers();
    const endUs = nowUs();
    await sleep(marginMs);
    const m = meter.stop();
    const st = await pool.stats(1);
    const loss = (await pool.loss([{ id: 1, startUs, endUs }], marginMs)).byPhase[1]?.streams.fan ?? { owed: 0, missing: 0 };
    const fan = Object.values(st.hist.fan ?? {})[0]?.summaryMs() ?? {};
    const delivered = st.deliv[0]?.fan ?? 0;
    return {
      group: 'single-node',
      kind: 'herald',
      server: 'embedded',
      subscribers: c.ok,
      rate,
      delivPerSec: round(delivered / ((endUs - startUs) / 1e6), 0),
      fanP50: fan.p50 ?? null,
      fanP99: fan.p99 ?? null,
      owed: loss.owed,
      missing: loss.missing,
      cores: round(m.groups.server.cores, 3),
      cpuUsPerMsg: delivered ? round((m.groups.server.cpuMs * 1000) / delivered, 2) : null,
      genCores: round(m.groups.gen.cores, 2),
      hostBusy: round(m.hostBusy, 2),
    };
  } finally {
    await pool.teardown().catch(() => {});
    await pool.stop();
    await srv.stop();
  }
}

/**
 * One clustered gateway on its own Redis, `count` idle connections, each subscribed to one channel:
 * a channel of its own (`shared` false: every subscription is also a channel, a topic and a Redis
 * interest) or one channel for all.
 */
export async function idleDensity(ctx, { count, settleMs, settleBackstopMs, shared = false }) {
  const redis = await startRedisDeployment('single');
  const pool = new LoadPool();
  let gw;
  try {
    gw = await startGateway({
      idx: 0,
      redis,
      prefix: `scale-density-${Date.now() % 100000}`,
      appsFile: heraldAppsFile({}),
      env: { PUSH_MAX_CONNECTIONS_PER_SECOND: '0' },
    });
    // Settled too: a gateway just started holds its start-up's garbage (about 20 MB) until its first
    // major GC, and a base taken before it makes the connections look cheaper than they are. (The
    // inspector the forced GC opens stays open: in the base as in the measure.)
    const baseKb = (await settledRss(gw, settleBackstopMs)).kb;
    const procs = Math.max(1, Math.ceil(count / perProcess()));
    await pool.start({ procs, gateways: [gw], app: APP, localAddresses: sourceAddresses(procs), clientCfg: { maxConnectAttempts: 10 }, ownCount: count });
    const mix = shared ? { fanSubs: count, ownConns: 0 } : { fanSubs: 0, ownConns: count };
    const specs = buildSpecs({ privChannels: 0, presChannels: 0, presMembers: 0, ...mix }, procs, 1);
    log(`scale: ${count} idle connections on one gateway, ${shared ? 'all on one channel' : 'each on a channel of its own'}`);
    const c = await pool.connect(specs, { concurrency: ctx.cfg.connectConcurrency, timeoutMs: ctx.cfg.connectTimeoutMs });
    await sleep(settleMs);
    const rss = await steadyRss(gw.pid);
    const settled = await settledRss(gw, settleBackstopMs);
    return {
      group: shared ? 'density-shared' : 'density',
      kind: 'herald',
      server: 'gateway',
      channels: shared ? 1 : c.ok,
      asked: count,
      connections: c.ok,
      connectS: round(c.ms / 1000, 1),
      baseRssMB: round(baseKb / 1024, 1),
      rssMB: round(settled.kb / 1024, 1),
      // Idle and settled (see settledRss); `kbPerConnRightAfter`: `settleMs` after the last connection.
      kbPerConn: c.ok ? round((settled.kb - baseKb) / c.ok, 2) : null,
      kbPerConnRightAfter: c.ok ? round((rss - baseKb) / c.ok, 2) : null,
      settledAfterS: settled.waitedS,
      settledByGc: settled.gc,
      // 'forced': a full GC asked through the inspector; 'own': V8's own first major GC; 'none': the backstop.
      settledBy: settled.by,
      fdLimit: serverFdLimit(),
    };
  } finally {
    await pool.teardown().catch(() => {});
    await pool.stop();
    await gw?.stop();
    await redis.stop();
  }
}
