// Pieces shared by the scenarios: starting a server by kind (soketi may be unavailable), and one
// measured trigger phase (publish, drain, merge, CPU/RSS of servers and generator).
import os from 'node:os';
import { Hist } from './hist.mjs';
import { PhaseMeter } from './proc.mjs';
import { startServer } from './servers.mjs';
import { log, round } from './util.mjs';

/**
 * The servers in a rotated order (by run and step), so that a shared machine's load drifting over
 * a run does not always favour the same server.
 */
export function rotated(list, k) {
  if (list.length === 0) return list;
  const n = ((k % list.length) + list.length) % list.length;
  return [...list.slice(n), ...list.slice(0, n)];
}

/** Starts a server; a soketi that cannot be installed or started is noted and skipped (null). */
export async function tryStart(ctx, kind, opts = {}) {
  await ctx.awaitQuiet?.();
  try {
    return await startServer(kind, opts);
  } catch (err) {
    if (kind === 'soketi') {
      ctx.note(`soketi could not be started: ${err.message.split('\n')[0].slice(0, 300)}`);
      return null;
    }
    throw err;
  }
}

/**
 * The nodes of one configuration `{ server, kind, nodes, redis }`: named `<server>-A`, `-B`…, on the
 * private Redis with a key prefix of their own when `redis` is set. Pushes each started node into
 * `into` (so the caller stops whatever started) and returns false when one could not start.
 */
export async function startNodes(ctx, c, redis, into) {
  const prefix = `hb${ctx.run}-${c.server}-${Date.now() % 100000}`;
  for (let i = 0; i < c.nodes; i++) {
    const s = await tryStart(ctx, c.kind, { name: `${c.server}-${String.fromCharCode(65 + i)}`, ...(c.redis ? { redisPort: redis.port, prefix } : {}) });
    if (!s) return false;
    into.push(s);
  }
  return true;
}

/**
 * Generator health: CPU of its processes, and which resource ran out first. A single-threaded
 * server process near one full core is server-bound; a generator process near one core means the
 * numbers are a floor for the server, not its limit; a machine near all of its cores (server and
 * generator share 2 cores here, and the machine is shared) is machine-bound.
 */
export function genFields(m) {
  const g = m.groups.gen;
  const srvMax = Math.max(
    0,
    ...Object.entries(m.groups)
      .filter(([k]) => k.startsWith('server'))
      .map(([, v]) => v.maxProcCores),
  );
  const ours = Object.values(m.groups).reduce((a, v) => a + v.cores, 0);
  const nproc = os.availableParallelism?.() ?? os.cpus().length;
  const bound = srvMax > 0.9 ? 'server' : g.maxProcCores > 0.9 ? 'generator' : m.hostBusy > 0.95 ? 'machine' : '-';
  return {
    genCores: round(g.cores, 2),
    genMaxProcCores: round(g.maxProcCores, 2),
    genProcCores: g.procCores?.map((c) => round(c, 2)),
    serverMaxProcCores: round(srvMax, 2),
    hostBusy: round(m.hostBusy, 2),
    // CPU used on this machine by processes that are not part of the measurement (other tenants).
    otherCores: round(Math.max(0, m.hostBusy * nproc - ours), 2),
    genSaturated: g.maxProcCores > 0.9,
    bound,
  };
}

/**
 * One measured phase of HTTP triggers: the publisher process posts signed triggers (fixed rate or
 * closed-loop max), subscriber processes count deliveries and latencies.
 * groups: { server: [pids], redis?: [pids], ... } measured besides the generator.
 */
export async function triggerPhase(ctx, { target, groups, mode, channels, rate, durationMs, window, concurrency, payloadBytes = 100 }) {
  const { gen } = ctx;
  await gen.newPhase({ report: mode === 'max' });
  const meter = new PhaseMeter({ ...groups, gen: gen.pids() }).start();
  const pub = await gen.publish({
    apiBase: target.apiBase,
    app: target.app,
    channels,
    mode,
    rate,
    durationMs,
    window,
    concurrency: concurrency ?? (mode === 'max' ? 16 : 64),
    payloadBytes,
  });
  const st = await gen.drain(pub.expectedOk, { quietMs: 700, maxMs: 6000 });
  const m = meter.stop();
  const delivered = st.delivered;
  const expected = pub.expectedOk;
  // Throughput from the first trigger to the last delivery (the drain's quiet wait excluded).
  const windowMs = st.lastUs > pub.t0Us ? Math.max(pub.sendMs, (st.lastUs - pub.t0Us) / 1000) : m.elapsedMs;
  const lat = st.hist.summaryMs();
  const http = Hist.from(pub.http).summaryMs();
  const serverCpuMs = Object.entries(m.groups)
    .filter(([k]) => k.startsWith('server'))
    .reduce((a, [, v]) => a + v.cpuMs, 0);
  const serverCores = serverCpuMs / m.elapsedMs;
  const serverRssKb = Object.entries(m.groups)
    .filter(([k]) => k.startsWith('server'))
    .reduce((a, [, v]) => a + v.peakRssKb, 0);
  const out = {
    phase: mode,
    triggers: pub.ok,
    triggersFailed: pub.failed,
    triggersPerSec: round(pub.ok / (pub.sendMs / 1000), 1),
    httpStatus: pub.status,
    httpP50: http.p50,
    httpP99: http.p99,
    expected,
    delivered,
    deliveredPerSec: round(delivered / (windowMs / 1000), 0),
    loss: expected > 0 ? round(Math.max(0, 1 - delivered / expected), 5) : null,
    p50: lat.p50,
    p95: lat.p95,
    p99: lat.p99,
    max: lat.max,
    serverCores: round(serverCores, 2),
    cpuUsPerMsg: delivered > 0 ? round((serverCpuMs * 1000) / delivered, 2) : null,
    cpuUsPerTrigger: pub.ok > 0 ? round((serverCpuMs * 1000) / pub.ok, 1) : null,
    rssMB: round(serverRssKb / 1024, 1),
    stalls: pub.stalls,
    closedByServer: st.closedUnexpectedly,
    errors: Object.keys(st.errors).length ? st.errors : undefined,
    // HTTP fallback clients: receive requests, sends, and streams renewed past 256 KB during the phase.
    ...(st.xhrReceives > 0 ? { xhrReceives: st.xhrReceives, xhrSends: st.xhrSends, xhrRenewals: st.xhrRenewals } : {}),
    elapsedMs: Math.round(m.elapsedMs),
    ...genFields(m),
  };
  if (m.groups.redis) {
    out.redisCores = round(m.groups.redis.cores, 2);
    out.redisCpuUsPerTrigger = pub.ok > 0 ? round((m.groups.redis.cpuMs * 1000) / pub.ok, 1) : null;
  }
  if (out.loss > 0.001 || st.closedUnexpectedly)
    log(`  note: loss ${out.loss}, closed by server ${st.closedUnexpectedly}, errors ${JSON.stringify(st.errors)}`);
  return out;
}

/** Window (outstanding deliveries) for the closed-loop max rate: at most a few tens of KB per socket
 * (250 subscribers: 200 messages of ~150 B), far below any server's backpressure limit. */
export function maxWindow(subsPerMsg, deliveries) {
  return Math.max(2 * subsPerMsg, deliveries ?? 50000);
}
