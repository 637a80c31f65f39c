// One load-generator process of the `scale` scenario: WebSocket clients (`ws`) that behave like
// pusher-js behind a balancer. Each holds one subscription (`fan`: the shared fan-out channel;
// `own`: a channel of its own; `priv`: a private channel of 2-3 members exchanging client events;
// `pres`: a presence channel of 10 members), reconnects when cut (at once on 4200, otherwise with
// exponential backoff and jitter) to a gateway the balancer currently offers, and subscribes again.
// It records what the parent needs to judge the run: every subscribed interval (whether the server
// cut it, the latest event received in it), what arrived (with end-to-end latency per gateway and
// phase), when a cut client was back, the clients' own presence member lists, and the presence
// churn it drove.
//
// A channel's members are all in one process (only the fan-out channel spans processes), so
// client-event loss and member lists are judged here, against this process's own truth.
import crypto from 'node:crypto';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Hist } from './hist.mjs';
import { forkedAs, serveParent } from './scale-ipc.mjs';
import { nowUs } from './util.mjs';
import { LossTally, tallyClientEvents, tallyTriggers } from './scale-loss.mjs';

export const CLIENT_MODULE = fileURLToPath(import.meta.url);

const MARK = Buffer.from('@t=');
const PUSHER = Buffer.from('"pusher');

/** `@t=<µs>;s=<seq>;` from just after "@t=". */
function readMarker(buf, i) {
  let t = 0;
  let c;
  while ((c = buf[i]) >= 48 && c <= 57) {
    t = t * 10 + (c - 48);
    i++;
  }
  i += 3;
  let s = 0;
  while ((c = buf[i]) >= 48 && c <= 57) {
    s = s * 10 + (c - 48);
    i++;
  }
  return [t, s];
}

function start() {
  const require = createRequire(path.join(path.dirname(CLIENT_MODULE), '../../package.json'));
  const WebSocket = require('ws');
  let cfg; // { key, secret, gateways: [{ idx, wsUrl }], localAddresses, maxConnectAttempts, churn }
  const lag = monitorEventLoopDelay({ resolution: 20 });
  lag.enable();
  let live = [];
  const conns = [];
  /** Channel → { n: subscribed members, lastUs: last change, members: [conn], next/disrupt for churn }. */
  const chans = new Map();
  let phase = 0;
  const phases = new Map();
  const countError = (k) => {
    const e = phaseStats().errors;
    e[k] = (e[k] ?? 0) + 1;
  };
  const hmac = (s) => crypto.createHmac('sha256', cfg.secret).update(s).digest('hex');

  function phaseStats(id = phase) {
    let p = phases.get(id);
    if (!p) {
      p = { deliv: {}, hist: {}, dupes: 0, closes: {}, dialFails: {}, ceSent: 0, leaves: 0, errors: {} };
      phases.set(id, p);
    }
    return p;
  }
  const deliverTo = (gw, stream, latencyUs) => {
    const p = phaseStats();
    const d = (p.deliv[gw] ??= { fan: 0, own: 0, ce: 0, mem: 0 });
    d[stream]++;
    if (latencyUs !== undefined) (p.hist[`${stream}:${gw}`] ??= new Hist()).record(latencyUs);
  };

  // ------------------------------------------------------------------------------------------
  // A connection's life

  function changeChannel(c, delta, t) {
    const ch = chans.get(c.ch);
    ch.n += delta;
    ch.lastUs = t;
  }

  function subscribe(c) {
    const data = { channel: c.ch };
    if (c.kind === 'priv') data.auth = `${cfg.key}:${hmac(`${c.socketId}:${c.ch}`)}`;
    else if (c.kind === 'pres') {
      data.channel_data = JSON.stringify({ user_id: c.user, user_info: {} });
      data.auth = `${cfg.key}:${hmac(`${c.socketId}:${c.ch}:${data.channel_data}`)}`;
    }
    c.ws.send(JSON.stringify({ event: 'pusher:subscribe', data }));
  }

  function onSubscribed(c, msg) {
    if (c.sub || !c.want) return;
    const t = nowUs();
    c.sub = true;
    c.iv.push(t, 0, c.gw);
    c.ivx.push(0, 0);
    changeChannel(c, +1, t);
    c.attempt = 0;
    if (c.downAt && !c.backAt) c.backAt = t;
    if (!c.everUp) {
      c.everUp = true;
      c.onFirst?.(true);
    }
    if (c.kind === 'pres') {
      const d = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data;
      c.view = new Set((d?.presence?.ids ?? []).map(String));
      if (c.churn) {
        c.churn.added = { name: 'member_added', key: `${c.ch}\n${c.user}`, t, strict: c.churn.long && !c.churn.disrupted };
        churnLog.push(c.churn.removed, c.churn.added);
        chans.get(c.ch).nextUs = t + cfg.churn.spacingMs * 1000;
        c.churn = null;
      }
    }
  }

  /** Ends the current subscribed interval at t; `cut`: the server ended it, not this client. */
  function endSubscription(c, t, cut) {
    if (!c.sub) return;
    c.sub = false;
    c.iv[c.iv.length - 2] = t;
    c.ivx[c.ivx.length - 2] = cut ? 1 : 0;
    changeChannel(c, -1, t);
  }

  function onControl(c, buf) {
    let msg;
    try {
      msg = JSON.parse(buf.toString());
    } catch {
      return countError('unparsable frame');
    }
    switch (msg.event) {
      case 'pusher:connection_established': {
        const d = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data;
        c.socketId = d.socket_id;
        c.state = 'open';
        if (c.want) subscribe(c);
        else if (c.downAt && !c.backAt) c.backAt = nowUs();
        return;
      }
      case 'pusher_internal:subscription_succeeded':
        return onSubscribed(c, msg);
      case 'pusher:ping':
        return c.ws.send('{"event":"pusher:pong","data":{}}');
      case 'pusher_internal:member_added':
      case 'pusher_internal:member_removed': {
        deliverTo(c.gw, 'mem');
        const d = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data;
        if (msg.event === 'pusher_internal:member_added') c.view?.add(String(d.user_id));
        else c.view?.delete(String(d.user_id));
        return;
      }
      case 'pusher:error':
      case 'pusher:subscription_error': {
        const d = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data;
        // 4000-4299: the server closes the connection after this frame, and has sent everything it
        // will send on it before it. The subscription ends here, not at the close event: the close
        // handshake can take much longer (ws waits up to 30 s for the server to end TCP).
        if (msg.event === 'pusher:error' && d?.code >= 4000 && d?.code < 4300 && c.sub) {
          endSubscription(c, nowUs(), true);
          c.toldAt = nowUs();
        }
        return countError(`${msg.event} ${d?.code ?? d?.status ?? ''}`);
      }
      default:
        if (!String(msg.event).startsWith('pusher')) countError(`unexpected ${msg.event}`);
    }
  }

  function onMessage(c, buf) {
    if (buf.indexOf(PUSHER) !== -1) return onControl(c, buf);
    const i = buf.indexOf(MARK);
    if (i === -1) return;
    const [t, seq] = readMarker(buf, i + 3);
    const stream = c.kind === 'fan' ? 'fan' : c.kind === 'own' ? 'own' : 'ce';
    deliverTo(c.gw, stream, nowUs() - t);
    // The latest send time received in the current interval: a later one means an earlier event
    // missing from it was dropped, not cut in flight (scale-loss.mjs).
    if (c.sub && t > c.ivx[c.ivx.length - 1]) c.ivx[c.ivx.length - 1] = t;
    if (stream === 'fan') {
      const byte = seq >> 3;
      if (byte >= c.recv.length) {
        const grown = new Uint8Array(Math.max(byte + 1, c.recv.length * 2));
        grown.set(c.recv);
        c.recv = grown;
      }
      if (c.recv[byte] & (1 << (seq & 7))) phaseStats().dupes++;
      c.recv[byte] |= 1 << (seq & 7);
    } else if (c.recv.has(seq)) phaseStats().dupes++;
    else c.recv.add(seq);
  }

  function dial(c, gw) {
    c.gw = gw;
    c.state = 'dialing';
    c.socketId = null;
    const opts = { perMessageDeflate: false, handshakeTimeout: 15000 };
    if (c.localAddress) opts.localAddress = c.localAddress;
    const ws = new WebSocket(cfg.gateways[gw].wsUrl, opts);
    c.ws = ws;
    c.closeFrameAt = 0;
    c.finAt = 0;
    // Where a slow close spends its time: ws has no public event for the server's close frame
    // being read (its receiver's 'conclude') or for the server's FIN (its socket's 'end').
    ws.on('open', () => {
      ws._receiver.on('conclude', () => (c.closeFrameAt = nowUs()));
      ws._socket.on('end', () => (c.finAt = nowUs()));
    });
    ws.on('message', (data) => onMessage(c, data));
    ws.on('error', (err) => countError(`ws ${err.code ?? err.message}`.slice(0, 80)));
    ws.on('close', (code) => onClose(c, ws, code));
  }

  function onClose(c, ws, code) {
    if (c.ws !== ws) return;
    const t = nowUs();
    // Cut unless this client closed it (teardown): a 1006 after a kill, a server's close.
    endSubscription(c, t, !c.closing);
    // How long the close took after the server said it was closing (its pusher:error).
    if (c.toldAt) {
      const p = phaseStats();
      (p.hist['closeLag:all'] ??= new Hist()).record(t - c.toldAt);
      if (c.closeFrameAt) (p.hist['closeFrameLag:all'] ??= new Hist()).record(c.closeFrameAt - c.toldAt);
      if (c.finAt) (p.hist['finLag:all'] ??= new Hist()).record(c.finAt - c.toldAt);
      c.toldAt = 0;
    }
    const wasOpen = c.state === 'open';
    c.state = 'closed';
    c.ws = null;
    if (c.closing) return;
    // An established connection cut, or a connection attempt that failed (refused, 4100 at admission).
    const tally = wasOpen ? phaseStats().closes : phaseStats().dialFails;
    const k = `${c.gw}:${code}`;
    tally[k] = (tally[k] ?? 0) + 1;
    if (c.everUp && wasOpen) {
      c.downAt = t;
      c.downGw = c.gw;
      c.backAt = 0;
      const ch = chans.get(c.ch);
      ch.disruptUs = t;
      if (c.churn) c.churn.disrupted = true;
      for (const m of ch.members) if (m.churn) m.churn.disrupted = true;
    }
    // pusher-js: 4200-4299 reconnect at once; anything else after a growing, jittered wait.
    const delay = code >= 4200 && code < 4300 ? Math.random() * 200 : Math.min(8000, 1000 * 2 ** Math.min(c.attempt, 3)) * (0.8 + 0.4 * Math.random());
    c.attempt++;
    if (!c.everUp && c.attempt >= cfg.maxConnectAttempts) return c.onFirst?.(false);
    setTimeout(() => {
      if (c.closing) return;
      dial(c, live.length ? live[Math.floor(Math.random() * live.length)] : c.gw);
    }, delay);
  }

  // ------------------------------------------------------------------------------------------
  // Loads: client events on private channels, presence churn

  const ceLog = { t: [] };
  let ceTimer = null;
  function clientEvents(everyMs) {
    clearInterval(ceTimer);
    if (!everyMs) return;
    const senders = conns.filter((c) => c.kind === 'priv');
    let quota = 0;
    let at = 0;
    let last = performance.now();
    ceTimer = setInterval(() => {
      const now = performance.now();
      quota += (senders.length * (now - last)) / everyMs;
      last = now;
      for (; quota >= 1 && senders.length; quota--) {
        const c = senders[at++ % senders.length];
        if (!c.sub || c.state !== 'open') continue;
        const seq = ceLog.t.length;
        const t = nowUs();
        ceLog.t.push(t);
        c.sentSeqs.push(seq);
        phaseStats().ceSent++;
        c.ws.send(`{"event":"client-m","channel":"${c.ch}","data":{"m":"@t=${t};s=${seq};"}}`);
      }
    }, 20);
  }

  /** Churn transitions: { name, key: "channel\nuser", t, strict } (strict: a webhook must follow). */
  const churnLog = [];
  let churnTimer = null;
  let churnCount = 0;
  function churn(perSec) {
    clearInterval(churnTimer);
    if (!perSec) return;
    const presChans = [...chans.entries()].filter(([, ch]) => ch.kind === 'pres');
    // A process without presence channels (the probe) has nothing to churn.
    if (presChans.length === 0) return;
    let quota = 0;
    let last = performance.now();
    churnTimer = setInterval(() => {
      const now = performance.now();
      quota = Math.min(quota + (perSec * (now - last)) / 1000, 5);
      last = now;
      const t = nowUs();
      for (let tries = 0; quota >= 1 && tries < 20; tries++) {
        const [name, ch] = presChans[Math.floor(Math.random() * presChans.length)];
        // A channel churns only while it is quiet: its last churn long over (so every transition
        // has its own quiet period at the worker) and no member cut lately (a gateway's lease).
        if ((ch.nextUs ?? 0) > t || (ch.disruptUs ?? 0) + cfg.churn.quietAfterCutMs * 1000 > t) continue;
        if (!ch.members.every((m) => m.sub && m.state === 'open' && !m.churn)) continue;
        quota--;
        const c = ch.members[Math.floor(Math.random() * ch.members.length)];
        const long = churnCount++ % 2 === 0;
        c.want = false;
        c.ws.send(JSON.stringify({ event: 'pusher:unsubscribe', data: { channel: name } }));
        phaseStats().leaves++;
        endSubscription(c, t, false);
        ch.nextUs = Infinity;
        c.churn = { long, disrupted: false, removed: { name: 'member_removed', key: `${name}\n${c.user}`, t, strict: long } };
        const gapMs = long ? cfg.churn.longMs : cfg.churn.shortMs;
        setTimeout(() => {
          c.want = true;
          if (c.state === 'open' && !c.sub) subscribe(c);
        }, gapMs);
      }
    }, 50);
  }

  // ------------------------------------------------------------------------------------------
  // Commands

  serveParent({
    init(args) {
      cfg = args;
      live = cfg.gateways.map((g) => g.idx);
      return { ok: true };
    },
    setLive(args) {
      live = args.live;
      return { ok: true };
    },
    setPhase(args) {
      // How late this process ran its callbacks in the phase now over: a generator that cannot keep
      // up delays what it measures (latency, the time a client is back).
      phaseStats().lagMs = { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 };
      lag.reset();
      phase = args.id;
      phaseStats();
      return { ok: true };
    },
    /** Adds connections { id, kind, ch, user?, gw } and opens them, `concurrency` at a time. */
    async connect({ specs, concurrency, timeoutMs }) {
      const t0 = performance.now();
      const made = specs.map((s) => {
        const c = { ...s, ws: null, state: 'idle', socketId: null, want: true, sub: false, everUp: false, attempt: 0, iv: [], ivx: [], downAt: 0, backAt: 0 };
        // Source addresses in turn by this process's own count (ids are global and strided).
        c.localAddress = cfg.localAddresses?.length ? cfg.localAddresses[conns.length % cfg.localAddresses.length] : undefined;
        c.recv = s.kind === 'fan' ? new Uint8Array(64) : new Set();
        if (s.kind === 'priv') c.sentSeqs = [];
        let ch = chans.get(s.ch);
        if (!ch) chans.set(s.ch, (ch = { kind: s.kind, n: 0, lastUs: 0, members: [] }));
        ch.members.push(c);
        conns.push(c);
        return c;
      });
      let next = 0;
      let ok = 0;
      let failed = 0;
      const connectHist = new Hist();
      const lane = async () => {
        while (next < made.length) {
          const c = made[next++];
          const t = nowUs();
          const up = await new Promise((resolve) => {
            c.onFirst = resolve;
            dial(c, c.gw);
          });
          c.onFirst = null;
          if (up) {
            ok++;
            connectHist.record(nowUs() - t);
          } else failed++;
        }
      };
      await Promise.race([Promise.all(Array.from({ length: Math.min(concurrency, made.length) }, lane)), new Promise((r) => setTimeout(r, timeoutMs))]);
      return { ok, failed, pending: made.length - ok - failed, ms: performance.now() - t0, connect: connectHist.toJSON(), errors: phaseStats().errors };
    },
    load(args) {
      clientEvents(args.clientEventEveryMs ?? 0);
      churn(args.churnPerSec ?? 0);
      return { ok: true };
    },
    /** Per gateway: connections open, subscriptions held. */
    counts() {
      const byGw = {};
      for (const c of conns) {
        if (c.state !== 'open') continue;
        const g = (byGw[c.gw] ??= { open: 0, sub: 0 });
        g.open++;
        if (c.sub) g.sub++;
      }
      return { byGw, total: conns.length, open: conns.filter((c) => c.state === 'open').length };
    },
    stats({ id }) {
      const p = phaseStats(id);
      const hist = {};
      for (const [k, h] of Object.entries(p.hist)) hist[k] = h.toJSON();
      const lagMs = p.lagMs ?? (id === phase ? { p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 } : undefined);
      return { deliv: p.deliv, hist, dupes: p.dupes, closes: p.closes, dialFails: p.dialFails, ceSent: p.ceSent, leaves: p.leaves, errors: p.errors, lagMs };
    },
    /** Clients cut since `sinceUs`: how many, how many are back (subscribed again), and how long that took. */
    recoveries({ sinceUs }) {
      const cut = conns.filter((c) => c.downAt >= sinceUs);
      const back = cut.filter((c) => c.backAt > 0 && (c.sub || !c.want));
      return {
        cut: cut.length,
        back: back.length,
        backMs: back.map((c) => (c.backAt - sinceUs) / 1000),
        downMs: back.map((c) => (c.backAt - c.downAt) / 1000),
        byGw: countBy(cut, (c) => c.downGw),
      };
    },
    /** Subscription counts and presence members of this process's channels, with their last change. */
    truth() {
      const out = [];
      for (const [name, ch] of chans) {
        const users = ch.kind === 'pres' ? ch.members.filter((m) => m.sub).map((m) => m.user) : undefined;
        out.push([name, ch.n, ch.lastUs, users]);
      }
      return out;
    },
    /**
     * Each subscribed presence client's own member list against the channel's members, for the
     * channels quiet for settleMs; `ok` lists those found right, with the change they reflect.
     */
    views({ settleMs }) {
      const before = nowUs() - settleMs * 1000;
      let checked = 0;
      let wrong = 0;
      const ok = [];
      const examples = [];
      for (const [name, ch] of chans) {
        if (ch.kind !== 'pres' || ch.lastUs > before) continue;
        const truth = ch.members
          .filter((m) => m.sub)
          .map((m) => m.user)
          .sort()
          .join();
        let right = true;
        for (const m of ch.members) {
          if (!m.sub) continue;
          checked++;
          const seen = [...m.view].sort();
          if (seen.join() !== truth) {
            wrong++;
            right = false;
            if (examples.length < 3) examples.push({ channel: m.ch, user: m.user, seen, truth });
          }
        }
        if (right) ok.push([name, ch.lastUs]);
      }
      return { checked, wrong, ok, examples };
    },
    churnLog: () => churnLog,
    /** Clients not where they want to be: a churn leave not yet rejoined, or not subscribed (yet). */
    pending: () => conns.filter((c) => c.churn || (c.want && !c.sub)).length,
    /** Loss per phase: every trigger and client event against every subscriber's intervals. */
    loss({ fan, own, phases: windows, marginMs, ownPrefix }) {
      const tally = new LossTally();
      const marginUs = marginMs * 1000;
      const fanSeqs = fan.status.map((_, i) => i);
      const ownByCh = new Map();
      own.ch.forEach((ch, seq) => {
        let l = ownByCh.get(ch);
        if (!l) ownByCh.set(ch, (l = []));
        l.push(seq);
      });
      for (const c of conns) {
        if (c.kind === 'fan') {
          const has = (seq) => (c.recv[seq >> 3] ?? 0) & (1 << (seq & 7));
          tallyTriggers(tally, { id: c.id, iv: c.iv, ivx: c.ivx, seqs: fanSeqs, table: fan, has, phases: windows, marginUs, stream: 'fan' });
        } else if (c.kind === 'own') {
          const seqs = ownByCh.get(Number(c.ch.slice(ownPrefix.length))) ?? [];
          tallyTriggers(tally, { id: c.id, iv: c.iv, ivx: c.ivx, seqs, table: own, has: (seq) => c.recv.has(seq), phases: windows, marginUs, stream: 'own' });
        } else if (c.kind === 'priv') {
          tallyClientEvents(tally, { receiver: c, senders: chans.get(c.ch).members, log: ceLog, phases: windows, marginUs });
        }
      }
      return { byPhase: tally.byPhase, examples: tally.examples };
    },
    /** Closes every connection (the clients leave for good) and waits for the closes. */
    async teardown() {
      clearInterval(ceTimer);
      clearInterval(churnTimer);
      for (const c of conns) {
        c.closing = true;
        try {
          c.ws?.close();
        } catch {
          /* already closing: the wait below sees it */
        }
      }
      const end = Date.now() + 10000;
      while (Date.now() < end && conns.some((c) => c.ws && c.ws.readyState !== WebSocket.CLOSED)) await new Promise((r) => setTimeout(r, 50));
      for (const c of conns) if (c.ws && c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
      return { closed: conns.length };
    },
  });
}

function countBy(list, key) {
  const out = {};
  for (const x of list) {
    const k = key(x);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

if (forkedAs(CLIENT_MODULE)) start();
