// One pass of the `scale` scenario's deployment: Redis (one server or a three-primary cluster),
// gateways and webhook workers on one key prefix, and the balancer's view of the gateways: a
// gateway is offered to clients and the publisher while its /ready answers 200, and taken out after
// two failed checks 250 ms apart, as HAProxy's health checks (`inter 250 fall 2`) would.
import { PhaseMeter } from './proc.mjs';
import { startGateway, startRedisDeployment, startWorker } from './scale-procs.mjs';
import { diffCounts, httpGet, log, redisCmd, redisCommandStats, sleep } from './util.mjs';

const CHECK_MS = 250;
const IGNORED_COMMANDS = new Set(['info', 'config|resetstat', 'config', 'ping', 'cluster|info', 'cluster']);

export class Deployment {
  constructor({ kind, gateways, workers, prefix, appsFile, gatewayEnv, workerEnv }) {
    Object.assign(this, { kind, nGateways: gateways, nWorkers: workers, prefix, appsFile, gatewayEnv, workerEnv });
    this.gateways = [];
    this.workers = [];
    this.offered = new Set();
    this.fails = new Map();
    /** Failed /ready checks per gateway, while it was meant to be up: { idx: count }. */
    this.readyFailures = {};
    /** The same failures by reason (all gateways): { reason: count }. */
    this.readyFailureReasons = {};
    this.listeners = [];
  }

  async start() {
    this.redis = await startRedisDeployment(this.kind);
    const common = { redis: this.redis, prefix: this.prefix, appsFile: this.appsFile };
    [this.gateways, this.workers] = await Promise.all([
      Promise.all(Array.from({ length: this.nGateways }, (_, idx) => startGateway({ ...common, idx, env: this.gatewayEnv }))),
      Promise.all(Array.from({ length: this.nWorkers }, (_, idx) => startWorker({ ...common, idx, env: this.workerEnv }))),
    ]);
    for (const g of this.gateways) {
      this.offered.add(g.idx);
      g.expectedUp = true;
    }
    this.#watch();
    return this;
  }

  /** Calls fn(liveIdxs) whenever the balancer's view changes. */
  onLive(fn) {
    this.listeners.push(fn);
  }

  live() {
    return [...this.offered].sort((a, b) => a - b);
  }

  #watch() {
    this.watching = true;
    void (async () => {
      while (this.watching) {
        await Promise.all(
          this.gateways.map(async (g) => {
            const r = g.running() ? await httpGet(`${g.apiBase}/ready`, 1000) : { status: 0, body: 'not running' };
            const ok = r.status === 200;
            if (!ok && g.expectedUp) {
              this.readyFailures[g.idx] = (this.readyFailures[g.idx] ?? 0) + 1;
              // Why: an answer other than 200 (its status) or none (the error: a timeout, a refusal).
              const why = r.status ? `status ${r.status}` : String(r.body).slice(0, 40);
              this.readyFailureReasons[why] = (this.readyFailureReasons[why] ?? 0) + 1;
            }
            const fails = ok ? 0 : (this.fails.get(g.idx) ?? 0) + 1;
            this.fails.set(g.idx, fails);
            const before = this.offered.has(g.idx);
            if (ok) this.offered.add(g.idx);
            else if (fails >= 2) this.offered.delete(g.idx);
            if (before !== this.offered.has(g.idx))
              for (const fn of this.listeners) {
                // A listener that fails (a load process too busy to answer) must not stop the checks.
                await Promise.resolve(fn(this.live())).catch((err) => log(`balancer view not passed on: ${err.message}`));
              }
          }),
        );
        await sleep(CHECK_MS);
      }
    })();
  }

  /** SIGKILL (a crash) or SIGTERM (a drain) to gateway `idx`; resolves once it has exited. */
  async fault(idx, signal) {
    const g = this.gateways[idx];
    g.expectedUp = false;
    g.signal(signal);
    return g.exited;
  }

  async killWorker(idx) {
    const w = this.workers[idx];
    w.signal('SIGKILL');
    await w.exited;
  }

  /** The worker holding the delivery lead (the `{wh}:leader` key), or -1. */
  async leadingWorker() {
    for (const port of this.redis.ports) {
      const owner = await redisCmd(port, 'GET', `${this.prefix}:{wh}:leader`).catch(() => null);
      if (typeof owner === 'string') return this.workers.findIndex((w) => owner.endsWith(`${this.prefix}-${w.name}`));
    }
    return -1;
  }

  /** Every gateway's lifecycle lines, oldest first: [{ atUs, gw, msg, deadNode?, entries? }]. */
  lifecycle() {
    return this.gateways.flatMap((g) => g.lifecycle().map((e) => ({ ...e, gw: g.idx }))).sort((a, b) => a.atUs - b.atUs);
  }

  /** Groups for a PhaseMeter: each gateway, the workers, Redis. */
  meterGroups() {
    const groups = {};
    for (const g of this.gateways) if (g.running()) groups[`gw${g.idx}`] = [g.pid];
    groups.workers = this.workers.filter((w) => w.running()).map((w) => w.pid);
    groups.redis = this.redis.pids;
    return groups;
  }

  meter(extraGroups) {
    return new PhaseMeter({ ...this.meterGroups(), ...extraGroups }).start();
  }

  /** INFO commandstats of every primary: { total: {cmd: calls}, perShard: [{cmd: calls}] }. */
  async commandStats() {
    const perShard = await Promise.all(this.redis.ports.map((p) => redisCommandStats(p)));
    const total = {};
    for (const s of perShard) for (const [k, v] of Object.entries(s)) total[k] = (total[k] ?? 0) + v;
    return { total, perShard };
  }

  /** Redis commands between two commandStats() (INFO and CONFIG left out), total and per shard. */
  static commandsBetween(a, b) {
    const count = (d) => Object.entries(d).reduce((n, [k, v]) => (IGNORED_COMMANDS.has(k) ? n : n + v), 0);
    const total = diffCounts(b.total, a.total);
    return { total, calls: count(total), perShard: b.perShard.map((s, i) => count(diffCounts(s, a.perShard[i]))) };
  }

  /** used_memory of every primary, summed (bytes). */
  async redisMemory() {
    let sum = 0;
    for (const port of this.redis.ports) {
      const m = /used_memory:(\d+)/.exec(await redisCmd(port, 'INFO', 'memory'));
      sum += m ? Number(m[1]) : 0;
    }
    return sum;
  }

  /** The pass is over and its Redis goes too: no clean stop is measured, so none is waited for. */
  async stop() {
    this.watching = false;
    await Promise.all(
      [...this.gateways, ...this.workers].map((p) => {
        p.signal('SIGKILL');
        return p.exited;
      }),
    );
    await this.redis?.stop();
  }
}
