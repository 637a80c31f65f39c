#!/usr/bin/env node
/**
 * Burst memory (issue "Safe by default", point 10): how much a gateway's RSS grows while a large
 * burst is published to a channel one of its clients never reads. Starts the BUILT gateway (run
 * `npx tsc -b` first), clustered (one node on a local redis-server) or embedded, connects a client
 * that reads the channel, publishes a short warm-up through it (every code path once), connects a
 * second client that subscribes and then stops reading (its socket is paused), publishes --mb MB as
 * --event-bytes events through `batch_events` (--batch per request, --concurrency requests in
 * flight), and prints one JSON line per run (`BURST_RESULT {...}`) and a summary on stderr:
 *
 * - base: `idle` (default) the lowest RSS over 2 s of quiet before the burst, as a gateway in
 *   service would be; `gc` the RSS after a forced full GC (smaller: V8 shrinks its heaps);
 * - peak: the highest VmRSS, sampled every 25 ms, until the reader has every event;
 * - settled: 2 s later, no GC; gc: after a forced full GC at the end;
 * - heap and external memory from the gateway's /metrics, and its own process.memoryUsage() and
 *   V8 heap spaces at the highest RSS seen (read every 100 ms through its inspector).
 *
 * GCs go through the gateway's inspector (`--inspect=127.0.0.1:0`, HeapProfiler.collectGarbage);
 * nothing is added to the server. --survivors FILE writes a sampling heap profile (DevTools
 * .heapprofile) of the allocations a scavenge did not collect during the burst: what outlives
 * V8's young generation, and where it was allocated.
 *
 *   node scripts/burst-memory.mjs --mode clustered|embedded [--runs 3] [--mb 108] [--reader]
 *                                 [--base idle|gc] [--warm-mb N] [--survivors FILE] [--node-flags a,b]
 *
 * Loopback only; every process it starts is killed on exit.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { freePort, rssBytes, sleep, startProcess, startRedisServer, stopProcess, waitFor } from './lib/processes.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const GATEWAY_MAIN = `${root}packages/gateway/dist/main.js`;
const PROTOCOL = `${root}packages/protocol/dist/index.js`;

const { values: opts } = parseArgs({
  options: {
    mode: { type: 'string', default: 'clustered' },
    runs: { type: 'string', default: '1' },
    mb: { type: 'string', default: '108' },
    'event-bytes': { type: 'string', default: '10000' },
    batch: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '4' },
    /** The reading client stays on the channel during the burst too (and must get every event). */
    reader: { type: 'boolean', default: false },
    base: { type: 'string', default: 'idle' },
    /** MB of warm-up (at least 20 batches), published to the reading client before the baseline. */
    'warm-mb': { type: 'string', default: '0' },
    survivors: { type: 'string' },
    /** Extra node flags for the gateway, comma-separated (e.g. --trace-gc). */
    'node-flags': { type: 'string', default: '' },
    'redis-server': { type: 'string', default: 'redis-server' },
    verbose: { type: 'boolean', default: false },
  },
});
const MODE = opts.mode;
const RUNS = Number(opts.runs);
const EVENT_BYTES = Number(opts['event-bytes']);
const BATCH = Number(opts.batch);
const CONCURRENCY = Number(opts.concurrency);
const BATCHES = Math.round((Number(opts.mb) * 1e6) / EVENT_BYTES / BATCH);
const EVENTS = BATCHES * BATCH;
const WARM_BATCHES = Math.max(20, Math.round((Number(opts['warm-mb']) * 1e6) / EVENT_BYTES / BATCH));
if (MODE !== 'clustered' && MODE !== 'embedded') fail(2, '--mode must be clustered or embedded');
if (opts.base !== 'idle' && opts.base !== 'gc') fail(2, '--base must be idle or gc');
for (const f of [GATEWAY_MAIN, PROTOCOL]) if (!existsSync(f)) fail(2, `${f} missing: build first (npx tsc -b)`);
const { signApiRequest } = await import(PROTOCOL);

function fail(code, msg) {
  process.stderr.write(`burst-memory: ${msg}\n`);
  process.exit(code);
}
const log = (...a) => process.stderr.write(`${a.join(' ')}\n`);
const MB = (b) => Math.round((b / 1048576) * 10) / 10;

const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY + 2 });
function http(method, url, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent, headers: body !== undefined ? { 'content-type': 'application/json' } : {} }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function metrics(api) {
  const { text } = await http('GET', `${api}/metrics`);
  const read = (name) => {
    const m = new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  };
  return {
    heapUsed: read('herald_process_nodejs_heap_size_used_bytes'),
    heapTotal: read('herald_process_nodejs_heap_size_total_bytes'),
    external: read('herald_process_nodejs_external_memory_bytes'),
    slowClosed: read('herald_slow_consumers_closed_total'),
    redisIn: read('herald_redis_publications_in'),
  };
}

/** A Chrome DevTools Protocol session with the gateway, through its inspector. */
async function inspector(p) {
  const ws = new WebSocket(p.inspector);
  await new Promise((resolve, reject) => {
    ws.on('open', resolve);
    ws.on('error', reject);
  });
  let id = 0;
  const pending = new Map();
  ws.on('message', (/** @type {Buffer} */ m) => {
    const msg = JSON.parse(m.toString());
    pending.get(msg.id)?.(msg.result);
    pending.delete(msg.id);
  });
  return {
    call: (method, params = {}) =>
      new Promise((resolve) => {
        pending.set(++id, resolve);
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.terminate(),
  };
}

/** RSS after two full GCs. */
async function rssAfterGc(p) {
  const s = await inspector(p);
  await s.call('HeapProfiler.collectGarbage');
  await s.call('HeapProfiler.collectGarbage');
  s.close();
  await sleep(300);
  return rssBytes(p.child.pid);
}

/** The lowest RSS of 10 samples over 2 s of quiet. */
async function quietRss(pid) {
  let min = Infinity;
  for (let i = 0; i < 10; i++) {
    await sleep(200);
    min = Math.min(min, rssBytes(pid));
  }
  return min;
}

/** The gateway's process.memoryUsage() and heap spaces every `everyMs`; keeps the sample with the highest RSS. */
async function breakdown(p, everyMs) {
  const s = await inspector(p);
  const expr = `JSON.stringify({ mem: process.memoryUsage(), spaces: process.getBuiltinModule('v8').getHeapSpaceStatistics().map((x) => [x.space_name, x.space_size, x.space_used_size]) })`;
  let peak;
  const sample = async () => {
    const r = await s.call('Runtime.evaluate', { expression: expr, returnByValue: true });
    const v = r?.result?.value;
    if (typeof v !== 'string') return;
    const b = JSON.parse(v);
    if (peak === undefined || b.mem.rss > peak.mem.rss) peak = b;
  };
  // A failed sample is an unhandled rejection: it ends the run rather than skewing the peak.
  const timer = setInterval(() => void sample(), everyMs);
  return () => {
    clearInterval(timer);
    s.close();
    if (peak === undefined) return null;
    const out = {
      rss: MB(peak.mem.rss),
      heapTotal: MB(peak.mem.heapTotal),
      heapUsed: MB(peak.mem.heapUsed),
      external: MB(peak.mem.external),
      arrayBuffers: MB(peak.mem.arrayBuffers),
    };
    for (const [name, size, used] of peak.spaces) if (size > 0) out[name] = `${MB(used)}/${MB(size)}`;
    return out;
  };
}

/** Samples allocations until the returned function is called; those a scavenge collected are left out. */
async function survivors(p, file) {
  const s = await inspector(p);
  await s.call('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
  return async () => {
    const r = await s.call('HeapProfiler.stopSampling');
    s.close();
    writeFileSync(file, JSON.stringify(r.profile));
  };
}

/** A Pusher-protocol client subscribed to `channel`; counts the `burst` events it reads, keeps none. */
async function subscriber(wsPort, key, channel) {
  const ws = new WebSocket(`ws://127.0.0.1:${wsPort}/app/${key}?protocol=7&client=burst&version=1`);
  /** @type {{ ws: WebSocket, events: number, closeCode: number | undefined, closed?: Promise<number> }} */
  const c = { ws, events: 0, closeCode: undefined };
  const eventPrefix = Buffer.from('{"event":"burst",');
  const subscribed = new Promise((resolve, reject) => {
    ws.on('message', (/** @type {Buffer} */ buf) => {
      if (buf.length > eventPrefix.length && buf.subarray(0, eventPrefix.length).equals(eventPrefix)) {
        c.events++;
        return;
      }
      const f = JSON.parse(buf.toString());
      if (f.event === 'pusher:connection_established') ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
      else if (f.event === 'pusher_internal:subscription_succeeded') resolve();
    });
    ws.on('error', reject);
  });
  c.closed = new Promise((resolve) => ws.on('close', (code) => resolve((c.closeCode = code))));
  await subscribed;
  return c;
}

async function runOnce(run) {
  const app = {
    id: String(100000 + Math.floor(Math.random() * 800000)),
    key: `burst-${randomBytes(6).toString('hex')}`,
    secret: randomBytes(16).toString('hex'),
  };
  let redis;
  const env = { PUSH_HOST: '127.0.0.1', PUSH_APP_ID: app.id, PUSH_APP_KEY: app.key, PUSH_APP_SECRET: app.secret, LOG_LEVEL: 'warn' };
  if (MODE === 'clustered') {
    const started = await startRedisServer(opts['redis-server'], { timeoutMs: 10_000, verbose: opts.verbose });
    redis = started.proc;
    const redisPort = started.port;
    Object.assign(env, { REDIS_URL: `redis://127.0.0.1:${redisPort}`, PUSH_REDIS_PREFIX: `burst-${randomBytes(4).toString('hex')}` });
  }
  const wsPort = await freePort();
  const apiPort = await freePort();
  const api = `http://127.0.0.1:${apiPort}`;
  const flags = opts['node-flags'] ? opts['node-flags'].split(',') : [];
  const gw = startProcess(
    'gateway',
    process.execPath,
    ['--inspect=127.0.0.1:0', ...flags, GATEWAY_MAIN, ...(MODE === 'clustered' ? ['--role=gateway'] : [])],
    {
      ...env,
      PUSH_WS_PORT: String(wsPort),
      PUSH_API_PORT: String(apiPort),
    },
    { verbose: opts.verbose },
  );
  try {
    await waitFor('gateway /ready', 20_000, async () => (await http('GET', `${api}/ready`)).status === 200);
  } catch (err) {
    fail(2, `${err.message}\n${gw.tail.join('\n')}`);
  }
  const pid = gw.child.pid;
  const channel = 'burst';
  const data = 'x'.repeat(EVENT_BYTES);
  const path = `/apps/${app.id}/batch_events`;
  const body = JSON.stringify({ batch: Array.from({ length: BATCH }, () => ({ channel, name: 'burst', data })) });
  const publish = async () => {
    const q = signApiRequest({ key: app.key, secret: app.secret, method: 'POST', path, body });
    const r = await http('POST', `${api}${path}?${q}`, body);
    if (r.status !== 200) throw new Error(`batch_events answered ${r.status}: ${r.text}`);
  };
  const publishAll = async (batches, onSent = () => undefined) => {
    let sent = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (sent < batches) {
          sent++;
          onSent(sent);
          await publish();
        }
      }),
    );
  };

  const reader = await subscriber(wsPort, app.key, channel);
  await publishAll(WARM_BATCHES);
  await waitFor('warm-up delivered', 120_000, () => reader.events === WARM_BATCHES * BATCH);
  if (!opts.reader) {
    reader.ws.close();
    await reader.closed;
  }

  const slow = await subscriber(wsPort, app.key, channel);
  slow.ws._socket.pause();
  const base = opts.base === 'gc' ? await rssAfterGc(gw) : await quietRss(pid);
  const baseMetrics = await metrics(api);

  const stopSurvivors = opts.survivors !== undefined && run === 1 ? await survivors(gw, opts.survivors) : undefined;
  const stopBreakdown = await breakdown(gw, 100);
  let peak = base;
  let peakAt = 0;
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const r = rssBytes(pid);
    if (r > peak) {
      peak = r;
      peakAt = Date.now() - t0;
    }
  }, 25);
  let sent = 0;
  /** When the slow consumer was first seen closed, set by the watch below. @type {{ at: { ms: number, batches: number } | null }} */
  const slowClosed = { at: null };
  const watchClose = async () => {
    const at = { ms: Date.now() - t0, batches: sent };
    if (slowClosed.at === null && (await metrics(api)).slowClosed >= 1) slowClosed.at ??= at;
  };
  const closeWatch = setInterval(() => void watchClose(), 100);
  await publishAll(BATCHES, (n) => (sent = n));
  const publishMs = Date.now() - t0;
  clearInterval(closeWatch);
  await stopSurvivors?.();
  if (opts.reader) await waitFor('reader got every event', 120_000, () => reader.events === (WARM_BATCHES + BATCHES) * BATCH || reader.closeCode !== undefined);
  clearInterval(sampler);
  peak = Math.max(peak, rssBytes(pid));
  const peakBreakdown = stopBreakdown();
  await sleep(2000);
  const settled = rssBytes(pid);
  const settledMetrics = await metrics(api);
  const gc = await rssAfterGc(gw);
  const gcMetrics = await metrics(api);
  const result = {
    mode: MODE,
    run,
    base: opts.base,
    events: EVENTS,
    eventBytes: EVENT_BYTES,
    publishedMB: MB(EVENTS * EVENT_BYTES),
    publishMs,
    baseMB: MB(base),
    peakGrowthMB: MB(peak - base),
    peakAtMs: peakAt,
    settledGrowthMB: MB(settled - base),
    gcGrowthMB: MB(gc - base),
    heapUsedMB: { base: MB(baseMetrics.heapUsed), settled: MB(settledMetrics.heapUsed), gc: MB(gcMetrics.heapUsed) },
    heapTotalMB: { base: MB(baseMetrics.heapTotal), settled: MB(settledMetrics.heapTotal), gc: MB(gcMetrics.heapTotal) },
    externalMB: { base: MB(baseMetrics.external), settled: MB(settledMetrics.external), gc: MB(gcMetrics.external) },
    peakBreakdownMB: peakBreakdown,
    slowClosed: gcMetrics.slowClosed,
    slowClosedAt: slowClosed.at,
    redisPublicationsIn: gcMetrics.redisIn,
    readerEvents: opts.reader ? reader.events - WARM_BATCHES * BATCH : null,
    readerCloseCode: opts.reader ? (reader.closeCode ?? null) : null,
    gatewayAlive: !gw.exited,
  };
  slow.ws.terminate();
  reader.ws.terminate();
  await stopProcess(gw);
  if (redis) await stopProcess(redis);
  return result;
}

for (let run = 1; run <= RUNS; run++) {
  const r = await runOnce(run);
  process.stdout.write(`BURST_RESULT ${JSON.stringify(r)}\n`);
  log(
    `${r.mode} run ${r.run}: ${r.publishedMB} MiB in ${r.publishMs} ms; base (${r.base}) ${r.baseMB} MiB; growth: peak ${r.peakGrowthMB} MiB (at ${r.peakAtMs} ms), ` +
      `settled ${r.settledGrowthMB}, after GC ${r.gcGrowthMB}; heap used/total ${r.heapUsedMB.settled}/${r.heapTotalMB.settled} MiB settled ` +
      `(base ${r.heapUsedMB.base}/${r.heapTotalMB.base}); external ${r.externalMB.settled} settled, ${r.externalMB.gc} after GC; ` +
      `slow consumer closed ${r.slowClosed}${r.slowClosedAt ? ` (by ${r.slowClosedAt.ms} ms, ${r.slowClosedAt.batches} batches sent)` : ''}` +
      (r.readerEvents !== null ? `; reader ${r.readerEvents}/${r.events}${r.readerCloseCode ? ` closed ${r.readerCloseCode}` : ''}` : ''),
  );
}
agent.destroy();
process.exit(0);
