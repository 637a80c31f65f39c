// One load-generator process (forked by lib/loadgen.mjs). Holds client connections (WebSockets
// with `ws`, or sessions of the HTTP fallback transports with lib/xhr-client.mjs) and/or publishes
// signed HTTP triggers; answers the parent over IPC.
//
// Every bench event carries a marker `@t=<µs>;p=<phase>;s=<seq>;` in its data, where t is
// process.hrtime (CLOCK_MONOTONIC, shared by every process of the machine), so end-to-end latency
// is measured across processes without clock skew. Receivers find the marker with Buffer.indexOf
// and never JSON.parse an event, to keep the generator's own CPU per message low.
import crypto from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Hist } from './hist.mjs';
import { nowUs } from './util.mjs';
import { XhrSocket, resetXhrCounters, xhrCounters } from './xhr-client.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(here, '../..');
const require = createRequire(path.join(ROOT, 'package.json'));
const WebSocket = require('ws');
const { signApiRequest } = await import(pathToFileURL(path.join(ROOT, 'packages/protocol/dist/index.js')).href);

const MARK = Buffer.from('@t=');
const PUSHER = Buffer.from('"pusher');
const hmac = (secret, s) => crypto.createHmac('sha256', secret).update(s).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** @type {any[]} */
let conns = [];
let currentPhase = 0;
let reportTimer = null;
const phases = new Map();
const errors = {};
let closedUnexpectedly = 0;

function phaseStats(p) {
  let s = phases.get(p);
  if (!s) {
    s = { delivered: 0, hist: new Hist(), added: 0, removed: 0, addedHist: new Hist(), joins: 0, leaves: 0, joinHist: new Hist(), sent: 0, lastUs: 0 };
    phases.set(p, s);
  }
  return s;
}

function countError(key) {
  key = String(key).slice(0, 120);
  errors[key] = (errors[key] ?? 0) + 1;
}

/** Parses `@t=..;p=..;s=..;` starting at i (just after "@t="). */
function readMarker(buf, i) {
  let t = 0;
  let c;
  while ((c = buf[i]) >= 48 && c <= 57) {
    t = t * 10 + (c - 48);
    i++;
  }
  i += 3; // ";p="
  let p = 0;
  while ((c = buf[i]) >= 48 && c <= 57) {
    p = p * 10 + (c - 48);
    i++;
  }
  i += 3; // ";s="
  let s = 0;
  while ((c = buf[i]) >= 48 && c <= 57) {
    s = s * 10 + (c - 48);
    i++;
  }
  return [t, p, s];
}

function markerFromString(str) {
  const i = str.indexOf('@t=');
  if (i < 0) return null;
  return readMarker(Buffer.from(str.slice(i + 3, i + 80)), 0);
}

// ---------------------------------------------------------------------------------------------
// Connections

function channelsFor(spec, idx) {
  switch (spec.kind) {
    case 'none':
      return [];
    case 'single':
      return [{ name: spec.name }];
    case 'own':
      return [{ name: `${spec.prefix}${idx}` }, ...(spec.shared ? [{ name: spec.shared }] : [])];
    case 'pairs':
      return [{ name: `${spec.prefix}${Math.floor(idx / 2)}` }];
    case 'presence':
      return [{ name: `${spec.prefix}${idx % spec.channels}`, userId: `${spec.userPrefix ?? 'obs'}-${idx}` }];
    default:
      throw new Error(`unknown channel spec ${spec.kind}`);
  }
}

function subscribeFrame(conn, ch) {
  const data = { channel: ch.name };
  if (ch.name.startsWith('private-')) {
    data.auth = `${conn.key}:${hmac(conn.secret, `${conn.socketId}:${ch.name}`)}`;
  } else if (ch.name.startsWith('presence-')) {
    const channelData = JSON.stringify({ user_id: ch.userId ?? `u-${conn.idx}`, user_info: ch.userInfo ?? {} });
    data.auth = `${conn.key}:${hmac(conn.secret, `${conn.socketId}:${ch.name}:${channelData}`)}`;
    data.channel_data = channelData;
  }
  return JSON.stringify({ event: 'pusher:subscribe', data });
}

function onControl(conn, buf) {
  let msg;
  try {
    msg = JSON.parse(buf.toString());
  } catch {
    countError('unparsable frame');
    return;
  }
  const ev = msg.event;
  switch (ev) {
    case 'pusher:connection_established': {
      const d = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data;
      conn.socketId = d.socket_id;
      conn.onEstablished?.();
      return;
    }
    case 'pusher_internal:subscription_succeeded':
      conn.onSubscribed?.(msg.channel);
      return;
    case 'pusher:ping':
      conn.ws.send('{"event":"pusher:pong","data":{}}');
      return;
    case 'pusher:pong':
      return;
    case 'pusher_internal:member_added': {
      const d = typeof msg.data === 'string' ? JSON.parse(msg.data) : msg.data;
      const m = d?.user_info?.m;
      if (typeof m === 'string') {
        const mk = markerFromString(m);
        if (mk) {
          const st = phaseStats(mk[1]);
          st.added++;
          st.addedHist.record(nowUs() - mk[0]);
        }
      } else phaseStats(currentPhase).added++;
      return;
    }
    case 'pusher_internal:member_removed':
      phaseStats(currentPhase).removed++;
      return;
    case 'pusher:subscription_error':
    case 'pusher:error': {
      const d = typeof msg.data === 'string' ? safeJson(msg.data) : msg.data;
      countError(`${ev} ${d?.code ?? d?.status ?? ''} ${d?.message ?? d?.error ?? ''}`);
      conn.onSubscribeError?.(msg.channel, d);
      return;
    }
    case 'pusher:cache_miss':
      return;
    default:
      if (typeof ev === 'string' && ev.startsWith('pusher')) return;
      countError(`unexpected event ${ev}`);
  }
}

function safeJson(s) {
  try {
    return JSON.parse(s);
  } catch {
    return { message: s };
  }
}

function onMessage(conn, buf) {
  if (buf.indexOf(PUSHER) !== -1) return onControl(conn, buf);
  const i = buf.indexOf(MARK);
  if (i === -1) return;
  const [t, p, s] = readMarker(buf, i + 3);
  const st = phaseStats(p);
  const now = nowUs();
  st.delivered++;
  st.hist.record(now - t);
  st.lastUs = now;
  if (conn.onDeliver) conn.onDeliver(s);
}

/** Opens one connection and subscribes it; resolves with connect+subscribe time in µs. */
function openConn(opts, idx) {
  const conn = { idx, key: opts.key, secret: opts.secret, socketId: null, ws: null, channels: channelsFor(opts.spec, idx), subscribed: new Set(), role: null };
  if (opts.spec.kind === 'pairs') conn.role = idx % 2 === 0 ? 'sender' : 'receiver';
  const t0 = nowUs();
  return new Promise((resolve) => {
    let done = false;
    const finish = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (!ok) {
        countError(`connect: ${why}`);
        try {
          conn.ws?.terminate();
        } catch {
          /* the socket never opened: nothing to end */
        }
      }
      resolve(ok ? { conn, us: nowUs() - t0 } : null);
    };
    const timer = setTimeout(() => finish(false, 'timeout'), opts.timeoutMs ?? 20000);
    const wsOpts = { perMessageDeflate: false, handshakeTimeout: opts.timeoutMs ?? 20000 };
    if (opts.localAddresses?.length) wsOpts.localAddress = opts.localAddresses[idx % opts.localAddresses.length];
    let ws;
    try {
      // 'xhr_streaming' and 'xhr' (polling) are sessions shaped like a WebSocket (lib/xhr-client.mjs).
      ws =
        (opts.transport ?? 'ws') === 'ws'
          ? new WebSocket(opts.url, wsOpts)
          : new XhrSocket(opts.url, { transport: opts.transport, localAddress: wsOpts.localAddress });
    } catch (err) {
      return finish(false, err.message);
    }
    conn.ws = ws;
    ws.on('message', (data) => onMessage(conn, data));
    ws.on('error', (err) => {
      if (!done) finish(false, err.code ?? err.message);
      else countError(`ws error ${err.code ?? err.message}`);
    });
    ws.on('close', (code) => {
      if (!done) finish(false, `closed ${code}`);
      else if (!conn.closing) {
        closedUnexpectedly++;
        countError(`closed by server ${code}`);
      }
    });
    conn.onEstablished = () => {
      if (conn.channels.length === 0) return finish(true);
      for (const ch of conn.channels) ws.send(subscribeFrame(conn, ch));
    };
    conn.onSubscribed = (name) => {
      conn.subscribed.add(name);
      if (!done && conn.subscribed.size >= conn.channels.length) finish(true);
    };
    conn.onSubscribeError = (name, d) => {
      if (!done && name) finish(false, `subscription_error ${d?.status ?? ''}`);
    };
  });
}

async function connect(opts) {
  const t0 = performance.now();
  const hist = new Hist();
  let ok = 0;
  let failed = 0;
  let next = 0;
  const limit = Math.max(1, opts.concurrency ?? 100);
  const made = [];
  const deadline = Date.now() + (opts.totalTimeoutMs ?? 120000);
  async function lane() {
    while (next < opts.count && Date.now() < deadline) {
      const idx = opts.startIndex + next++;
      const r = await openConn(opts, idx);
      if (r) {
        ok++;
        hist.record(r.us);
        made.push(r.conn);
      } else failed++;
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, opts.count) }, lane));
  conns.push(...made);
  // Pair senders with their receivers (both always in this worker: blocks are even-sized).
  const byIdx = new Map(made.map((c) => [c.idx, c]));
  for (const c of made) if (c.role === 'sender') c.peer = byIdx.get(c.idx + 1);
  return { ok, failed, elapsedMs: performance.now() - t0, hist: hist.toJSON(), errors: failed ? { ...errors } : {} };
}

async function closeAll() {
  for (const c of conns) {
    c.closing = true;
    try {
      c.ws.close();
    } catch {
      /* already closed: the wait below sees CLOSED */
    }
  }
  const end = Date.now() + 5000;
  while (Date.now() < end && conns.some((c) => c.ws.readyState !== WebSocket.CLOSED)) await sleep(50);
  for (const c of conns) if (c.ws.readyState !== WebSocket.CLOSED) c.ws.terminate();
  const n = conns.length;
  conns = [];
  return { closed: n };
}

// ---------------------------------------------------------------------------------------------
// Publisher: signed HTTP triggers with keep-alive

let progressDelivered = 0;
let progressPhase = -1;
let pumpHook = null;

async function publish(o) {
  const u = new URL(o.apiBase);
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.concurrency, keepAliveMsecs: 10000 });
  const apiPath = `/apps/${o.app.id}/events`;
  const pad = o.payloadBytes > 40 ? 'x'.repeat(o.payloadBytes - 40) : '';
  const httpHist = new Hist();
  const status = {};
  let seq = 0;
  let inflight = 0;
  let sent = 0;
  let ok = 0;
  let failed = 0;
  let expectedSent = 0; // deliveries owed for every trigger sent
  let expectedFailed = 0;
  let expectedOk = 0;
  let writtenOff = 0;
  let stalls = 0;
  let lastProgress = performance.now();
  let lastDelivered = 0;
  progressDelivered = 0;
  progressPhase = o.phase;
  const spec = o.channels;
  const pick = () => {
    if (spec.kind === 'single') return [spec.name, spec.subs];
    if (spec.shared && spec.sharedEvery && seq % spec.sharedEvery === spec.sharedEvery - 1) return [spec.shared, spec.sharedSubs];
    return [`${spec.prefix}${Math.floor(Math.random() * spec.count)}`, spec.subs ?? 1];
  };
  const t0 = performance.now();
  const t0Us = nowUs();
  const end = t0 + o.durationMs;

  const sendOne = () => {
    const [channel, subs] = pick();
    const s = ++seq;
    const t = nowUs();
    const body = JSON.stringify({ name: 'b', channels: [channel], data: `@t=${t};p=${o.phase};s=${s};${pad}` });
    const qs = signApiRequest({ key: o.app.key, secret: o.app.secret, method: 'POST', path: apiPath, body });
    inflight++;
    sent++;
    expectedSent += subs;
    const req = http.request(
      {
        host: u.hostname,
        port: u.port,
        path: `${apiPath}?${qs}`,
        method: 'POST',
        agent,
        headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) },
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          inflight--;
          status[res.statusCode] = (status[res.statusCode] ?? 0) + 1;
          httpHist.record(nowUs() - t);
          if (res.statusCode >= 200 && res.statusCode < 300) {
            ok++;
            expectedOk += subs;
          } else {
            failed++;
            expectedFailed += subs;
          }
          pump();
        });
      },
    );
    req.on('error', (err) => {
      inflight--;
      failed++;
      expectedFailed += subs;
      status[err.code ?? 'error'] = (status[err.code ?? 'error'] ?? 0) + 1;
      pump();
    });
    req.end(body);
  };

  const outstanding = () => expectedSent - expectedFailed - progressDelivered - writtenOff;
  function pump() {
    const now = performance.now();
    if (now >= end) return;
    if (o.mode === 'max') {
      while (inflight < o.concurrency && outstanding() < o.window) sendOne();
    } else {
      const due = Math.floor(((now - t0) * o.rate) / 1000) + 1 - sent;
      for (let i = 0; i < due && inflight < o.concurrency; i++) sendOne();
    }
  }
  pumpHook = pump;
  await new Promise((resolve) => {
    const tick = setInterval(
      () => {
        const now = performance.now();
        if (progressDelivered !== lastDelivered) {
          lastDelivered = progressDelivered;
          lastProgress = now;
        }
        if (o.mode === 'max' && outstanding() >= o.window && now - lastProgress > 1000) {
          // Nothing delivered for a second with a full window: count what is owed as lost and go on.
          writtenOff += outstanding();
          stalls++;
          lastProgress = now;
        }
        pump();
        if (now >= end) {
          clearInterval(tick);
          resolve();
        }
      },
      o.mode === 'max' ? 20 : Math.max(1, Math.min(50, Math.floor(1000 / o.rate))),
    );
  });
  pumpHook = null;
  const sendEnd = performance.now();
  const drainEnd = Date.now() + 10000;
  while (inflight > 0 && Date.now() < drainEnd) await sleep(5);
  agent.destroy();
  return {
    t0Us,
    sent,
    ok,
    failed,
    status,
    expectedOk,
    expectedSent,
    writtenOff,
    stalls,
    sendMs: sendEnd - t0,
    elapsedMs: performance.now() - t0,
    http: httpHist.toJSON(),
  };
}

// ---------------------------------------------------------------------------------------------
// Client events: senders relay to their receiver on a private channel

async function clientEvents(o) {
  const senders = conns.filter((c) => c.role === 'sender' && c.peer);
  const st = phaseStats(o.phase);
  let seq = 0;
  const pad = o.payloadBytes > 40 ? 'x'.repeat(o.payloadBytes - 40) : '';
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  let writtenOff = 0;
  const sendFrom = (c) => {
    c.sent++;
    st.sent++;
    c.ws.send(`{"event":"client-b","channel":"${c.channels[0].name}","data":{"m":"@t=${nowUs()};p=${o.phase};s=${++seq};${pad}"}}`);
  };
  for (const c of senders) {
    c.sent = 0;
    c.got = 0;
    c.lost = 0;
    c.lastProgress = t0;
    if (o.mode === 'max') {
      c.peer.onDeliver = () => {
        c.got++;
        c.lastProgress = performance.now();
        if (performance.now() < end && c.sent - c.got - c.lost < o.window) sendFrom(c);
      };
      for (let i = 0; i < o.window; i++) sendFrom(c);
    } else c.peer.onDeliver = null;
  }
  await new Promise((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (now >= end) {
        clearInterval(tick);
        return resolve();
      }
      if (o.mode === 'max') {
        for (const c of senders) {
          if (now - c.lastProgress > 1000 && c.sent - c.got - c.lost >= o.window) {
            const w = c.sent - c.got - c.lost;
            c.lost += w;
            writtenOff += w;
            c.lastProgress = now;
            for (let i = 0; i < o.window; i++) sendFrom(c);
          }
        }
      } else {
        const due = Math.floor(((now - t0) * o.rate) / 1000) + 1;
        for (const c of senders) {
          for (let k = 0; c.sent < due && k < 5; k++) sendFrom(c);
        }
      }
    }, 5);
  });
  for (const c of senders) c.peer.onDeliver = null;
  return { senders: senders.length, sent: st.sent, writtenOff, elapsedMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// Presence churn: each churner joins a random presence channel, waits for subscription_succeeded,
// leaves, and joins the next one, as fast as the server answers.

async function churn(o) {
  const churners = conns.slice();
  const st = phaseStats(o.phase);
  let seq = 0;
  const t0 = performance.now();
  const end = t0 + o.durationMs;
  let active = churners.length;
  await new Promise((resolve) => {
    if (active === 0) return resolve();
    const stopOne = () => {
      if (--active === 0) resolve();
    };
    for (const c of churners) {
      const joinNext = () => {
        if (performance.now() >= end || c.ws.readyState !== WebSocket.OPEN) return stopOne();
        const name = `${o.prefix}${Math.floor(Math.random() * o.channels)}`;
        const ch = { name, userId: `${o.userPrefix}-${c.idx}`, userInfo: { m: `@t=${nowUs()};p=${o.phase};s=${++seq};` } };
        c.pending = { name, t: nowUs() };
        c.ws.send(subscribeFrame(c, ch));
      };
      c.onSubscribed = (name) => {
        if (!c.pending || c.pending.name !== name) return;
        st.joins++;
        st.joinHist.record(nowUs() - c.pending.t);
        c.pending = null;
        c.ws.send(JSON.stringify({ event: 'pusher:unsubscribe', data: { channel: name } }));
        st.leaves++;
        setImmediate(joinNext);
      };
      c.onSubscribeError = (name) => {
        if (!c.pending || c.pending.name !== name) return;
        c.pending = null;
        setTimeout(joinNext, 10);
      };
      joinNext();
    }
    setTimeout(resolve, o.durationMs + 5000); // bound: never wait on a silent server
  });
  return { churners: churners.length, joins: st.joins, leaves: st.leaves, elapsedMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// IPC

function statsFor(p) {
  const s = phaseStats(p);
  return {
    delivered: s.delivered,
    hist: s.hist.toJSON(),
    added: s.added,
    removed: s.removed,
    addedHist: s.addedHist.toJSON(),
    joins: s.joins,
    leaves: s.leaves,
    joinHist: s.joinHist.toJSON(),
    sent: s.sent,
    lastUs: s.lastUs,
    errors: { ...errors },
    closedUnexpectedly,
    open: conns.filter((c) => c.ws.readyState === WebSocket.OPEN).length,
    xhrReceives: xhrCounters.receives,
    xhrSends: xhrCounters.sends,
    xhrRenewals: xhrCounters.renewals,
  };
}

const handlers = {
  connect,
  closeAll,
  publish,
  clientEvents,
  churn,
  phase: ({ phase, report, reportMs = 10 }) => {
    currentPhase = phase;
    phaseStats(phase);
    for (const k of Object.keys(errors)) delete errors[k];
    closedUnexpectedly = 0;
    resetXhrCounters();
    clearInterval(reportTimer);
    reportTimer = null;
    if (report) {
      let last = -1;
      reportTimer = setInterval(() => {
        const d = phaseStats(phase).delivered;
        if (d !== last) {
          last = d;
          process.send({ type: 'progress', phase, delivered: d });
        }
      }, reportMs);
    }
    return { ok: true };
  },
  stats: ({ phase }) => statsFor(phase),
  forget: ({ phase }) => {
    phases.delete(phase);
    return { ok: true };
  },
  exit: () => {
    setTimeout(() => process.exit(0), 10);
    return { ok: true };
  },
};

async function onCommand(m) {
  if (m.cmd === 'progress') {
    if (m.phase === progressPhase) {
      progressDelivered = m.delivered;
      pumpHook?.();
    }
    return;
  }
  const h = handlers[m.cmd];
  try {
    if (!h) throw new Error(`unknown command ${m.cmd}`);
    const result = await h(m.args ?? {});
    process.send({ type: 'reply', id: m.id, result });
  } catch (err) {
    process.send({ type: 'reply', id: m.id, error: err?.stack ?? String(err) });
  }
}
// onCommand replies to every command, errors included, so its promise needs no handler here.
process.on('message', (m) => void onCommand(m));
process.on('disconnect', () => process.exit(0));
process.send({ type: 'ready' });
