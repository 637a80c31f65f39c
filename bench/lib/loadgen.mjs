// The multi-process load generator, parent side: forks worker processes (lib/worker.mjs), spreads
// connections over them, forwards delivery progress to the publisher (closed-loop max rate), and
// merges their delivery counts and latency histograms.
import { fork } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Hist } from './hist.mjs';
import { fdLimits } from './proc.mjs';
import { sleep } from './util.mjs';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'worker.mjs');

class Worker {
  constructor(role, n) {
    this.role = role;
    this.name = `${role}-${n}`;
    this.child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] });
    this.pid = this.child.pid;
    this.nextId = 1;
    this.pending = new Map();
    this.onProgress = null;
    this.ready = new Promise((resolve, reject) => {
      this.child.once('exit', (code) => reject(new Error(`${this.name} exited early (${code})`)));
      this.child.on('message', (m) => {
        if (m.type === 'ready') resolve();
        else if (m.type === 'reply') {
          const p = this.pending.get(m.id);
          if (!p) return;
          this.pending.delete(m.id);
          clearTimeout(p.timer);
          if (m.error) p.reject(new Error(`${this.name}: ${m.error}`));
          else p.resolve(m.result);
        } else if (m.type === 'progress') this.onProgress?.(this, m);
      });
    });
    this.child.on('exit', (code, signal) => {
      for (const p of this.pending.values()) p.reject(new Error(`${this.name} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  call(cmd, args = {}, timeoutMs = 180000) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.child.send({ cmd, id, args });
    });
  }

  send(msg) {
    if (this.child.connected) this.child.send(msg);
  }
}

export class LoadGen {
  /** subscribers: worker processes holding connections; publishers: worker processes posting triggers. */
  constructor({ subscribers = 2, publishers = 1 } = {}) {
    this.subs = Array.from({ length: subscribers }, (_, i) => new Worker('sub', i));
    this.pubs = Array.from({ length: publishers }, (_, i) => new Worker('pub', i));
    this.phase = 0;
    this.progress = new Map();
    for (const w of this.subs) w.onProgress = (wk, m) => this.#onProgress(wk, m);
    this.nextIndex = 0;
  }

  async ready() {
    await Promise.all([...this.subs, ...this.pubs].map((w) => w.ready));
    return this;
  }

  /** Every generator process, this one included (for CPU accounting). */
  pids() {
    return [process.pid, ...this.subs.map((w) => w.pid), ...this.pubs.map((w) => w.pid)];
  }

  /** Connections each subscriber process may hold (its fd limit, minus headroom). */
  static perWorkerCap() {
    return Math.max(100, fdLimits().soft - 300);
  }

  /**
   * Feeds each publisher only the deliveries of the subscriber processes holding its server's
   * connections, so that two publishers can drive two servers at once, each closed loop on its
   * own: routes [{ pub: index, subs: [workers] }]; null: every publisher hears the sum.
   */
  route(routes) {
    this.routes = routes;
  }

  #onProgress(w, m) {
    if (m.phase !== this.phase) return;
    this.progress.set(w.name, m.delivered);
    const now = performance.now();
    if (now - (this.lastForward ?? 0) < 1) return;
    this.lastForward = now;
    const sum = (subs) => subs.reduce((a, s) => a + (this.progress.get(s.name) ?? 0), 0);
    if (this.routes) {
      for (const r of this.routes) this.pubs[r.pub].send({ cmd: 'progress', phase: m.phase, delivered: sum(r.subs) });
      return;
    }
    const all = sum(this.subs);
    for (const p of this.pubs) p.send({ cmd: 'progress', phase: m.phase, delivered: all });
  }

  /**
   * Opens `count` connections spread over the subscriber processes (contiguous, even-sized index
   * blocks so client-event pairs stay in one process), on `url`, each subscribed per `spec`.
   * workers: optional subset of subscriber processes to use. firstIndex: where the indexes start
   * (by default after the last connection opened), e.g. 0 again for a second server's connections,
   * so that their own channels carry the same names as the first server's. transport: 'ws' (by
   * default), or an HTTP fallback of pusher-js, 'xhr_streaming' or 'xhr' (long polling), on the
   * server of the WebSocket URL `url`.
   */
  async connect(url, count, spec, { app, concurrency = 64, localAddresses, workers, timeoutMs = 20000, firstIndex, transport = 'ws' } = {}) {
    if (firstIndex !== undefined) this.nextIndex = firstIndex;
    const ws = workers ?? this.subs;
    const per = Math.ceil(count / ws.length / 2) * 2;
    const cap = LoadGen.perWorkerCap();
    if (per > cap) throw new Error(`${per} connections per generator process exceeds its fd limit (${cap}); use more subscriber processes`);
    const jobs = [];
    let left = count;
    for (const w of ws) {
      const n = Math.min(per, left);
      if (n <= 0) break;
      left -= n;
      const startIndex = this.nextIndex;
      this.nextIndex += n;
      jobs.push(
        w.call(
          'connect',
          {
            url,
            count: n,
            startIndex,
            spec,
            key: app.key,
            secret: app.secret,
            concurrency: Math.max(1, Math.round(concurrency / ws.length)),
            localAddresses,
            timeoutMs,
            transport,
          },
          600000,
        ),
      );
    }
    const t0 = performance.now();
    const rs = await Promise.all(jobs);
    const elapsedMs = performance.now() - t0;
    const hist = new Hist();
    let ok = 0;
    let failed = 0;
    const errors = {};
    for (const r of rs) {
      ok += r.ok;
      failed += r.failed;
      hist.merge(r.hist);
      for (const [k, v] of Object.entries(r.errors ?? {})) errors[k] = (errors[k] ?? 0) + v;
    }
    const errorText = Object.entries(errors)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 3)
      .map(([k, v]) => `${k} ×${v}`)
      .join('; ');
    return { ok, failed, errors, errorText, elapsedMs, perSec: ok / (elapsedMs / 1000), latency: hist.summaryMs() };
  }

  /** Starts a new measurement phase in every process; with report, subscriber processes stream progress. */
  async newPhase({ report = false } = {}) {
    this.phase++;
    this.progress.clear();
    await Promise.all([...this.subs, ...this.pubs].map((w) => w.call('phase', { phase: this.phase, report })));
    return this.phase;
  }

  async stats(phase = this.phase, workers = this.subs) {
    const rs = await Promise.all(workers.map((w) => w.call('stats', { phase })));
    const counted = ['delivered', 'added', 'removed', 'joins', 'leaves', 'sent', 'open', 'closedUnexpectedly', 'xhrReceives', 'xhrSends', 'xhrRenewals'];
    const out = { lastUs: 0, errors: {} };
    for (const k of counted) out[k] = 0;
    const hist = new Hist();
    const addedHist = new Hist();
    const joinHist = new Hist();
    for (const r of rs) {
      for (const k of counted) out[k] += r[k];
      if (r.lastUs > out.lastUs) out.lastUs = r.lastUs;
      hist.merge(r.hist);
      addedHist.merge(r.addedHist);
      joinHist.merge(r.joinHist);
      for (const [k, v] of Object.entries(r.errors)) out.errors[k] = (out.errors[k] ?? 0) + v;
    }
    out.hist = hist;
    out.addedHist = addedHist;
    out.joinHist = joinHist;
    return out;
  }

  /** Waits until `expected` deliveries arrived, or nothing new came for quietMs, or maxMs passed. */
  async drain(expected, { quietMs = 600, maxMs = 5000, field = 'delivered', workers } = {}) {
    const t0 = Date.now();
    let last = -1;
    let lastChange = Date.now();
    for (;;) {
      const s = await this.stats(this.phase, workers);
      if (s[field] >= expected) return s;
      if (s[field] !== last) {
        last = s[field];
        lastChange = Date.now();
      }
      if (Date.now() - lastChange > quietMs || Date.now() - t0 > maxMs) return s;
      await sleep(100);
    }
  }

  /** Runs a trigger publisher (in its own process) for this phase. */
  publish(args, pubIndex = 0) {
    return this.pubs[pubIndex].call('publish', { ...args, phase: this.phase }, args.durationMs + 60000);
  }

  clientEvents(args) {
    return Promise.all(this.subs.map((w) => w.call('clientEvents', { ...args, phase: this.phase }, args.durationMs + 60000)));
  }

  churn(args, workers) {
    return Promise.all(workers.map((w) => w.call('churn', { ...args, phase: this.phase }, args.durationMs + 60000)));
  }

  async closeAll() {
    await Promise.all(this.subs.map((w) => w.call('closeAll', {}, 60000).catch(() => {})));
    this.nextIndex = 0;
  }

  async shutdown() {
    await Promise.all([...this.subs, ...this.pubs].map((w) => w.call('exit', {}, 5000).catch(() => {})));
    await sleep(50);
    for (const w of [...this.subs, ...this.pubs]) {
      try {
        if (w.child.exitCode === null) w.child.kill('SIGKILL');
      } catch {
        /* already gone: the kill is a backstop */
      }
    }
  }
}
