// The `scale` scenario's load: client processes (scale-client.mjs) holding the mix of connections,
// the publisher (scale-publisher.mjs) and the webhook receiver (scale-receiver.mjs); merging what
// they measured.
import { Hist } from './hist.mjs';
import { CLIENT_MODULE } from './scale-client.mjs';
import { Child } from './scale-ipc.mjs';
import { PUBLISHER_MODULE } from './scale-publisher.mjs';
import { RECEIVER_MODULE } from './scale-receiver.mjs';

const FAN_CHANNEL = 'scale-fanout';
const OWN_PREFIX = 'scale-own-';
const privChannel = (c) => `private-scale-${c}`;
const presChannel = (c) => `presence-scale-${c}`;
/** Members of private channel c: two or three, alternately. */
const privSize = (c) => (c % 2 === 0 ? 2 : 3);

/**
 * Connection specs of the mix, per client process. A channel's members share a process (so that
 * loss and member lists are judged there) and sit on different gateways (so that every relay and
 * member event crosses Redis); the fan-out channel's subscribers are spread over all of both.
 */
export function buildSpecs(mix, procs, gateways) {
  const probe = mix.probeSubs ?? 0;
  const out = Array.from({ length: procs + (probe > 0 ? 1 : 0) }, () => []);
  let id = 0;
  // The probe, one more process (the last), holds the first `probeSubs` of the fan-out channel's
  // subscribers and nothing else: its latency is the servers' without a loaded client process's delay.
  for (let i = 0; i < mix.fanSubs; i++) out[i < probe ? procs : i % procs].push({ id: id++, kind: 'fan', ch: FAN_CHANNEL, gw: i % gateways });
  for (let c = 0; c < mix.privChannels; c++)
    for (let k = 0; k < privSize(c); k++) out[c % procs].push({ id: id++, kind: 'priv', ch: privChannel(c), gw: (c + k) % gateways });
  for (let c = 0; c < mix.presChannels; c++)
    for (let k = 0; k < mix.presMembers; k++) out[c % procs].push({ id: id++, kind: 'pres', ch: presChannel(c), user: `u${c}-${k}`, gw: (c + k) % gateways });
  for (let i = 0; i < mix.ownConns; i++) out[i % procs].push({ id: id++, kind: 'own', ch: `${OWN_PREFIX}${i}`, gw: i % gateways });
  return out;
}

/** Every channel of the mix with, for presence channels, its members: what setup and teardown owe in webhooks. */
export function mixChannels(mix) {
  const out = [];
  if (mix.fanSubs > 0) out.push({ ch: FAN_CHANNEL });
  for (let c = 0; c < mix.privChannels; c++) out.push({ ch: privChannel(c) });
  for (let c = 0; c < mix.presChannels; c++) out.push({ ch: presChannel(c), users: Array.from({ length: mix.presMembers }, (_, k) => `u${c}-${k}`) });
  for (let i = 0; i < mix.ownConns; i++) out.push({ ch: `${OWN_PREFIX}${i}` });
  return out;
}

const sumInto = (into, from) => {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
  return into;
};

export class LoadPool {
  /** The webhook receiver first: the apps file given to gateways and workers names its URL. */
  async startReceiver(app) {
    this.receiver = await new Child('receiver', RECEIVER_MODULE, { heapMb: 2048 }).ready;
    this.records = [];
    return (await this.receiver.call('listen', { app })).url;
  }

  /**
   * procs client processes; gateways [{ idx, wsUrl, apiBase }]; localAddresses per process (arrays);
   * probe: the last process is buildSpecs' probe.
   */
  async start({ procs, gateways, app, localAddresses, clientCfg, ownCount, probe = false }) {
    this.probe = probe;
    this.clients = Array.from({ length: procs }, (_, i) => new Child(`client-${i}`, CLIENT_MODULE));
    this.publisher = new Child('publisher', PUBLISHER_MODULE, { heapMb: 1024 });
    await Promise.all([...this.clients, this.publisher].map((c) => c.ready));
    const gws = gateways.map((g) => ({ idx: g.idx, wsUrl: g.wsUrl, apiBase: g.apiBase }));
    await Promise.all(
      this.clients.map((c, i) => c.call('init', { ...clientCfg, key: app.key, secret: app.secret, gateways: gws, localAddresses: localAddresses[i] })),
    );
    await this.publisher.call('init', { app, gateways: gws, fanChannel: FAN_CHANNEL, ownPrefix: OWN_PREFIX, ownCount: Math.max(1, ownCount) });
    this.records ??= [];
    return this;
  }

  pids() {
    return [...(this.clients ?? []), this.publisher, this.receiver].filter(Boolean).map((c) => c.pid);
  }

  #all(cmd, args, timeoutMs) {
    return Promise.all(this.clients.map((c) => c.call(cmd, args, timeoutMs)));
  }

  async connect(specsPerProc, { concurrency, timeoutMs }) {
    this.presenceChannels = [
      ...new Set(
        specsPerProc
          .flat()
          .filter((s) => s.kind === 'pres')
          .map((s) => s.ch),
      ),
    ];
    const rs = await Promise.all(this.clients.map((c, i) => c.call('connect', { specs: specsPerProc[i], concurrency, timeoutMs }, timeoutMs + 30000)));
    const hist = new Hist();
    const out = { ok: 0, failed: 0, pending: 0, ms: 0, errors: {} };
    for (const r of rs) {
      out.ok += r.ok;
      out.failed += r.failed;
      out.pending += r.pending;
      out.ms = Math.max(out.ms, r.ms);
      hist.merge(r.connect);
      sumInto(out.errors, r.errors);
    }
    out.connect = hist.summaryMs();
    return out;
  }

  async setPhase(id) {
    await Promise.all([this.#all('setPhase', { id }), this.publisher.call('setPhase', { id })]);
  }

  async setLive(live) {
    await Promise.all([this.#all('setLive', { live }), this.publisher.call('setLive', { live })]);
  }

  /** Sets every load at once: trigger rates (per second), client events (each member every N ms), churn (leaves per second). */
  async load({ fanRate = 0, ownRate = 0, clientEventEveryMs = 0, churnPerSec = 0 }) {
    const share = churnPerSec / this.clients.length;
    await Promise.all([this.publisher.call('rates', { fan: fanRate, own: ownRate }), this.#all('load', { clientEventEveryMs, churnPerSec: share })]);
  }

  async stopTriggers() {
    await this.publisher.call('stop', {}, 30000);
  }

  /** One phase's deliveries { gw: { fan, own, ce, mem } }, latency Hists { stream: { gw: Hist } }, duplicates, closes, errors. */
  async stats(id) {
    const rs = await this.#all('stats', { id });
    const out = { deliv: {}, hist: {}, dupes: 0, closes: {}, dialFails: {}, ceSent: 0, leaves: 0, errors: {} };
    // The probe process's fan-out latency apart too (buildSpecs: the last process, when there is one).
    if (this.probe) {
      out.probeFan = new Hist();
      for (const [k, h] of Object.entries(rs.at(-1).hist)) if (k.startsWith('fan:')) out.probeFan.merge(h);
    }
    for (const r of rs) {
      for (const [gw, d] of Object.entries(r.deliv)) sumInto((out.deliv[gw] ??= {}), d);
      for (const [k, h] of Object.entries(r.hist)) {
        const [stream, gw] = k.split(':');
        ((out.hist[stream] ??= {})[gw] ??= new Hist()).merge(h);
      }
      out.dupes += r.dupes;
      out.ceSent += r.ceSent;
      if (r.lagMs) out.genLagMs = { p99: Math.max(out.genLagMs?.p99 ?? 0, r.lagMs.p99), max: Math.max(out.genLagMs?.max ?? 0, r.lagMs.max) };
      out.leaves += r.leaves;
      sumInto(out.closes, r.closes);
      sumInto(out.dialFails, r.dialFails);
      sumInto(out.errors, r.errors);
    }
    const pub = await this.publisher.call('stats');
    out.triggers = pub.perPhase[id] ?? {};
    out.triggersBehind = pub.behind;
    return out;
  }

  async counts() {
    const rs = await this.#all('counts');
    const byGw = {};
    let open = 0;
    let total = 0;
    for (const r of rs) {
      for (const [gw, v] of Object.entries(r.byGw)) sumInto((byGw[gw] ??= {}), v);
      open += r.open;
      total += r.total;
    }
    return { byGw, open, total };
  }

  async recoveries(sinceUs) {
    const rs = await this.#all('recoveries', { sinceUs });
    const backMs = rs.flatMap((r) => r.backMs).sort((a, b) => a - b);
    const downMs = rs.flatMap((r) => r.downMs).sort((a, b) => a - b);
    return { cut: rs.reduce((a, r) => a + r.cut, 0), back: backMs.length, backMs, downMs, byGw: rs.reduce((a, r) => sumInto(a, r.byGw), {}) };
  }

  /** Channel → { n, lastUs, users? }: the clients' own view of the cluster's subscriptions. */
  async truth() {
    const rs = await this.#all('truth');
    const out = new Map();
    for (const list of rs)
      for (const [ch, n, lastUs, users] of list) {
        const t = out.get(ch);
        if (t) {
          t.n += n;
          t.lastUs = Math.max(t.lastUs, lastUs);
        } else out.set(ch, { n, lastUs, users });
      }
    return out;
  }

  async views(settleMs) {
    const rs = await this.#all('views', { settleMs });
    return {
      checked: rs.reduce((a, r) => a + r.checked, 0),
      wrong: rs.reduce((a, r) => a + r.wrong, 0),
      ok: rs.flatMap((r) => r.ok),
      examples: rs.flatMap((r) => r.examples).slice(0, 3),
    };
  }

  async pending() {
    return (await this.#all('pending')).reduce((a, n) => a + n, 0);
  }

  async churnLog() {
    return (await this.#all('churnLog')).flat();
  }

  /** Loss per phase: { phaseId: { streams: { fan|own|ce: { owed, got, missing, away } }, byGw: { gw: { owed, missing } } } }. */
  async loss(windows, marginMs) {
    const tables = await this.publisher.call('tables');
    const rs = await this.#all('loss', { fan: tables.fan, own: tables.own, phases: windows, marginMs, ownPrefix: OWN_PREFIX }, 300000);
    const out = {};
    const examples = rs.flatMap((r) => r.examples).slice(0, 10);
    for (const r of rs.map((x) => x.byPhase))
      for (const [phase, p] of Object.entries(r)) {
        const o = (out[phase] ??= { streams: {}, byGw: {} });
        for (const [s, v] of Object.entries(p.streams)) sumInto((o.streams[s] ??= {}), v);
        for (const [gw, v] of Object.entries(p.byGw)) sumInto((o.byGw[gw] ??= {}), v);
      }
    return { byPhase: out, examples, tables };
  }

  /** Webhook deliveries recorded so far (fetched incrementally). */
  async webhooks() {
    if (!this.receiver) return [];
    const more = await this.receiver.call('records', { from: this.records.length }, 60000);
    for (const r of more) this.records.push(r);
    return this.records;
  }

  async teardown() {
    await this.#all('teardown', {}, 60000);
  }

  async stop() {
    await Promise.all([...(this.clients ?? []), this.publisher, this.receiver].filter(Boolean).map((c) => c.stop()));
  }
}
