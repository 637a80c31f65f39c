import net from 'node:net';
import http from 'node:http';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function log(...args) {
  const t = new Date().toISOString().slice(11, 19);
  process.stderr.write(`[bench ${t}] ${args.join(' ')}\n`);
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export function httpGet(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: String(err.message) }));
  });
}

/** Polls until fn() is truthy; throws after timeoutMs. */
export async function waitFor(fn, { timeoutMs = 15000, everyMs = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

export function median(xs) {
  const v = xs.filter((x) => typeof x === 'number' && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

export function round(x, digits = 2) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Minimal RESP client: one command per short-lived connection (for INFO, CONFIG RESETSTAT, PING). */
export function redisCmd(port, ...args) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${args[0]} timed out`));
    }, 3000);
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('connect', () => {
      let out = `*${args.length}\r\n`;
      for (const a of args) out += `$${Buffer.byteLength(String(a))}\r\n${a}\r\n`;
      sock.write(out);
    });
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      const nl = buf.indexOf('\r\n');
      if (nl < 0) return;
      const type = String.fromCharCode(buf[0]);
      const head = buf.subarray(1, nl).toString();
      let value;
      if (type === '+' || type === ':') value = head;
      else if (type === '-') value = new Error(head);
      else if (type === '$') {
        const len = Number(head);
        if (len < 0) value = null;
        else if (buf.length >= nl + 2 + len + 2) value = buf.subarray(nl + 2, nl + 2 + len).toString();
        else return;
      } else value = buf.toString();
      clearTimeout(timer);
      sock.end();
      if (value instanceof Error) reject(value);
      else resolve(value);
    });
  });
}

/** INFO commandstats as { cmd: calls }. */
export async function redisCommandStats(port) {
  const text = await redisCmd(port, 'INFO', 'commandstats');
  const out = {};
  for (const line of text.split('\r\n')) {
    const m = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

export function diffCounts(after, before) {
  const out = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d > 0) out[k] = d;
  }
  return out;
}

// Microseconds on CLOCK_MONOTONIC (process.hrtime's clock, the same in every process of the
// machine), read through performance.now() (same clock, no allocation) plus this process's offset:
// a time taken in one process compares with a time taken in another without clock skew (the
// load generator's processes and the scale scenario's stamp events and arrivals with it).
const perfOffsetUs = (() => {
  let best = Infinity;
  let off = 0;
  for (let i = 0; i < 50; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint()) / 1000;
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      off = h - ((a + b) / 2) * 1000;
    }
  }
  return off;
})();
export const nowUs = () => Math.round(performance.now() * 1000 + perfOffsetUs);
