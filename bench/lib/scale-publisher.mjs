// The `scale` scenario's publisher process: signed HTTP triggers at fixed rates, spread over the
// gateways the balancer currently sends to (round robin), as an application server behind a
// balancer would post them. Two streams: `fan` (one channel with many subscribers) and `own` (a
// random one of many single-subscriber channels). Every trigger is kept (when sent, when answered,
// how, through which gateway) so that the parent can tell, per subscriber, which events it was owed.
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { forkedAs, serveParent } from './scale-ipc.mjs';
import { nowUs } from './util.mjs';

export const PUBLISHER_MODULE = fileURLToPath(import.meta.url);

/** How a trigger ended: published (2xx); not published (4xx, or the connection was refused); unknown (5xx, reset, timeout). */
export const TriggerStatus = { Pending: 0, Ok: 1, Refused: 2, Uncertain: 3 };

async function start() {
  const ROOT = path.resolve(path.dirname(PUBLISHER_MODULE), '../..');
  const { signApiRequest } = await import(pathToFileURL(path.join(ROOT, 'packages/protocol/dist/index.js')).href);
  let app;
  let gateways = [];
  let live = [];
  let rr = 0;
  let phase = 0;
  const agents = new Map();
  const inflight = new Map();
  const streams = {
    fan: { rate: 0, t0: 0, sent: 0, tSend: [], tResp: [], status: [], gw: [], ch: [] },
    own: { rate: 0, t0: 0, sent: 0, tSend: [], tResp: [], status: [], gw: [], ch: [], count: 1 },
  };
  let fanChannel = '';
  let ownPrefix = '';
  let behind = 0;
  const perPhase = new Map(); // phase → gw → { ok, refused, uncertain, why? }
  const count = (gw, status, why) => {
    let p = perPhase.get(phase);
    if (!p) perPhase.set(phase, (p = {}));
    const g = (p[gw] ??= { ok: 0, refused: 0, uncertain: 0 });
    g[status === TriggerStatus.Ok ? 'ok' : status === TriggerStatus.Refused ? 'refused' : 'uncertain']++;
    // What a trigger that did not succeed got: a status code, or the error (a reset, the timeout).
    if (why !== undefined) (g.why ??= {})[why] = (g.why[why] ?? 0) + 1;
  };

  const pickGateway = (cap) => {
    for (let k = 0; k < live.length; k++) {
      const idx = live[rr++ % live.length];
      if ((inflight.get(idx) ?? 0) < cap) return idx;
    }
    return -1;
  };

  const send = (name, s, seq) => {
    const gw = pickGateway(16);
    if (gw < 0) return false;
    const g = gateways[gw];
    const ch = name === 'fan' ? fanChannel : `${ownPrefix}${s.ch[seq]}`;
    const tSend = nowUs();
    s.tSend[seq] = tSend;
    s.gw[seq] = gw;
    s.status[seq] = TriggerStatus.Pending;
    const body = JSON.stringify({ name: name === 'fan' ? 'f' : 'o', channels: [ch], data: `@t=${tSend};s=${seq};` });
    const apiPath = `/apps/${app.id}/events`;
    const qs = signApiRequest({ key: app.key, secret: app.secret, method: 'POST', path: apiPath, body });
    inflight.set(gw, (inflight.get(gw) ?? 0) + 1);
    let done = false;
    const finish = (status, why) => {
      if (done) return;
      done = true;
      inflight.set(gw, inflight.get(gw) - 1);
      s.tResp[seq] = nowUs();
      s.status[seq] = status;
      count(gw, status, why);
    };
    const u = new URL(g.apiBase);
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: `${apiPath}?${qs}`,
        method: 'POST',
        agent: agents.get(gw),
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () =>
          res.statusCode < 300
            ? finish(TriggerStatus.Ok)
            : finish(res.statusCode < 500 ? TriggerStatus.Refused : TriggerStatus.Uncertain, `status ${res.statusCode}`),
        );
      },
    );
    req.setTimeout(10000, () => req.destroy(new Error('timeout')));
    // Refused: the request never reached a gateway. Anything else: it may have been published.
    req.on('error', (err) => finish(err.code === 'ECONNREFUSED' ? TriggerStatus.Refused : TriggerStatus.Uncertain, err.code ?? err.message));
    req.end(body);
    return true;
  };

  let timer = null;
  const tick = () => {
    const now = performance.now();
    for (const [name, s] of Object.entries(streams)) {
      if (s.rate <= 0) continue;
      const due = Math.floor(((now - s.t0) * s.rate) / 1000) - s.sent;
      for (let i = 0; i < due; i++) {
        const seq = s.tSend.length;
        if (name === 'own') s.ch[seq] = Math.floor(Math.random() * s.count);
        if (!send(name, s, seq)) {
          // Every gateway has 16 requests waiting: the trigger is skipped, not queued without bound.
          behind += due - i;
          s.sent += due - i;
          break;
        }
        s.sent++;
      }
    }
  };

  serveParent({
    init(args) {
      app = args.app;
      gateways = args.gateways;
      live = gateways.map((g) => g.idx);
      for (const g of gateways) agents.set(g.idx, new http.Agent({ keepAlive: true, maxSockets: 16 }));
      fanChannel = args.fanChannel;
      ownPrefix = args.ownPrefix;
      streams.own.count = args.ownCount;
      return { ok: true };
    },
    setLive(args) {
      live = args.live;
      return { ok: true };
    },
    setPhase(args) {
      phase = args.id;
      return { ok: true };
    },
    /** Sets the rates (triggers/s; 0 stops a stream) from now on. */
    rates(args) {
      for (const name of ['fan', 'own']) {
        const s = streams[name];
        s.rate = args[name] ?? 0;
        s.t0 = performance.now();
        s.sent = 0;
      }
      if (!timer) timer = setInterval(tick, 5);
      return { ok: true };
    },
    /** Stops sending and waits (at most 12 s) for every answer. */
    async stop() {
      for (const s of Object.values(streams)) s.rate = 0;
      const end = Date.now() + 12000;
      while ([...inflight.values()].some((n) => n > 0) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
      return { ok: true };
    },
    stats: () => ({ perPhase: Object.fromEntries(perPhase), behind }),
    /** Every trigger so far: parallel arrays per stream. */
    tables: () => {
      const out = {};
      for (const [name, s] of Object.entries(streams)) out[name] = { tSend: s.tSend, tResp: s.tResp, status: s.status, gw: s.gw, ch: s.ch };
      return out;
    },
  });
}

if (forkedAs(PUBLISHER_MODULE)) await start();
