// apps: what N apps in the store (10,000 by default) cost, measured as issue 14 asks. Each run:
//
// 1. Two gateways side by side, one on a store holding only the measured app, one on a store
//    holding it among N apps, both measured at once in each phase, each with its own publisher and
//    subscriber processes: fan-out (subscribers of one channel, triggers at the maximum rate), then
//    signed triggers on many channels (as many-channels), with server CPU per message; the ratios
//    N apps / 1 app come from one phase each. Measured at once, both see the same moments of a
//    shared machine, whose other jobs come and go within seconds; phases taken in turn, even
//    seconds apart, meet different loads.
// 2. The cost of reading the whole store, which every node does every PUSH_APPS_RESYNC_MS (30 s by
//    default): an idle gateway per store with the read forced every second. Part 1's gateways read
//    it only at start (the period set to its maximum, an hour): a read landing in one phase of a
//    few seconds and not in the next would make that phase's ratio, not the steady state's; its
//    cost spread over the default period is added to part 1's figures where they are reported.
// 3. Change propagation: three gateways on the store of N apps; changes made through gateway A's
//    admin API (create, disable, enable, rotate the secret, delete, in turn); for each, the time
//    from the admin API's answer until gateways B and C both answer a signed REST request as the
//    change says (200, 403, 200, 200 with the new secret, 400), asked back to back on a kept-alive
//    connection: exact to one round trip, and it needs nothing of the server but its REST API.
//    The changes come at random intervals, spread over about one full-read period, so that some
//    meet a node busy reading the store, in the proportion they would in service.
//
// Clustered (gateways on a private redis-server), not embedded: the Redis store is the one a
// deployment with many tenants runs, its full read (HGETALL, then every document validated) is the
// costlier of the two stores', and every part then measures the same store, seeded the same way.
// Redis's own CPU per trigger is reported apart.
import { genFields, maxWindow, tryStart } from '../lib/common.mjs';
import { adminClient, longestWait, prober, seedRedisStore, tenant } from '../lib/apps.mjs';
import { PhaseMeter } from '../lib/proc.mjs';
import { APP, startRedis } from '../lib/servers.mjs';
import { log, median, round, sleep } from '../lib/util.mjs';

/** PUSH_APPS_RESYNC_MS's default (README, configuration table). */
const DEFAULT_RESYNC_MS = 30000;
const ADMIN_TOKEN = 'bench-admin-token-0123456789';
/** A change not applied by a node within this is counted as not applied (the next full read would heal it). */
const APPLY_TIMEOUT_MS = 10000;

/**
 * The changes made in turn, each with the status a signed trigger gets once a node applied it
 * (`rotate`: the trigger is signed with the secret the change sets).
 */
const STEPS = [
  { kind: 'create', after: 200, run: (admin, a) => admin.create({ id: a.id, key: a.key, secret: a.secret }) },
  { kind: 'disable', after: 403, run: (admin, a) => admin.patch(a.id, { enabled: false }) },
  { kind: 'enable', after: 200, run: (admin, a) => admin.patch(a.id, { enabled: true }) },
  { kind: 'rotate-secret', after: 200, rotate: true, run: (admin, a) => admin.rotate(a.id, a.nextSecret) },
  { kind: 'delete', after: 400, run: (admin, a) => admin.remove(a.id) },
];

const TESTS = ['fanout', 'triggers'];
/** Propagation times above this are counted apart: many round trips, yet far below the 1 s target. */
const SLOW_MS = 100;
const slow = (xs) => xs.filter((v) => typeof v === 'number' && v > SLOW_MS).length;
const label = (n) => (n === 1 ? '1 app' : `${n.toLocaleString('en-US')} apps`);
const ratio = (a, b) => (typeof a === 'number' && typeof b === 'number' && b !== 0 ? round(a / b, 3) : null);

/** Starts one gateway on `prefix`'s store and checks that it serves the apps it was seeded with (a document the store refused would be missing). */
async function startNode(ctx, redis, prefix, { name, env = {}, sample = [] }) {
  const srv = await tryStart(ctx, 'herald', { name, redisPort: redis.port, prefix, storeOnly: true, env });
  const p = prober(srv.apiBase);
  try {
    for (const app of [APP, ...sample]) {
      const r = await p.probe(app);
      if (r.status !== 200) throw new Error(`${name}: app ${app.id} answered ${r.status} (${r.body.slice(0, 200)}): the seeded store was not read as expected`);
    }
  } catch (err) {
    await srv.stop();
    throw err;
  } finally {
    p.close();
  }
  return srv;
}

/** A few seeded tenants spread over the store, probed after start. */
const sampleOf = (tenants) => (tenants.length ? Array.from({ length: 8 }, (_, j) => tenants[Math.floor((j * (tenants.length - 1)) / 7)]) : []);

/** Opens one gateway's connections of both tests, on its own subscriber processes. */
async function prepare(ctx, side) {
  const { cfg, gen } = ctx;
  const { srv, store, subs } = side;
  // Own channels from index 0 on each gateway: the trigger phase picks bench-own-<0..conns-1>.
  const own = await gen.connect(
    srv.wsUrl,
    cfg.conns,
    { kind: 'own', prefix: 'bench-own-', shared: 'bench-shared' },
    { app: srv.app, concurrency: 100, workers: subs, firstIndex: 0 },
  );
  const fan = await gen.connect(srv.wsUrl, cfg.subs, { kind: 'single', name: 'bench-fanout' }, { app: srv.app, workers: subs });
  if (own.failed || fan.failed) ctx.note(`apps ${label(store.apps)}: ${own.failed + fan.failed} connections failed (${own.errorText} ${fan.errorText})`);
  side.own = own.ok;
  side.fan = fan.ok;
}

/** What one side's publisher is asked for one test, as the fanout and many-channels scenarios ask it. */
function publishArgs(cfg, test, side, durationMs) {
  const target = { apiBase: side.srv.apiBase, app: side.srv.app, mode: 'max', durationMs, payloadBytes: 100 };
  if (test === 'fanout')
    return {
      ...target,
      channels: { kind: 'single', name: 'bench-fanout', subs: side.fan },
      window: maxWindow(side.fan, cfg.windowDeliveries),
      concurrency: 16,
    };
  return {
    ...target,
    channels: { kind: 'random', prefix: 'bench-own-', count: cfg.conns, subs: 1, shared: 'bench-shared', sharedEvery: cfg.sharedEvery, sharedSubs: side.own },
    window: maxWindow(side.own, 5000),
    concurrency: cfg.concurrency,
  };
}

/**
 * One phase of one test on both gateways at once, each driven at its maximum rate by its own
 * publisher (closed loop on its own deliveries) and received by its own subscriber processes. The
 * two share every moment of the machine, so other jobs' load, which comes and goes within seconds
 * here, weighs on both alike. Per side, the fields triggerPhase gives for one server.
 */
async function sideBySide(ctx, redis, test, sides, durationMs) {
  const { gen } = ctx;
  await gen.newPhase({ report: true });
  const groups = { redis: redis.pids, gen: gen.pids() };
  for (const sd of sides) groups[`server-${sd.store.apps}`] = sd.srv.pids;
  const meter = new PhaseMeter(groups).start();
  const pubs = await Promise.all(sides.map((sd) => gen.publish(publishArgs(ctx.cfg, test, sd, durationMs), sd.pub)));
  const sts = await Promise.all(sides.map((sd, i) => gen.drain(pubs[i].expectedOk, { quietMs: 700, maxMs: 6000, workers: sd.subs })));
  const m = meter.stop();
  const health = genFields(m);
  const allTriggers = pubs.reduce((n, p) => n + p.ok, 0);
  return sides.map((sd, i) => {
    const pub = pubs[i];
    const st = sts[i];
    const srv = m.groups[`server-${sd.store.apps}`];
    // Throughput from the first trigger to the last delivery (the drain's quiet wait excluded).
    const windowMs = st.lastUs > pub.t0Us ? Math.max(pub.sendMs, (st.lastUs - pub.t0Us) / 1000) : m.elapsedMs;
    const lat = st.hist.summaryMs();
    const loss = pub.expectedOk > 0 ? round(Math.max(0, 1 - st.delivered / pub.expectedOk), 5) : null;
    if (loss > 0.001 || st.closedUnexpectedly)
      log(`  note: ${label(sd.store.apps)} loss ${loss}, closed by server ${st.closedUnexpectedly}, errors ${JSON.stringify(st.errors)}`);
    return {
      phase: 'max',
      triggers: pub.ok,
      triggersFailed: pub.failed,
      triggersPerSec: round(pub.ok / (pub.sendMs / 1000), 1),
      httpStatus: pub.status,
      expected: pub.expectedOk,
      delivered: st.delivered,
      deliveredPerSec: round(st.delivered / (windowMs / 1000), 0),
      loss,
      p50: lat.p50,
      p99: lat.p99,
      max: lat.max,
      serverCores: round(srv.cores, 2),
      cpuUsPerMsg: st.delivered > 0 ? round((srv.cpuMs * 1000) / st.delivered, 2) : null,
      cpuUsPerTrigger: pub.ok > 0 ? round((srv.cpuMs * 1000) / pub.ok, 1) : null,
      rssMB: round(srv.peakRssKb / 1024, 1),
      // Redis serves both gateways: its CPU is shared out over both sides' triggers.
      redisCpuUsPerTrigger: allTriggers > 0 ? round((m.groups.redis.cpuMs * 1000) / allTriggers, 1) : null,
      stalls: pub.stalls,
      closedByServer: st.closedUnexpectedly,
      errors: Object.keys(st.errors).length ? st.errors : undefined,
      elapsedMs: Math.round(m.elapsedMs),
      ...health,
    };
  });
}

/**
 * Part 1: a gateway on each store, both measured at once in every phase (sideBySide), `rounds`
 * times per test. Each side has its own half of the generator's processes, the halves swapped from
 * one run to the next, so that neither store always gets the same processes.
 */
async function throughput(ctx, redis, stores) {
  const { cfg, gen } = ctx;
  const half = gen.subs.length / 2;
  const halves = [
    { subs: gen.subs.slice(0, half), pub: 0 },
    { subs: gen.subs.slice(half), pub: 1 },
  ];
  if (ctx.run % 2 === 0) halves.reverse();
  const sides = stores.map((store, i) => ({ store, ...halves[i], srv: null }));
  try {
    // No full read of the store during the phases: part 2 measures it apart (the header says why).
    const env = { PUSH_APPS_RESYNC_MS: '3600000' };
    for (const sd of sides) sd.srv = await startNode(ctx, redis, sd.store.prefix, { name: `herald-${sd.store.apps}`, env, sample: sd.store.sample });
    for (const sd of sides) await prepare(ctx, sd);
    gen.route(sides.map((sd) => ({ pub: sd.pub, subs: sd.subs })));
    await sleep(300);
    // A warm-up of each test (not reported): the first seconds of a process are spent compiling.
    if (cfg.warmupMs > 0) for (const test of TESTS) await sideBySide(ctx, redis, test, sides, cfg.warmupMs);
    for (let k = 0; k < cfg.rounds; k++) {
      for (const test of TESTS) {
        log(`apps: ${test}, ${sides.map((sd) => label(sd.store.apps)).join(' and ')} side by side (round ${k + 1} of ${cfg.rounds})`);
        const results = await sideBySide(ctx, redis, test, sides, cfg.phaseMs);
        sides.forEach((sd, i) => {
          const r = results[i];
          ctx.emit({
            group: test,
            server: label(sd.store.apps),
            kind: 'herald',
            apps: sd.store.apps,
            round: k,
            subscribers: test === 'fanout' ? sd.fan : undefined,
            connected: sd.own + sd.fan,
            tput: test === 'fanout' ? r.deliveredPerSec : r.triggersPerSec,
            cpu: test === 'fanout' ? r.cpuUsPerMsg : r.cpuUsPerTrigger,
            ...r,
          });
        });
      }
    }
  } finally {
    gen.route(null);
    await gen.closeAll();
    await Promise.all(sides.filter((sd) => sd.srv).map((sd) => sd.srv.stop()));
  }
}

/**
 * Part 2: an idle gateway reading the whole store every second (PUSH_APPS_RESYNC_MS=1000, its minimum):
 * CPU per second is then the cost of one read; then, asked every 10 ms, the longest wait of a
 * request is how long a read holds the event loop (prom-client's event-loop lag, sampled every
 * 100 ms, does not show it).
 */
async function resyncSession(ctx, redis, store) {
  const { cfg } = ctx;
  const srv = await startNode(ctx, redis, store.prefix, { name: `herald-${store.apps}-resync`, env: { PUSH_APPS_RESYNC_MS: '1000' } });
  try {
    log(`apps: ${label(store.apps)}, idle, the store read every second`);
    const meter = new PhaseMeter({ server: srv.pids, redis: redis.pids, gen: ctx.gen.pids() }).start();
    await sleep(cfg.idleMs);
    const m = meter.stop();
    // Apart from the CPU measurement: the requests would cost CPU of their own.
    const waitMs = await longestWait(srv.apiBase, cfg.idleMs);
    ctx.emit({
      group: 'resync',
      server: label(store.apps),
      kind: 'herald',
      apps: store.apps,
      cpuMsPerSec: round((m.groups.server.cpuMs * 1000) / m.elapsedMs, 1),
      redisCpuMsPerSec: round((m.groups.redis.cpuMs * 1000) / m.elapsedMs, 1),
      longestWaitMs: round(waitMs, 1),
      rssMB: round(m.groups.server.peakRssKb / 1024, 1),
      elapsedMs: Math.round(m.elapsedMs),
      ...genFields(m),
    });
  } finally {
    await srv.stop();
  }
}

/** Asks back to back until the node answers `status`; the time the answer came, or null after `deadline`. */
async function until(p, app, status, deadline) {
  let first = true;
  for (;;) {
    const r = await p.probe(app);
    if (r.status === status) return { atMs: r.atMs, first };
    if (performance.now() > deadline) return { atMs: null, first: false, last: r.status };
    first = false;
  }
}

/** Part 3: changes through gateway A's admin API, timed until the other gateways apply them. */
async function propagation(ctx, redis, store) {
  const { cfg } = ctx;
  const env = { PUSH_ADMIN_TOKEN: ADMIN_TOKEN, ...(cfg.resyncMs ? { PUSH_APPS_RESYNC_MS: String(cfg.resyncMs) } : {}) };
  const nodes = [];
  const probers = [];
  let admin;
  try {
    for (let i = 0; i < cfg.nodes; i++)
      nodes.push(await startNode(ctx, redis, store.prefix, { name: `herald-${String.fromCharCode(65 + i)}`, env, sample: store.sample }));
    log(`apps: ${cfg.changes} changes through ${nodes[0].name}, seen on ${nodes.length - 1} other nodes; ${label(store.apps)} in the store`);
    admin = adminClient(nodes[0].apiBase, ADMIN_TOKEN);
    probers.push(...nodes.slice(1).map((n) => prober(n.apiBase)));
    const fromAnswerMs = [];
    const fromRequestMs = [];
    const adminMs = [];
    let firstProbe = 0;
    let notApplied = 0;
    let wrongBefore = 0;
    let app;
    for (let k = 0; k < cfg.changes; k++) {
      const step = STEPS[k % STEPS.length];
      if (step.kind === 'create') {
        // New credentials each cycle: a deleted app's key must not be mistaken for the new one.
        const t = tenant(k, `r${ctx.run}c`);
        app = { id: t.id, key: t.key, secret: t.secret, nextSecret: tenant(k, `r${ctx.run}s`).secret };
      }
      const probeApp = step.rotate ? { ...app, secret: app.nextSecret } : app;
      const before = await Promise.all(probers.map((p) => p.probe(probeApp)));
      if (before.some((r) => r.status === step.after)) wrongBefore++;
      // A random gap after the check, not before it: a node busy reading the whole store would
      // hold the check's answer until done, and every change would then find it free.
      await sleep(Math.random() * 2 * cfg.changeGapMs);
      const t0 = performance.now();
      const answer = await step.run(admin, app);
      const deadline = answer.atMs + APPLY_TIMEOUT_MS;
      const seen = await Promise.all(probers.map((p) => until(p, probeApp, step.after, deadline)));
      if (step.rotate) app.secret = app.nextSecret;
      adminMs.push(round(answer.atMs - t0, 3));
      if (seen.some((s) => s.atMs === null)) {
        notApplied++;
        ctx.note(
          `apps: ${step.kind} of ${app.id} not applied everywhere within ${APPLY_TIMEOUT_MS} ms (last answers ${seen.map((s) => s.last ?? 'ok').join(', ')})`,
        );
        fromAnswerMs.push(null);
        fromRequestMs.push(null);
        continue;
      }
      const last = Math.max(...seen.map((s) => s.atMs));
      fromAnswerMs.push(round(last - answer.atMs, 3));
      fromRequestMs.push(round(last - t0, 3));
      if (seen.every((s) => s.first)) firstProbe++;
    }
    if (wrongBefore) ctx.note(`apps: ${wrongBefore} of ${cfg.changes} changes looked applied before they were made (the probe does not tell the states apart)`);
    const s = pooled(fromAnswerMs);
    const q = pooled(fromRequestMs);
    const a = pooled(adminMs);
    ctx.emit({
      group: 'propagation',
      server: `herald-c${nodes.length}`,
      kind: 'herald',
      apps: store.apps,
      nodes: nodes.length,
      changes: cfg.changes,
      notApplied,
      firstProbe,
      p50: s.p50,
      p99: s.p99,
      max: s.max,
      fromRequestP50: q.p50,
      fromRequestP99: q.p99,
      adminP50: a.p50,
      adminP99: a.p99,
      // Every change's figure, so that percentiles can be taken over all runs together
      // (change k is STEPS[k % STEPS.length]); null: not applied in time.
      steps: STEPS.map((x) => x.kind),
      fromAnswerMs,
      fromRequestMs,
    });
  } finally {
    admin?.close();
    for (const p of probers) p.close();
    await Promise.all(nodes.map((n) => n.stop()));
  }
}

/**
 * The full read's CPU spread over the default period, as a share of the N-app side's CPU per
 * message at the rate measured (0.02: 2 % more). The share shrinks as a gateway gets busier: the
 * read costs the same at any load.
 */
function readShare(agg, test) {
  const idle = agg.find((r) => r.group === 'resync' && r.apps > 1);
  const busy = agg.find((r) => r.group === test && r.apps > 1);
  if (typeof idle?.resyncCpuMs !== 'number' || !busy?.tput || !busy?.cpu) return null;
  return round((idle.resyncCpuMs * 1000) / (DEFAULT_RESYNC_MS / 1000) / busy.tput / busy.cpu, 4);
}

/** The median N ÷ 1 ratio of CPU per message with the full read spread in. */
function withRead(rows, agg, test) {
  const share = readShare(agg, test);
  const { median: m } = ratioSpread(rows, test, 'cpu');
  return share === null || m === null ? null : round(m * (1 + share), 3);
}

/** Percentiles of a list of figures (nearest rank), nulls left out. */
function pooled(values) {
  const v = values.filter((x) => typeof x === 'number').sort((a, b) => a - b);
  if (!v.length) return { n: 0, p50: null, p99: null, max: null };
  const at = (p) => v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)];
  return { n: v.length, p50: at(0.5), p99: at(0.99), max: v[v.length - 1] };
}

/** N-app ÷ 1-app ratios of every phase (both sides measured at once): median, lowest, highest. */
function ratioSpread(rows, group, field) {
  const xs = rows.filter((r) => r.group === group && r.apps > 1 && typeof r.vsOneApp?.[field] === 'number').map((r) => r.vsOneApp[field]);
  return { median: median(xs), min: xs.length ? Math.min(...xs) : null, max: xs.length ? Math.max(...xs) : null, n: xs.length };
}

export default {
  name: 'apps',
  description:
    '1 app against N apps in the Redis store (fan-out, signed triggers, server CPU per message, one full read of the store); admin API changes seen by 2 other gateways',
  servers: ['herald'],
  sizes: {
    small: {
      apps: 10000,
      subs: 500,
      conns: 2000,
      sharedEvery: 500,
      phaseMs: 3000,
      warmupMs: 1000,
      rounds: 6,
      idleMs: 3000,
      nodes: 3,
      changes: 200,
      changeGapMs: 175,
      resyncMs: null,
      windowDeliveries: 50000,
      concurrency: 32,
      subscriberProcs: 2,
    },
    full: {
      apps: 10000,
      subs: 5000,
      conns: 10000,
      sharedEvery: 1000,
      phaseMs: 10000,
      warmupMs: 2000,
      rounds: 3,
      idleMs: 5000,
      nodes: 3,
      changes: 1000,
      changeGapMs: 175,
      resyncMs: null,
      windowDeliveries: 50000,
      concurrency: 32,
      subscriberProcs: 2,
    },
  },
  // Per store: subscriberProcs subscriber processes and a publisher.
  workers: (cfg) => ({ subscribers: 2 * cfg.subscriberProcs, publishers: 2 }),
  // The baseline is Herald with one app, not the ceiling or soketi: ratios come from postprocess.
  ratioMetrics: [],
  columns: [
    ['store', (r) => r.server],
    ['test', (r) => r.group],
    ['trig/s', (r) => r.triggersPerSec],
    ['deliv/s', (r) => r.deliveredPerSec],
    ['p50 ms', (r) => r.p50],
    ['p99 ms', (r) => r.p99],
    ['loss', (r) => r.loss],
    ['srv CPU µs/msg or trig', (r) => r.cpu],
    ['redis CPU µs/trig', (r) => r.redisCpuUsPerTrigger],
    ['RSS MB', (r) => r.rssMB],
    ['gen cores', (r) => r.genCores],
    ['host busy', (r) => r.hostBusy],
    ['bound', (r) => r.bound],
    ['tput ÷ 1 app', (r) => r.vsOneApp?.tput],
    ['CPU/msg ÷ 1 app', (r) => r.vsOneApp?.cpu],
  ],
  /** The main table: the throughput sessions, 1 app first. */
  tableRows: (agg) =>
    agg.filter((r) => r.group === 'fanout' || r.group === 'triggers').sort((a, b) => (a.group === b.group ? a.apps - b.apps : a.group === 'fanout' ? -1 : 1)),
  /** Each N-app side against the 1-app side of the same phase (same run, test and round). */
  postprocess(rows) {
    for (const r of rows) {
      if (r.apps === 1) continue;
      if (r.group === 'resync') {
        const base = rows.find((o) => o.group === 'resync' && o.apps === 1);
        r.resyncCpuMs = base ? round(Math.max(0, r.cpuMsPerSec - base.cpuMsPerSec), 1) : null;
        continue;
      }
      const base = rows.find((o) => o.group === r.group && o.apps === 1 && o.round === r.round);
      if (base) r.vsOneApp = { tput: ratio(r.tput, base.tput), cpu: ratio(r.cpu, base.cpu), of: base.server };
    }
  },
  /** The lines docs/performance.md opens this scenario's section with. */
  summary(agg, rows) {
    const out = [];
    const num = (v) => (typeof v !== 'number' ? '–' : Math.abs(v) >= 1000 ? Math.round(v).toLocaleString('en-US') : String(round(v, v >= 10 ? 1 : 2)));
    const times = (v) => (typeof v === 'number' ? `${v.toFixed(2)}×` : '–');
    const spreadText = (g, field) => {
      const sp = ratioSpread(rows, g, field);
      return `${times(sp.median)} (${times(sp.min)}–${times(sp.max)} over ${sp.n} phases)`;
    };
    for (const g of TESTS) {
      const one = agg.find((r) => r.group === g && r.apps === 1);
      const many = agg.find((r) => r.group === g && r.apps > 1);
      if (!one || !many) continue;
      const what = g === 'fanout' ? `fan-out to ${num(many.subscribers ?? many.connected)} subscribers` : 'signed triggers on many channels';
      const unit = g === 'fanout' ? 'messages/s' : 'triggers/s';
      const per = g === 'fanout' ? 'delivered message' : 'trigger';
      out.push(
        `- ${what}: with ${label(many.apps)} in the store ${num(many.tput)} ${unit} and ${num(many.cpu)} µs of server CPU per ${per}, with 1 app ${num(one.tput)} ${unit} and ${num(one.cpu)} µs; N apps ÷ 1 app: throughput ${spreadText(g, 'tput')}, CPU per ${per} ${spreadText(g, 'cpu')}; bound: ${many.bound}.`,
      );
    }
    const idle = agg.find((r) => r.group === 'resync' && r.apps > 1);
    const idleOne = agg.find((r) => r.group === 'resync' && r.apps === 1);
    if (idle)
      out.push(
        `- One full read of the store of ${label(idle.apps)} (every node makes one every ${DEFAULT_RESYNC_MS / 1000} s by default) took ${num(idle.resyncCpuMs)} ms of gateway CPU, ${num(round((idle.resyncCpuMs / DEFAULT_RESYNC_MS) * 100, 3))} % of a core over the period: spread over it, ${num(round(readShare(agg, 'fanout') * 100, 2))} % more CPU per fan-out message and ${num(round(readShare(agg, 'triggers') * 100, 2))} % more per trigger at the rates above (less on a busier gateway), so N apps ÷ 1 app in CPU per message, the read included: fan-out ${times(withRead(rows, agg, 'fanout'))}, triggers ${times(withRead(rows, agg, 'triggers'))}. A request waited up to ${num(idle.longestWaitMs)} ms on the idle gateway reading it every second (${num(idleOne?.longestWaitMs)} ms with 1 app): the read holds the event loop that long.`,
      );
    const prop = rows.filter((r) => r.group === 'propagation');
    if (prop.length) {
      const all = prop.flatMap((r) => r.fromAnswerMs);
      const p = pooled(all);
      const missed = all.filter((v) => v === null).length;
      out.push(
        `- ${num(all.length)} changes through the admin API of one of ${prop[0].nodes} gateways (${prop.length} run${prop.length > 1 ? 's' : ''}, ${label(prop[0].apps)} in the store): both other gateways applied each within p50 ${num(p.p50)} ms, p99 ${num(p.p99)} ms, max ${num(p.max)} ms of the answer; ${slow(all)} took over ${SLOW_MS} ms; ${missed ? `${missed} not applied within ${APPLY_TIMEOUT_MS / 1000} s` : `every one applied`}.`,
      );
    }
    return out;
  },
  extraTables(agg, rows = agg) {
    const out = [];
    const spread = ['fanout', 'triggers'].flatMap((g) =>
      ['tput', 'cpu'].map((field) => ({
        test: g,
        what: field === 'tput' ? (g === 'fanout' ? 'messages/s' : 'triggers/s') : `server CPU µs per ${g === 'fanout' ? 'message' : 'trigger'}`,
        ...ratioSpread(rows, g, field),
      })),
    );
    if (spread.some((s) => s.n))
      out.push({
        title: 'N apps ÷ 1 app, over every phase (both stores measured at once; median, lowest, highest)',
        rows: spread,
        columns: [
          ['test', (s) => s.test],
          ['figure', (s) => s.what],
          ['phases', (s) => s.n],
          ['median', (s) => s.median],
          ['lowest', (s) => s.min],
          ['highest', (s) => s.max],
        ],
      });
    const idle = agg.filter((r) => r.group === 'resync').sort((a, b) => a.apps - b.apps);
    const pct = (v) => (typeof v === 'number' ? round(v * 100, 2) : null);
    if (idle.length)
      out.push({
        title: `Reading the whole store (an idle gateway reading it every second; by default every ${DEFAULT_RESYNC_MS / 1000} s)`,
        rows: idle,
        columns: [
          ['store', (r) => r.server],
          ['idle CPU ms/s', (r) => r.cpuMsPerSec],
          ['CPU ms per read', (r) => r.resyncCpuMs],
          ['longest request wait ms', (r) => r.longestWaitMs],
          ['redis CPU ms/s', (r) => r.redisCpuMsPerSec],
          ['RSS MB', (r) => r.rssMB],
          ['% of a core at 30 s', (r) => (typeof r.resyncCpuMs === 'number' ? round((r.resyncCpuMs / DEFAULT_RESYNC_MS) * 100, 3) : null)],
          ['% more fan-out CPU/msg at 30 s', (r) => (r.apps > 1 ? pct(readShare(agg, 'fanout')) : null)],
          ['% more trigger CPU/msg at 30 s', (r) => (r.apps > 1 ? pct(readShare(agg, 'triggers')) : null)],
        ],
      });
    const prop = rows.filter((r) => r.group === 'propagation');
    if (prop.length) {
      const steps = prop[0].steps;
      const kinds = ['all', ...steps].map((kind) => {
        const pick = (field) => prop.flatMap((r) => r[field].filter((_, k) => kind === 'all' || steps[k % steps.length] === kind));
        const ans = pick('fromAnswerMs');
        return { kind, ...pooled(ans), slow: slow(ans), notApplied: ans.filter((x) => x === null).length, req: pooled(pick('fromRequestMs')) };
      });
      out.push({
        title: `Change propagation: admin API answer on node A until nodes B and C both apply the change, ms (${prop.length} run${prop.length > 1 ? 's' : ''} pooled; ${label(prop[0].apps)} in the store)`,
        rows: kinds,
        columns: [
          ['change', (k) => k.kind],
          ['changes', (k) => k.n + k.notApplied],
          ['p50', (k) => k.p50],
          ['p99', (k) => k.p99],
          ['max', (k) => k.max],
          [`over ${SLOW_MS} ms`, (k) => k.slow],
          ['not applied in 10 s', (k) => k.notApplied],
          ['from request p50', (k) => k.req.p50],
          ['from request p99', (k) => k.req.p99],
        ],
      });
    }
    return out;
  },
  async run(ctx) {
    const { cfg } = ctx;
    if (!ctx.servers.includes('herald')) return ctx.note('apps measures Herald against itself: nothing to run without herald in --servers');
    const N = cfg.apps;
    if (!(N > 1)) throw new Error(`apps must be above 1, not ${N}`);
    const tenants = Array.from({ length: N - 1 }, (_, i) => tenant(i));
    const tag = `hbapps${ctx.run}-${Date.now() % 100000}`;
    const one = { apps: 1, prefix: `${tag}-one`, sample: [] };
    const many = { apps: N, prefix: `${tag}-many`, sample: sampleOf(tenants) };
    const redis = await startRedis();
    try {
      const t0 = performance.now();
      await seedRedisStore(redis.port, one.prefix, [APP]);
      await seedRedisStore(redis.port, many.prefix, [...tenants, APP]);
      log(`apps: stores of 1 and ${N} apps seeded in ${Math.round(performance.now() - t0)} ms`);
      await throughput(ctx, redis, [one, many]);
      for (const store of ctx.run % 2 ? [one, many] : [many, one]) await resyncSession(ctx, redis, store);
      // The throughput sessions changed nothing in the store: the N apps serve again.
      await propagation(ctx, redis, many);
    } finally {
      await redis.stop();
    }
  },
};
