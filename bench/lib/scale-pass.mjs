// One pass of the `scale` scenario on one Redis topology: the deployment, the mix of connections,
// then phases run back to back under load (idle, fan-out alone, everything, a gateway SIGKILLed,
// a gateway drained, a webhook worker SIGKILLed, teardown), each measured per gateway. Returns the
// raw measurements; scale-report.mjs turns them into rows and verdicts.
import { Deployment } from './scale-deploy.mjs';
import { buildSpecs, LoadPool, mixChannels } from './scale-load.mjs';
import { scaleAppsFile } from './scale-procs.mjs';
import { converge } from './scale-rest.mjs';
import { webhooksAgree } from './scale-webhooks.mjs';
import { APP } from './servers.mjs';
import { rssKb, tcpCounters } from './proc.mjs';
import { log, nowUs, sleep } from './util.mjs';

/**
 * Source addresses for client process i: eight of 127.0.0.x each. A connection with a source address
 * binds before it connects, and Linux looks for a free port of that address in bind: once a few
 * thousand of an address's ports are taken (open or in TIME_WAIT), each bind took milliseconds
 * (2.2-2.5 ms each with 7,000 open and 7,000 in TIME_WAIT over two addresses, 0.05-0.09 ms over
 * eight), and a burst of reconnects stalled the client process for tens of seconds.
 */
const SOURCE_ADDRESSES_PER_PROC = 8;
export const sourceAddresses = (procs) =>
  Array.from({ length: procs }, (_, i) => Array.from({ length: SOURCE_ADDRESSES_PER_PROC }, (_, k) => `127.0.0.${10 + SOURCE_ADDRESSES_PER_PROC * i + k}`));

/** Polls `fn` until it returns a truthy value or `timeoutMs` passes: { value, ms } (value undefined on timeout). */
async function until(fn, timeoutMs, everyMs = 250) {
  const t0 = Date.now();
  for (;;) {
    const value = await fn();
    if (value) return { value, ms: Date.now() - t0 };
    if (Date.now() - t0 > timeoutMs) return { value: undefined, ms: Date.now() - t0 };
    await sleep(everyMs);
  }
}

export async function runPass(ctx, kind) {
  const { cfg } = ctx;
  const env = cfg.env;
  const prefix = `scale-${kind}-${Date.now() % 100000}`;
  const pool = new LoadPool();
  let dep;
  try {
    const url = await pool.startReceiver(APP);
    const shared = { PUSH_WEBHOOK_DELAY_MS: String(env.webhookDelayMs), PUSH_NODE_LEASE_MS: String(env.leaseMs) };
    dep = await new Deployment({
      kind,
      gateways: cfg.gateways,
      workers: cfg.workers,
      prefix,
      appsFile: scaleAppsFile(url),
      gatewayEnv: { ...shared, PUSH_DRAIN_MS: String(env.drainMs), PUSH_MAX_CONNECTIONS_PER_SECOND: String(env.admissionPerSec) },
      workerEnv: { ...shared, PUSH_WEBHOOK_CLAIM_MS: String(env.claimMs) },
    }).start();
    log(`scale ${kind}: redis ${dep.redis.ports.join(',')}, ${cfg.gateways} gateways, ${cfg.workers} workers, prefix ${prefix}`);
    const probe = (cfg.mix.probeSubs ?? 0) > 0;
    await pool.start({
      procs: cfg.clientProcs + (probe ? 1 : 0),
      probe,
      gateways: dep.gateways,
      app: APP,
      localAddresses: sourceAddresses(cfg.clientProcs + (probe ? 1 : 0)),
      clientCfg: { maxConnectAttempts: 10, churn: cfg.churn },
      ownCount: cfg.mix.ownConns,
    });
    dep.onLive((live) => pool.setLive(live));
    return await phases(ctx, dep, pool);
  } finally {
    await pool.stop().catch(() => {});
    await dep?.stop().catch(() => {});
  }
}

async function phases(ctx, dep, pool) {
  const { cfg } = ctx;
  const mix = cfg.mix;
  const list = [];
  let nextId = 1;
  const begin = async (name) => {
    const p = { id: nextId++, name, startUs: nowUs() };
    await pool.setPhase(p.id);
    p.cmds0 = await dep.commandStats();
    p.tcp0 = tcpCounters();
    p.ready0 = { failures: { ...dep.readyFailures }, reasons: { ...dep.readyFailureReasons } };
    p.meter = dep.meter({ gen: pool.pids() });
    list.push(p);
    log(`scale ${dep.kind}: phase ${name}`);
    return p;
  };
  const end = async (p) => {
    p.endUs = nowUs();
    p.m = p.meter.stop();
    delete p.meter;
    p.cmds = Deployment.commandsBetween(p.cmds0, await dep.commandStats());
    delete p.cmds0;
    const tcp = tcpCounters();
    p.tcp = Object.fromEntries(Object.entries(tcp).map(([k, v]) => [k, v - (p.tcp0[k] ?? 0)]));
    delete p.tcp0;
    p.redisMemBytes = await dep.redisMemory();
    p.counts = await pool.counts();
    p.rssKb = {};
    p.baseRssKb = {};
    for (const g of dep.gateways) {
      if (!g.running()) continue;
      p.rssKb[g.idx] = rssKb(g.pid);
      p.baseRssKb[g.idx] = g.baseRssKb;
    }
    // This phase's failed /ready checks (the deployment counts them from its start).
    const since = (now, before) =>
      Object.fromEntries(
        Object.entries(now)
          .map(([k, v]) => [k, v - (before[k] ?? 0)])
          .filter(([, v]) => v > 0),
      );
    p.readyFailures = since(dep.readyFailures, p.ready0.failures);
    p.readyFailureReasons = since(dep.readyFailureReasons, p.ready0.reasons);
    delete p.ready0;
    p.lifecycle = dep.lifecycle().filter((e) => e.atUs >= p.startUs && e.atUs <= p.endUs);
  };
  const loads = { fanRate: cfg.fanRate, ownRate: cfg.ownRate, clientEventEveryMs: cfg.clientEventEveryMs, churnPerSec: cfg.churnPerSec };
  const channels = mixChannels(mix);
  const expectedArrivals = channels.reduce((n, c) => n + 1 + (c.users?.length ?? 0), 0);
  const arrived = async () => {
    const seen = new Set();
    for (const r of await pool.webhooks())
      for (const e of r.events) if (e.name === 'channel_occupied' || e.name === 'member_added') seen.add(`${e.channel}\n${e.user}`);
    return seen.size >= expectedArrivals;
  };

  // Each gateway's RSS before its connections, the base of RSS per connection.
  for (const g of dep.gateways) g.baseRssKb = rssKb(g.pid);
  // Ramp: every connection of the mix, through the admission control.
  const ramp = await begin('ramp');
  const specs = buildSpecs(mix, cfg.clientProcs, cfg.gateways);
  ramp.connect = await pool.connect(specs, { concurrency: cfg.connectConcurrency, timeoutMs: cfg.connectTimeoutMs });
  ramp.asked = specs.reduce((n, s) => n + s.length, 0);
  log(`scale ${dep.kind}: ${ramp.connect.ok} of ${ramp.asked} connected in ${Math.round(ramp.connect.ms)} ms`);
  // ...and every channel_occupied and member_added they owe, from the end of the ramp.
  const setup = await until(arrived, cfg.webhookWaitMs, cfg.pollMs);
  ramp.arrivalsMs = setup.value ? setup.ms : null;
  if (ramp.arrivalsMs === null) ctx.note(`scale ${dep.kind}: not every channel_occupied/member_added arrived within ${cfg.webhookWaitMs} ms`);
  await end(ramp);

  // Idle: connections held, no traffic (Redis's background commands: leases, workers' polls).
  const idle = await begin('idle');
  await sleep(cfg.phaseMs.idle);
  await end(idle);

  const fan = await begin('fanout');
  await pool.load({ fanRate: cfg.fanRate });
  await sleep(cfg.phaseMs.fanout);
  await end(fan);

  const steady = await begin('steady');
  await pool.load(loads);
  await sleep(cfg.phaseMs.steady);
  await end(steady);

  for (const [name, victim, signal] of [
    ['gw-kill', 0, 'SIGKILL'],
    ['gw-drain', 1, 'SIGTERM'],
  ]) {
    const p = await begin(name);
    p.victim = victim;
    p.faultUs = nowUs();
    p.exitedMs = null;
    void dep.fault(victim, signal).then(() => (p.exitedMs = (nowUs() - p.faultUs) / 1000));
    Object.assign(p, await recover(ctx, dep, pool, p.faultUs, () => p.exitedMs !== null));
    await sleep(Math.max(0, cfg.phaseMs.faultMin - (nowUs() - p.faultUs) / 1000));
    await end(p);
  }

  // A webhook worker killed: the one delivering, so that the other must take over its entries.
  const wk = await begin('worker-kill');
  wk.faultUs = nowUs();
  wk.victim = Math.max(0, await dep.leadingWorker());
  await dep.killWorker(wk.victim);
  // What changed while no worker led (until the survivor takes the lead, claimMs at most) must be
  // delivered too: judged once those changes have outlived the debounce.
  const holdUntilUs = wk.faultUs + (cfg.env.claimMs + cfg.env.webhookDelayMs + 1500) * 1000;
  wk.webhooksAgreeMs = await webhooksSettle(ctx, pool, wk.faultUs, cfg.convergeTimeoutMs, holdUntilUs);
  await sleep(Math.max(0, cfg.phaseMs.faultMin - (nowUs() - wk.faultUs) / 1000));
  await end(wk);

  // Teardown: loads stopped, churn back in place and reported (a member who rejoined and left
  // again within the debounce would owe nothing), then every client leaves for good.
  await pool.load({});
  await pool.stopTriggers();
  await until(async () => (await pool.pending()) === 0, 30000, cfg.pollMs);
  await until(async () => webhooksAgree(await pool.webhooks(), await pool.truth(), nowUs()).wrong === 0, cfg.webhookWaitMs, cfg.pollMs);
  const td = await begin('teardown');
  await pool.teardown();
  const departed = await until(
    async () => {
      const records = await pool.webhooks();
      return webhooksAgree(records, await pool.truth(), nowUs()).wrong === 0;
    },
    cfg.webhookWaitMs,
    cfg.pollMs,
  );
  td.departuresMs = departed.value ? (nowUs() - td.startUs) / 1000 : null;
  await end(td);

  for (const p of list) p.stats = await pool.stats(p.id);
  // Back to back: what happens between one phase's end and the next one's start counts in the first.
  // A subscriber cut within a phase's margin after an event's trigger was answered may lose it (at
  // most once): the margin is at least the longest delivery the phase saw, so that an event still
  // on its way to a socket that was then cut is never counted as lost.
  const windows = list.map((p, i) => {
    const delivered = ['fan', 'own', 'ce'].map((k) => p.stats.hist[k] ?? {});
    const longestUs = Math.max(0, ...delivered.flatMap((byGw) => Object.values(byGw).map((h) => h.max)));
    p.marginMs = Math.max(cfg.marginMs, Math.ceil(longestUs / 1000) + 500);
    return { id: p.id, name: p.name, startUs: p.startUs, endUs: list[i + 1]?.startUs ?? p.endUs, marginUs: p.marginMs * 1000 };
  });
  const loss = await pool.loss(windows, cfg.marginMs);
  if (loss.examples.length) log(`scale ${dep.kind}: missing deliveries, e.g. ${JSON.stringify(loss.examples)}`);
  // What the servers warned about, by process and message.
  const logged = {};
  for (const p of [...dep.gateways, ...dep.workers]) if (Object.keys(p.logged()).length) logged[p.name] = p.logged();
  if (Object.keys(logged).length) log(`scale ${dep.kind}: server warnings ${JSON.stringify(logged)}`);
  const errors = {};
  for (const p of [...dep.gateways, ...dep.workers]) if (Object.keys(p.firstErrors()).length) errors[p.name] = p.firstErrors();
  if (Object.keys(errors).length) log(`scale ${dep.kind}: the first error of each warning ${JSON.stringify(errors)}`);
  return {
    kind: dep.kind,
    phases: list,
    windows,
    loss: loss.byPhase,
    lossExamples: loss.examples,
    logged,
    churn: await pool.churnLog(),
    records: await pool.webhooks(),
    channels,
    gateways: dep.gateways.length,
  };
}

/**
 * After a fault: until every cut client is back and subscribed again, the REST API's counts and
 * member lists and every client's own member list are exact, and the webhooks agree with the
 * clients. Times from the fault, in ms (null: not within the bound).
 */
async function recover(ctx, dep, pool, faultUs, gone) {
  const { cfg } = ctx;
  const sinceFault = () => (nowUs() - faultUs) / 1000;
  // A draining gateway cuts its clients over PUSH_DRAIN_MS: all of them are cut once it has exited.
  let loggedAt = 0;
  const back = await until(
    async () => {
      if (!gone()) return false;
      const r = await pool.recoveries(faultUs);
      // Progress on the console at full size, where a recovery takes long enough to watch.
      if (sinceFault() - loggedAt >= 10000) {
        loggedAt = sinceFault();
        const c = await pool.counts();
        log(
          `scale ${dep.kind}: ${Math.round(loggedAt / 1000)} s after the fault: ${r.back} of ${r.cut} cut clients back; open per gateway ${JSON.stringify(Object.fromEntries(Object.entries(c.byGw).map(([g, v]) => [g, v.open])))}`,
        );
      }
      return r.cut > 0 && r.back === r.cut && r;
    },
    cfg.convergeTimeoutMs,
    cfg.pollMs,
  );
  const r = back.value ?? (await pool.recoveries(faultUs));
  const conv = await converge({
    dep,
    app: APP,
    pool,
    sinceUs: faultUs,
    settleMs: cfg.settleMs,
    timeoutMs: Math.max(5000, cfg.convergeTimeoutMs - sinceFault()),
  });
  const agreeMs = await webhooksSettle(ctx, pool, faultUs, Math.max(5000, cfg.convergeTimeoutMs - sinceFault()));
  return {
    cut: r.cut,
    back: r.back,
    backMs: r.backMs,
    downMs: r.downMs,
    allBackMs: back.value ? r.backMs.at(-1) : null,
    exactMs: conv.exactAfterMs,
    exactChecks: conv.checks,
    exactLast: conv.last,
    exactTrace: conv.trace,
    webhooksAgreeMs: agreeMs,
  };
}

/**
 * Ms from `sinceUs` until the webhooks agree with the clients (null: not within `timeoutMs`): each
 * channel that had changed since then by `holdUntilUs` (or by the first look, when that is later)
 * found reported as it is, at that change or a later one, once the change has outlived the debounce
 * (a channel is judged only while quiet for the debounce + 1.5 s). Channels are judged one by one:
 * under steady churn some channel is always between a change and its webhook, so "all agree at one
 * instant" need never happen; and the churn after the first look is not the fault's.
 */
async function webhooksSettle(ctx, pool, sinceUs, timeoutMs, holdUntilUs = 0) {
  const quietMs = ctx.cfg.env.webhookDelayMs + 1500;
  const verified = new Map();
  let need;
  let left = [];
  let res;
  const r = await until(
    async () => {
      if (nowUs() < holdUntilUs) return false;
      const truth = await pool.truth();
      need ??= [...truth].filter(([, t]) => t.lastUs >= sinceUs).map(([ch, t]) => [ch, t.lastUs]);
      res = webhooksAgree(await pool.webhooks(), truth, nowUs() - quietMs * 1000);
      for (const [ch, lastUs] of res.ok) verified.set(ch, lastUs);
      left = need.filter(([ch, t]) => (verified.get(ch) ?? 0) < t);
      return left.length === 0;
    },
    timeoutMs,
    ctx.cfg.pollMs,
  );
  if (!r.value)
    log(
      `scale: webhooks not agreeing after ${timeoutMs} ms: ${left.length} channels, e.g. ${JSON.stringify(left.slice(0, 3))}; ${JSON.stringify(res?.examples)}`,
    );
  return r.value ? (nowUs() - sinceUs) / 1000 : null;
}
