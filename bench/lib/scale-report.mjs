// The `scale` scenario's rows and verdicts from a pass's raw measurements: per phase and gateway
// (connections, RSS, CPU per delivered message, deliveries/s, latency, loss), Redis per phase,
// each fault's recovery, the webhooks; and the invariants whose failure fails the run.
import os from 'node:os';
import { Hist } from './hist.mjs';
import { judgeWebhooks } from './scale-webhooks.mjs';
import { round } from './util.mjs';

const NPROC = os.availableParallelism?.() ?? os.cpus().length;
const STREAMS = ['fan', 'own', 'ce', 'mem'];
const sum = (o) => Object.values(o ?? {}).reduce((a, v) => a + v, 0);
const sec = (ms) => (ms === null || ms === undefined ? null : round(ms / 1000, 1));

/** What ran out first in a phase: a gateway's event loop, Redis, a generator process, or the machine. */
function bound(m) {
  const g = m.groups;
  const maxOf = (pred) =>
    Math.max(
      0,
      ...Object.entries(g)
        .filter(([k]) => pred(k))
        .map(([, v]) => v.maxProcCores),
    );
  if (maxOf((k) => k.startsWith('gw')) > 0.9) return 'gateway';
  if (maxOf((k) => k === 'redis') > 0.9) return 'redis';
  if (maxOf((k) => k === 'gen') > 0.9) return 'generator';
  return m.hostBusy > 0.95 ? 'machine' : '-';
}

function machineFields(m) {
  const ours = Object.values(m.groups).reduce((a, v) => a + v.cores, 0);
  return {
    genCores: round(m.groups.gen.cores, 2),
    genMaxProcCores: round(m.groups.gen.maxProcCores, 2),
    hostBusy: round(m.hostBusy, 2),
    otherCores: round(Math.max(0, m.hostBusy * NPROC - ours), 2),
    bound: bound(m),
  };
}

/** Rows per phase: one per gateway, one for the whole cluster (`all`), and Redis. */
export function phaseRows(pass) {
  const rows = [];
  // Redis's background commands (lease renewals, the workers' polls), measured while idle.
  const idle = pass.phases.find((p) => p.name === 'idle');
  const idleIdx = pass.phases.indexOf(idle);
  const idlePerSec = idle ? idle.cmds.calls / ((pass.phases[idleIdx + 1].startUs - idle.startUs) / 1e6) : 0;
  pass.phases.forEach((p, i) => {
    const next = pass.phases[i + 1];
    const durS = ((next?.startUs ?? p.endUs) - p.startUs) / 1e6;
    const loss = pass.loss[p.id] ?? { streams: {}, byGw: {} };
    const st = p.stats;
    const base = { group: `${pass.kind}/${p.name}`, kind: 'herald', pass: pass.kind, phase: p.name, seconds: round(durS, 1) };
    const all = { delivered: 0, cpuMs: 0, conns: 0, rssKb: 0, baseKb: 0, hist: new Hist(), owed: 0, missing: 0 };
    for (let gw = 0; gw < pass.gateways; gw++) {
      const grp = p.m.groups[`gw${gw}`];
      const d = st.deliv[gw] ?? {};
      const delivered = STREAMS.reduce((a, s) => a + (d[s] ?? 0), 0);
      const conns = p.counts.byGw[gw]?.open ?? 0;
      const rss = p.rssKb[gw];
      const fanH = st.hist.fan?.[gw];
      const lossGw = loss.byGw[gw] ?? { owed: 0, missing: 0, cut: 0 };
      if (!grp && !delivered && !rss) continue;
      const fan = fanH?.summaryMs();
      rows.push({
        ...base,
        server: `gw${gw}`,
        conns,
        rssMB: rss ? round(rss / 1024, 1) : null,
        kbPerConn: rss && conns ? round((rss - p.baseRssKb[gw]) / conns, 2) : null,
        cores: grp ? round(grp.cores, 3) : null,
        cpuUsPerMsg: grp && delivered ? round((grp.cpuMs * 1000) / delivered, 2) : null,
        delivPerSec: round(delivered / durS, 0),
        fanP50: fan?.p50 ?? null,
        fanP99: fan?.p99 ?? null,
        ceP99: st.hist.ce?.[gw]?.summaryMs().p99 ?? null,
        owed: lossGw.owed,
        missing: lossGw.missing,
        cutInFlight: lossGw.cut ?? 0,
        closes: Object.entries(st.closes)
          .filter(([k]) => k.startsWith(`${gw}:`))
          .reduce((a, [, v]) => a + v, 0),
      });
      all.delivered += delivered;
      all.cpuMs += grp?.cpuMs ?? 0;
      all.conns += conns;
      all.rssKb += rss ?? 0;
      all.baseKb += rss ? p.baseRssKb[gw] : 0;
      if (fanH) all.hist.merge(fanH);
    }
    const fan = all.hist.summaryMs();
    const owed = Object.values(loss.streams).reduce((a, s) => a + s.owed, 0);
    const missing = Object.values(loss.streams).reduce((a, s) => a + s.missing, 0);
    // Owed but still inside the server when it cut the subscription (scale-loss.mjs): not loss.
    const cutInFlight = Object.values(loss.streams).reduce((a, s) => a + (s.cut ?? 0), 0);
    const triggers = Object.values(st.triggers).reduce((a, t) => a + t.ok, 0);
    const published = triggers + st.ceSent;
    rows.push({
      ...base,
      server: 'all',
      conns: all.conns,
      rssMB: round(all.rssKb / 1024, 1),
      kbPerConn: all.conns ? round((all.rssKb - all.baseKb) / all.conns, 2) : null,
      cores: round(all.cpuMs / p.m.elapsedMs, 3),
      cpuUsPerMsg: all.delivered ? round((all.cpuMs * 1000) / all.delivered, 2) : null,
      delivPerSec: round(all.delivered / durS, 0),
      fanP50: fan.p50,
      fanP99: fan.p99,
      // The same deliveries as seen by the probe process (a few subscribers and nothing else).
      probeFanP50: st.probeFan?.n ? st.probeFan.summaryMs().p50 : null,
      probeFanP99: st.probeFan?.n ? st.probeFan.summaryMs().p99 : null,
      ceP99: mergeGws(st.hist.ce).summaryMs().p99,
      ownP99: mergeGws(st.hist.own).summaryMs().p99,
      // From a closing pusher:error (4200 of a drain, 4201...) to the close event, at the client.
      closeLagP99Ms: st.hist.closeLag ? mergeGws(st.hist.closeLag).summaryMs().p99 : null,
      closeLagMaxMs: st.hist.closeLag ? mergeGws(st.hist.closeLag).summaryMs().max : null,
      // The parts of it: until the server's close frame was read, and until its FIN came.
      closeFrameLagP99Ms: st.hist.closeFrameLag ? mergeGws(st.hist.closeFrameLag).summaryMs().p99 : null,
      finLagP99Ms: st.hist.finLag ? mergeGws(st.hist.finLag).summaryMs().p99 : null,
      owed,
      missing,
      loss: owed ? round(missing / owed, 6) : null,
      cutInFlight,
      away: Object.values(loss.streams).reduce((a, s) => a + s.away, 0),
      marginMs: p.marginMs,
      streams: loss.streams,
      missingExamples: pass.lossExamples?.filter((e) => e.phase === p.id),
      dupes: st.dupes,
      closes: sum(st.closes),
      closesByGwCode: st.closes,
      dialFails: st.dialFails,
      triggersOk: triggers,
      triggersByGw: st.triggers,
      clientEvents: st.ceSent,
      churnLeaves: st.leaves,
      workerCores: round(p.m.groups.workers.cores, 3),
      redisCores: round(p.m.groups.redis.cores, 3),
      redisMB: round(p.redisMemBytes / 2 ** 20, 1),
      redisCmdsPerSec: round(p.cmds.calls / durS, 0),
      redisCmdsPerMsg: published ? round(p.cmds.calls / published, 2) : null,
      redisNetCmdsPerMsg: published ? round(Math.max(0, p.cmds.calls - idlePerSec * durS) / published, 2) : null,
      redisIdleCmdsPerSec: round(idlePerSec, 0),
      redisShardShare: p.cmds.perShard.length > 1 ? p.cmds.perShard.map((n) => round(n / Math.max(1, p.cmds.calls), 2)) : undefined,
      redisTop: topCommands(p.cmds.total, published),
      errors: Object.keys(st.errors).length ? st.errors : undefined,
      // Machine-wide: connections the gateways' listen queues dropped (the clients' SYN retried later).
      listenOverflows: p.tcp?.listenOverflows ?? null,
      synRetrans: p.tcp?.synRetrans ?? null,
      genLagP99Ms: st.genLagMs ? round(st.genLagMs.p99, 0) : null,
      genLagMaxMs: st.genLagMs ? round(st.genLagMs.max, 0) : null,
      // Gateways' shared state: dead nodes reaped (by whom, how many entries, when in the phase) and
      // local state registered again (a lease that lapsed under load, a Redis reconnect).
      reaped: p.lifecycle
        .filter((e) => e.msg === 'removed state of a dead node')
        .map((e) => ({ by: e.gw, node: e.deadNode, entries: e.entries, s: round((e.atUs - p.startUs) / 1e6, 1) })),
      reRegistered: p.lifecycle
        .filter((e) => e.msg !== 'removed state of a dead node')
        .map((e) => ({ gw: e.gw, msg: e.msg, entries: e.entries, gapMs: e.gapMs, rttMs: e.rttMs, s: round((e.atUs - p.startUs) / 1e6, 1) })),
      ...machineFields(p.m),
      ...(p.connect
        ? {
            asked: p.asked,
            connected: p.connect.ok,
            connectFailed: p.connect.failed + p.connect.pending,
            connectS: sec(p.connect.ms),
            connectP99: p.connect.connect.p99,
          }
        : {}),
      ...(p.arrivalsMs !== undefined ? { arrivalsS: sec(p.arrivalsMs) } : {}),
    });
  });
  return rows;
}

function mergeGws(byGw) {
  const h = new Hist();
  for (const x of Object.values(byGw ?? {})) h.merge(x);
  return h;
}

function topCommands(total, per) {
  return Object.entries(total)
    .filter(([k]) => !['info', 'config|resetstat', 'config', 'ping', 'cluster|info'].includes(k))
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([k, v]) => `${k}=${round(v / Math.max(1, per), 2)}`)
    .join(' ');
}

/** One row per fault: how the cluster recovered. */
export function faultRows(pass) {
  return pass.phases
    .filter((p) => p.faultUs)
    .map((p) => {
      const survivorsCloses = Object.entries(p.stats.closes)
        .filter(([k]) => Number(k.split(':')[0]) !== p.victim || p.name === 'worker-kill')
        .reduce((a, [, v]) => a + v, 0);
      const survivorTriggerFailures = Object.entries(p.stats.triggers)
        .filter(([gw]) => Number(gw) !== p.victim || p.name === 'worker-kill')
        .reduce((a, [, t]) => a + t.refused + t.uncertain, 0);
      const survivorTriggerWhy = {};
      for (const [gw, t] of Object.entries(p.stats.triggers))
        if (Number(gw) !== p.victim || p.name === 'worker-kill')
          for (const [why, n] of Object.entries(t.why ?? {})) survivorTriggerWhy[why] = (survivorTriggerWhy[why] ?? 0) + n;
      const pct = (q, sorted = p.backMs ?? []) => (sorted.length ? sec(sorted[Math.min(sorted.length - 1, Math.ceil((q / 100) * sorted.length) - 1)]) : null);
      return {
        group: `fault:${pass.kind}:${p.name}`,
        kind: 'herald',
        server: pass.kind,
        pass: pass.kind,
        fault: p.name,
        victim: p.name === 'worker-kill' ? `wk${p.victim}` : `gw${p.victim}`,
        cut: p.cut ?? null,
        back: p.back ?? null,
        backP50S: pct(50),
        backP99S: pct(99),
        allBackS: sec(p.allBackMs),
        downP50S: pct(50, p.downMs),
        downP99S: pct(99, p.downMs),
        downMaxS: sec(p.downMs?.at(-1)),
        exactS: sec(p.exactMs),
        exactChecks: p.exactChecks,
        exactLast: p.exactMs === null ? p.exactLast : undefined,
        exactTrace: p.exactTrace,
        webhooksAgreeS: sec(p.webhooksAgreeMs),
        exitedS: sec(p.exitedMs),
        survivorCloses: survivorsCloses,
        survivorTriggerFailures,
        survivorTriggerWhy,
        listenOverflows: p.tcp?.listenOverflows ?? null,
        survivorReadyFailures: Object.entries(p.readyFailures)
          .filter(([gw]) => Number(gw) !== p.victim || p.name === 'worker-kill')
          .reduce((a, [, n]) => a + n, 0),
        // Every gateway's failed checks in the phase by reason (the victim's included).
        readyFailureReasons: p.readyFailureReasons,
      };
    });
}

/** The pass's webhooks, judged; one row. */
export function webhookRow(pass, { webhookDelayMs }) {
  const wk = pass.phases.find((p) => p.name === 'worker-kill');
  // From each gateway fault until the REST API was exact again (or the end of its phase).
  const unsettled = pass.phases
    .filter((p) => p.faultUs && p.name !== 'worker-kill')
    .map((p) => [p.faultUs, p.exactMs === null ? p.endUs : p.faultUs + p.exactMs * 1000]);
  const j = judgeWebhooks({ records: pass.records, channels: pass.channels, churn: pass.churn, phases: pass.windows, tornDown: true, unsettled });
  const dupesBeforeKill = Object.entries(j.dupesByPhase)
    .filter(([id]) => Number(id) < wk.id)
    .reduce((a, [, n]) => a + n, 0);
  const lat = {};
  for (const [id, h] of Object.entries(j.latency)) lat[pass.phases.find((p) => p.id === Number(id))?.name ?? id] = h.summaryMs();
  const steadyLat = Object.values(j.latency)
    .reduce((h, x) => h.merge(x), new Hist())
    .summaryMs();
  const td = pass.phases.find((p) => p.name === 'teardown');
  const ramp = pass.phases.find((p) => p.name === 'ramp');
  return {
    group: `webhooks:${pass.kind}`,
    kind: 'herald',
    server: pass.kind,
    pass: pass.kind,
    requests: j.requests,
    invalid: j.invalid,
    events: j.events,
    unique: j.unique,
    expected: j.expected,
    sentOfExpected: j.expected.arrivals + j.expected.churn + j.expected.departures - j.missing.arrivals - j.missing.churn - j.missing.departures,
    expectedTotal: j.expected.arrivals + j.expected.churn + j.expected.departures,
    missing: j.missing,
    missingExamples: j.missingExamples,
    extra: j.extra,
    dupes: sum(j.dupesByPhase),
    dupesBeforeWorkerKill: dupesBeforeKill,
    gaps: j.gaps,
    outOfOrder: j.outOfOrder,
    notAlternating: j.notAlternating,
    notArrivedFirst: j.notArrivedFirst,
    notDeparted: j.notDeparted,
    unknownKeys: j.unknownKeys,
    churnP50S: sec(steadyLat.p50),
    churnP99S: sec(steadyLat.p99),
    churnLatencyByPhase: lat,
    slowestChurnWebhook: j.slowest,
    debounceS: webhookDelayMs / 1000,
    arrivalsS: sec(ramp?.arrivalsMs),
    serverWarnings: pass.logged,
    departuresS: sec(td?.departuresMs),
  };
}

/** The invariants of a pass: [{ pass, name, ok, detail }]. A failed one fails the run. */
export function invariants(kind, rows, faults, wh, cfg) {
  const out = [];
  const check = (name, ok, detail) => out.push({ pass: kind, name, ok: Boolean(ok), detail });
  const all = rows.filter((r) => r.server === 'all');
  const ramp = all.find((r) => r.phase === 'ramp');
  check('every connection up after the ramp', ramp.connected === ramp.asked, `${ramp.connected} of ${ramp.asked}`);
  for (const r of all) {
    check(
      `no loss to connected clients (${r.phase})`,
      r.missing === 0,
      `${r.missing} of ${r.owed} owed deliveries missing (${r.cutInFlight} more in flight at a cut, not loss) ${JSON.stringify(r.streams)}`,
    );
    check(`no duplicate deliveries (${r.phase})`, r.dupes === 0, `${r.dupes}`);
  }
  for (const r of all.filter((q) => ['idle', 'fanout', 'steady'].includes(q.phase)))
    check(`no connection cut in steady state (${r.phase})`, r.closes === 0, JSON.stringify(r.closesByGwCode));
  for (const f of faults) {
    // The bound; the run measures on for longer (convergeTimeoutMs) to say how long it took.
    const limitS = Math.min(60, cfg.convergeTimeoutMs / 1000);
    if (f.fault !== 'worker-kill') {
      check(
        `${f.fault}: every cut client back and subscribed within ${limitS} s`,
        f.allBackS !== null && f.allBackS <= limitS,
        `${f.back} of ${f.cut}, last after ${f.allBackS} s`,
      );
      check(
        `${f.fault}: REST counts, member lists and clients' lists exact within ${limitS} s`,
        f.exactS !== null && f.exactS <= limitS,
        `${f.exactS} s ${JSON.stringify(f.exactLast ?? '')}`,
      );
      check(`${f.fault}: no other gateway cut its clients`, f.survivorCloses === 0, `${f.survivorCloses}`);
      check(
        `${f.fault}: every trigger through another gateway published`,
        f.survivorTriggerFailures === 0,
        `${f.survivorTriggerFailures} ${JSON.stringify(f.survivorTriggerWhy)}`,
      );
    }
    check(`${f.fault}: webhooks agree with the clients again`, f.webhooksAgreeS !== null, `after ${f.webhooksAgreeS} s`);
  }
  check('webhooks: every signature valid', wh.invalid === 0, `${wh.invalid} of ${wh.requests}`);
  check('webhooks: every owed transition delivered', wh.sentOfExpected === wh.expectedTotal, JSON.stringify(wh.missing));
  check('webhooks: no decided transition missing (no gap in a channel numbering)', wh.gaps === 0, `${wh.gaps}`);
  check('webhooks: in order per channel', wh.outOfOrder === 0, `${wh.outOfOrder}`);
  check(
    'webhooks: paired (alternating, arrival first, departure last)',
    wh.notAlternating + wh.notArrivedFirst + wh.notDeparted === 0,
    JSON.stringify({ notAlternating: wh.notAlternating, notArrivedFirst: wh.notArrivedFirst, notDeparted: wh.notDeparted }),
  );
  check('webhooks: no event for a channel or member that never existed', wh.unknownKeys === 0, `${wh.unknownKeys}`);
  check(
    'webhooks: duplicates (same event id) only after the worker kill',
    wh.dupesBeforeWorkerKill === 0,
    `${wh.dupesBeforeWorkerKill} before, ${wh.dupes} in all`,
  );
  return out;
}
