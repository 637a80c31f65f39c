#!/usr/bin/env node
/**
 * Soak test: starts Redis, two gateway processes and a webhook worker (the BUILT server: run
 * `npx tsc -b` first), warms up, measures every process (RSS from /proc/<pid>/status, active
 * handles and open fds from each process's /metrics), runs connect / subscribe (public, private,
 * presence) / publish / client-event / unsubscribe / disconnect churn for --seconds with up to
 * --clients clients, closes everything, lets it settle, measures again, prints a table and one
 * JSON line (`SOAK_RESULT {...}`), and exits 1 if any process grew by more than
 * --max-growth-pct % + --max-growth-mb MB of RSS, or its handles or fds are not back to
 * baseline ± --handle-slack. Exit 2: the setup failed.
 *
 *   node scripts/soak.mjs --seconds 120 --clients 200 [--rounds 3] [--warmup 30] [--no-gc]
 *
 * With --rounds N the churn is cut into N rounds, each followed by a settle and a measurement
 * (printed per round); the verdict compares the last one with the baseline.
 *
 * The Node processes run with `--inspect=127.0.0.1:0` (unless --no-gc): before each measurement
 * the soak asks each of them, through the inspector, for a full garbage collection
 * (HeapProfiler.collectGarbage), so that "heap used" is live memory, not garbage not yet collected.
 *
 * Loopback only; every process it starts is killed on exit.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { freePort, killAll, rssBytes, sleep, startProcess, startRedisServer, waitFor } from './lib/processes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const GATEWAY_MAIN = `${root}packages/gateway/dist/main.js`;
const WORKER_MAIN = `${root}packages/webhook-worker/dist/main.js`;
const PROTOCOL = `${root}packages/protocol/dist/index.js`;

const { values: opts } = parseArgs({
  options: {
    seconds: { type: 'string', default: '120' },
    clients: { type: 'string', default: '200' },
    warmup: { type: 'string' },
    'max-growth-pct': { type: 'string', default: '20' },
    'max-growth-mb': { type: 'string', default: '10' },
    'handle-slack': { type: 'string', default: '5' },
    rounds: { type: 'string', default: '1' },
    /** Do not collect garbage (through the inspector) before measuring. */
    'no-gc': { type: 'boolean', default: false },
    'redis-server': { type: 'string', default: 'redis-server' },
    verbose: { type: 'boolean', default: false },
  },
});
const SECONDS = Number(opts.seconds);
const CLIENTS = Number(opts.clients);
// Long enough for V8 to size its heaps and JIT the hot paths: growth measured after it is growth.
const WARMUP = opts.warmup !== undefined ? Number(opts.warmup) : Math.max(10, Math.min(30, Math.round(SECONDS / 4)));
const MAX_PCT = Number(opts['max-growth-pct']);
const MAX_MB = Number(opts['max-growth-mb']);
const SLACK = Number(opts['handle-slack']);
/** The churn is cut into rounds, each followed by a settle and a measurement: a leak keeps growing round after round. */
const ROUNDS = Math.max(1, Math.floor(Number(opts.rounds)));
for (const [k, v] of Object.entries({
  seconds: SECONDS,
  clients: CLIENTS,
  warmup: WARMUP,
  'max-growth-pct': MAX_PCT,
  'max-growth-mb': MAX_MB,
  'handle-slack': SLACK,
  rounds: ROUNDS,
})) {
  if (!Number.isFinite(v) || v < 0) fail(2, `invalid --${k}: ${v}`);
}

function fail(code, msg) {
  process.stderr.write(`soak: ${msg}\n`);
  process.exit(code);
}
for (const f of [GATEWAY_MAIN, WORKER_MAIN, PROTOCOL]) if (!existsSync(f)) fail(2, `${f} missing: build first (npx tsc -b)`);
const { signApiRequest, signChannel } = await import(PROTOCOL);

const log = (...a) => process.stdout.write(`${a.join(' ')}\n`);
/**
 * One HTTP request on its own connection (no keep-alive): idle pooled connections of this driver
 * would otherwise show up as handles and fds of the process being measured.
 */
function http(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false, headers: body !== undefined ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// processes

const app = { id: String(100000 + Math.floor(Math.random() * 800000)), key: `soak-${randomBytes(6).toString('hex')}`, secret: randomBytes(16).toString('hex') };
const prefix = `soak-${randomBytes(4).toString('hex')}`;

const hooks = { requests: 0, events: 0 };
const hookServer = createServer((req, res) => {
  let n = 0;
  req.on('data', (c) => (n += c.length));
  req.on('end', () => {
    hooks.requests++;
    res.end('ok');
  });
});
await new Promise((r) => hookServer.listen(0, '127.0.0.1', r));
const hookUrl = `http://127.0.0.1:${hookServer.address().port}/hook`;

// readiness waits are backstops: a busy machine starts processes slowly
const { port: redisPort, proc: redis } = await startRedisServer(opts['redis-server'], { verbose: opts.verbose }).catch((err) => fail(2, err.message));

const common = {
  PUSH_HOST: '127.0.0.1',
  PUSH_APP_ID: app.id,
  PUSH_APP_KEY: app.key,
  PUSH_APP_SECRET: app.secret,
  REDIS_URL: `redis://127.0.0.1:${redisPort}`,
  PUSH_REDIS_PREFIX: prefix,
  PUSH_WEBHOOK_URL: hookUrl,
  PUSH_WEBHOOK_DELAY_MS: '1000',
  PUSH_NODE_LEASE_MS: '4000',
  LOG_LEVEL: 'warn',
};
const inspectArgs = opts['no-gc'] ? [] : ['--inspect=127.0.0.1:0'];
const gateways = [];
for (let i = 0; i < 2; i++) {
  const wsPort = await freePort();
  const apiPort = await freePort();
  const p = startProcess(
    `gateway-${i}`,
    process.execPath,
    [...inspectArgs, GATEWAY_MAIN, '--role=gateway'],
    {
      ...common,
      PUSH_WS_PORT: String(wsPort),
      PUSH_API_PORT: String(apiPort),
      PUSH_NODE_ID: `${prefix}-g${i}`,
    },
    { verbose: opts.verbose },
  );
  Object.assign(p, {
    wsPort,
    apiPort,
    api: `http://127.0.0.1:${apiPort}`,
    handleMetric: 'herald_process_nodejs_active_handles_total',
    fdMetric: 'herald_process_process_open_fds',
    heapMetric: 'herald_process_nodejs_heap_size_used_bytes',
  });
  gateways.push(p);
}
const workerPort = await freePort();
const worker = startProcess(
  'worker',
  process.execPath,
  [...inspectArgs, WORKER_MAIN],
  {
    ...common,
    PUSH_WORKER_PORT: String(workerPort),
    PUSH_NODE_ID: `${prefix}-w`,
  },
  { verbose: opts.verbose },
);
Object.assign(worker, {
  api: `http://127.0.0.1:${workerPort}`,
  handleMetric: 'herald_worker_process_nodejs_active_handles_total',
  fdMetric: 'herald_worker_process_process_open_fds',
  heapMetric: 'herald_worker_process_nodejs_heap_size_used_bytes',
});
const nodes = [...gateways, worker];
for (const n of nodes) {
  await waitFor(`${n.name} /ready`, 30_000, async () => {
    if (n.exited) throw new Error(`${n.name} exited ${JSON.stringify(n.exit)}`);
    return (await http('GET', `${n.api}/ready`)).status === 200;
  }).catch((err) => fail(2, `${err.message}\n${n.tail.join('\n')}`));
}
const procs = [...nodes, redis];

// ---------------------------------------------------------------------------------------------
// measurements

async function metricsOf(n) {
  const { text } = await http('GET', `${n.api}/metrics`);
  const read = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return { handles: read(n.handleMetric), fds: read(n.fdMetric), heap: read(n.heapMetric), text };
}
/** A full GC in a child process, through its inspector (Chrome DevTools Protocol). */
function collectGarbage(p) {
  if (!p.inspector) return Promise.resolve();
  return new Promise((resolve) => {
    const ws = new WebSocket(p.inspector);
    const done = () => {
      clearTimeout(timer);
      ws.terminate();
      resolve();
    };
    const timer = setTimeout(done, 10_000);
    ws.on('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    ws.on('message', (/** @type {Buffer} */ m) => {
      if (JSON.parse(m.toString()).id === 1) done();
    });
    ws.on('error', done);
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Three samples 400 ms apart; the median of each figure (RSS fluctuates with GC). */
async function measure() {
  const samples = [];
  for (const p of nodes) {
    await collectGarbage(p);
    await collectGarbage(p);
  }
  for (let i = 0; i < 3; i++) {
    const one = {};
    for (const p of procs) {
      const m = p === redis ? { handles: NaN, fds: NaN, heap: NaN } : await metricsOf(p);
      one[p.name] = { rss: rssBytes(p.child.pid), handles: m.handles, fds: m.fds, heap: m.heap };
    }
    samples.push(one);
    await sleep(400);
  }
  const out = {};
  for (const p of procs) {
    const pick = (k) => median(samples.map((s) => s[p.name][k]));
    out[p.name] = { rss: pick('rss'), handles: pick('handles'), fds: pick('fds'), heap: pick('heap') };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// clients and churn

const stats = {
  connects: 0,
  disconnects: 0,
  subscribes: 0,
  presenceJoins: 0,
  privateJoins: 0,
  unsubscribes: 0,
  clientEvents: 0,
  publishes: 0,
  apiErrors: 0,
  queries: 0,
  framesIn: 0,
  errorsIn: 0,
};
const clients = new Set();
const PUBLIC = Array.from({ length: 10 }, (_, i) => `pub-${i}`);
const PRESENCE = Array.from({ length: 4 }, (_, i) => `presence-room-${i}`);
const PRIVATE = 'private-chat';
const pick = (xs) => xs[Math.floor(Math.random() * xs.length)];
let userSeq = 0;

function connect() {
  const g = pick(gateways);
  const ws = new WebSocket(`ws://127.0.0.1:${g.wsPort}/app/${app.key}?protocol=7&client=soak&version=1`);
  const c = { ws, g, socketId: '', channels: new Set(), lastClientEvent: 0, user: `u${userSeq++ % 200}` };
  clients.add(c);
  stats.connects++;
  ws.on('message', (/** @type {Buffer} */ buf) => {
    stats.framesIn++;
    let f;
    try {
      f = JSON.parse(buf.toString());
    } catch {
      return;
    }
    if (f.event === 'pusher:connection_established') c.socketId = JSON.parse(f.data).socket_id;
    else if (f.event === 'pusher:error' || f.event === 'pusher:subscription_error') stats.errorsIn++;
  });
  ws.on('error', () => undefined);
  ws.on('close', () => clients.delete(c));
}

function send(c, frame) {
  if (c.ws.readyState === WebSocket.OPEN) c.ws.send(JSON.stringify(frame));
}

function subscribe(c, channel) {
  if (!c.socketId || c.channels.has(channel)) return;
  let data = { channel };
  if (channel.startsWith('presence-')) {
    const channel_data = JSON.stringify({ user_id: c.user, user_info: { n: c.user } });
    data = { channel, channel_data, auth: signChannel(app.key, app.secret, c.socketId, channel, channel_data) };
    stats.presenceJoins++;
  } else if (channel.startsWith('private-')) {
    data = { channel, auth: signChannel(app.key, app.secret, c.socketId, channel) };
    stats.privateJoins++;
  }
  send(c, { event: 'pusher:subscribe', data });
  c.channels.add(channel);
  stats.subscribes++;
}

async function api(method, path, body, params = {}) {
  const g = pick(gateways);
  const q = signApiRequest({ key: app.key, secret: app.secret, method, path, params, ...(body !== undefined ? { body } : {}) });
  try {
    const r = await http(method, `${g.api}${path}?${q}`, body);
    if (r.status !== 200) stats.apiErrors++;
    return r.status;
  } catch {
    stats.apiErrors++;
    return 0;
  }
}

function churnOnce(target) {
  const list = [...clients];
  const ready = list.filter((c) => c.socketId);
  const r = Math.random();
  if (list.length < target && (r < 0.25 || list.length < target / 2)) return connect();
  if (r < 0.37 && list.length > 0) {
    const c = pick(list);
    stats.disconnects++;
    if (Math.random() < 0.3) c.ws.terminate();
    else c.ws.close();
    return;
  }
  if (ready.length === 0) return;
  const c = pick(ready);
  if (r < 0.55) return subscribe(c, pick(PUBLIC));
  if (r < 0.63) return subscribe(c, pick(PRESENCE));
  if (r < 0.67) return subscribe(c, PRIVATE);
  if (r < 0.75 && c.channels.size > 0) {
    const ch = pick([...c.channels]);
    c.channels.delete(ch);
    stats.unsubscribes++;
    return send(c, { event: 'pusher:unsubscribe', data: { channel: ch } });
  }
  if (r < 0.85 && c.channels.has(PRIVATE) && Date.now() - c.lastClientEvent > 250) {
    c.lastClientEvent = Date.now();
    stats.clientEvents++;
    return send(c, { event: 'client-typing', channel: PRIVATE, data: { at: Date.now() } });
  }
  if (r < 0.97) {
    stats.publishes++;
    const channels = [pick(PUBLIC), pick(PRESENCE)];
    return void api(
      'POST',
      `/apps/${app.id}/events`,
      JSON.stringify({ name: 'tick', channels, data: JSON.stringify({ at: Date.now(), pad: 'x'.repeat(Math.floor(Math.random() * 500)) }) }),
    );
  }
  stats.queries++;
  return void (Math.random() < 0.5
    ? api('GET', `/apps/${app.id}/channels`, undefined, { info: 'subscription_count' })
    : api('GET', `/apps/${app.id}/channels/${pick(PRESENCE)}/users`));
}

async function churn(seconds, target) {
  const until = Date.now() + seconds * 1000;
  const perTick = Math.max(1, Math.round(target / 20));
  while (Date.now() < until) {
    for (let i = 0; i < perTick; i++) churnOnce(target);
    await sleep(20);
    for (const n of nodes) if (n.exited) throw new Error(`${n.name} exited during the churn: ${JSON.stringify(n.exit)}\n${n.tail.join('\n')}`);
  }
}

/** Closes every client, then waits until both gateways and the worker have nothing left. */
async function settle() {
  for (const c of [...clients]) c.ws.close();
  await waitFor('clients to close', 60_000, () => clients.size === 0);
  await waitFor('the cluster to be empty', 60_000, async () => {
    for (const g of gateways) {
      const q = signApiRequest({ key: app.key, secret: app.secret, method: 'GET', path: `/apps/${app.id}/channels` });
      const body = JSON.parse((await http('GET', `${g.api}/apps/${app.id}/channels?${q}`)).text);
      if (Object.keys(body.channels ?? { x: 1 }).length > 0) return false;
      const m = await metricsOf(g);
      if (!/^herald_connections\{[^}]*\} 0$/m.test(m.text) && /^herald_connections\{/m.test(m.text)) return false;
    }
    const w = await metricsOf(worker);
    const gauge = (name) => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(w.text)?.[1] ?? NaN);
    return gauge('herald_webhook_pending_transitions') === 0 && gauge('herald_webhook_outbox_backlog') === 0 && gauge('herald_webhook_in_flight') === 0;
  });
}

// ---------------------------------------------------------------------------------------------

const mb = (b) => (b / 1024 / 1024).toFixed(1);
let exitCode = 0;
try {
  log(
    `soak: ${SECONDS} s of churn with up to ${CLIENTS} clients, ${WARMUP} s warm-up; redis :${redisPort}, gateways :${gateways.map((g) => g.wsPort).join(',')}, worker :${workerPort}`,
  );
  await churn(WARMUP, CLIENTS);
  await settle();
  const base = await measure();
  const t0 = Date.now();
  const perRound = [];
  let after;
  let settleMs = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    await churn(SECONDS / ROUNDS, CLIENTS);
    const s0 = Date.now();
    await settle();
    settleMs = Date.now() - s0;
    after = await measure();
    perRound.push({
      round,
      atSeconds: Math.round((Date.now() - t0) / 1000),
      ...Object.fromEntries(
        procs.map((p) => [
          p.name,
          {
            rss_mb: Number(mb(after[p.name].rss)),
            heap_used_mb: Number.isFinite(after[p.name].heap) ? Number(mb(after[p.name].heap)) : null,
            handles: after[p.name].handles,
            fds: after[p.name].fds,
          },
        ]),
      ),
    });
    if (ROUNDS > 1)
      log(
        `round ${round}/${ROUNDS}: ${procs.map((p) => `${p.name} RSS ${mb(after[p.name].rss)} MB${Number.isFinite(after[p.name].heap) ? ` heap ${mb(after[p.name].heap)} MB` : ''}`).join(', ')}`,
      );
  }
  const churnStats = { ...stats };

  const rows = [];
  const failures = [];
  for (const p of procs) {
    const b = base[p.name];
    const a = after[p.name];
    const limit = b.rss * (1 + MAX_PCT / 100) + MAX_MB * 1024 * 1024;
    const row = {
      process: p.name,
      pid: p.child.pid,
      rss_base_mb: Number(mb(b.rss)),
      rss_after_mb: Number(mb(a.rss)),
      rss_growth_pct: Number((((a.rss - b.rss) / b.rss) * 100).toFixed(1)),
      rss_limit_mb: Number(mb(limit)),
      heap_used_base_mb: Number.isFinite(b.heap) ? Number(mb(b.heap)) : null,
      heap_used_after_mb: Number.isFinite(a.heap) ? Number(mb(a.heap)) : null,
      handles_base: b.handles,
      handles_after: a.handles,
      fds_base: b.fds,
      fds_after: a.fds,
    };
    rows.push(row);
    if (a.rss > limit) failures.push(`${p.name}: RSS ${mb(b.rss)} → ${mb(a.rss)} MB, over ${mb(limit)} MB (${MAX_PCT} % + ${MAX_MB} MB)`);
    if (Number.isFinite(b.handles) && Math.abs(a.handles - b.handles) > SLACK)
      failures.push(`${p.name}: active handles ${b.handles} → ${a.handles} (± ${SLACK})`);
    if (Number.isFinite(b.fds) && Math.abs(a.fds - b.fds) > SLACK) failures.push(`${p.name}: open fds ${b.fds} → ${a.fds} (± ${SLACK})`);
    if (p.exited) failures.push(`${p.name} exited: ${JSON.stringify(p.exit)}`);
  }
  const pad = (s, n) => String(s).padStart(n);
  log('');
  log(
    `${'process'.padEnd(10)} ${pad('pid', 7)} ${pad('RSS base MB', 12)} ${pad('RSS after MB', 13)} ${pad('growth %', 9)} ${pad('limit MB', 9)} ${pad('heap used MB', 13)} ${pad('handles', 9)} ${pad('fds', 9)}`,
  );
  for (const r of rows) {
    log(
      `${r.process.padEnd(10)} ${pad(r.pid, 7)} ${pad(r.rss_base_mb.toFixed(1), 12)} ${pad(r.rss_after_mb.toFixed(1), 13)} ${pad(r.rss_growth_pct.toFixed(1), 9)} ${pad(r.rss_limit_mb.toFixed(1), 9)} ${pad(r.heap_used_base_mb === null ? 'n/a' : `${r.heap_used_base_mb.toFixed(1)}→${r.heap_used_after_mb.toFixed(1)}`, 13)} ${pad(Number.isFinite(r.handles_base) ? `${r.handles_base}→${r.handles_after}` : 'n/a', 9)} ${pad(Number.isFinite(r.fds_base) ? `${r.fds_base}→${r.fds_after}` : 'n/a', 9)}`,
    );
  }
  log('');
  log(`churn: ${JSON.stringify(churnStats)}; webhooks received: ${hooks.requests}; settled ${settleMs} ms after the churn`);
  for (const f of failures) log(`FAIL ${f}`);
  if (failures.length > 0) exitCode = 1;
  log(
    `SOAK_RESULT ${JSON.stringify({
      ok: exitCode === 0,
      seconds: SECONDS,
      clients: CLIENTS,
      warmupSeconds: WARMUP,
      thresholds: { rssGrowthPct: MAX_PCT, rssGrowthMb: MAX_MB, handleSlack: SLACK },
      processes: rows,
      churn: churnStats,
      rounds: perRound,
      webhookRequests: hooks.requests,
      settleMs,
      failures,
    })}`,
  );
} catch (err) {
  log(`soak: ${err.stack ?? err}`);
  for (const n of procs) if (n.tail.length) log(`--- ${n.name} (last lines)\n${n.tail.slice(-15).join('\n')}`);
  exitCode = 2;
} finally {
  for (const c of clients) c.ws.terminate();
  killAll();
  hookServer.close();
}
process.exit(exitCode);
