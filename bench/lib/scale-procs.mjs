// The deployment the `scale` scenario runs: Redis (one server, or a Redis Cluster of three
// primaries), gateways started as `npm run gateway` starts them and webhook workers as
// `npm run webhook-worker` does (the same node command, so that the pid is the server's own and a
// SIGKILL reaches it). Every process is killed when the bench exits.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { APP, nodeArgv, ROOT } from './servers.mjs';
import { freePort, httpGet, nowUs, redisCmd, sleep, waitFor } from './util.mjs';

const GATEWAY_MAIN = path.join(ROOT, 'packages/gateway/dist/main.js');
const WORKER_MAIN = path.join(ROOT, 'packages/webhook-worker/dist/main.js');
/** The webhook events the app's target takes: the transitions (client events would flood the outbox). */
const WEBHOOK_EVENTS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'];

const live = new Set();
process.on('exit', () => {
  for (const c of live) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already exited */
    }
  }
});

/** Spawns argv with the fd limit raised to the hard limit (sh's ulimit, then exec: the pid is the program's). */
function spawnTracked(argv, env) {
  const script = 'ulimit -n 1048576 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null; exec "$@"';
  const child = spawn('/bin/sh', ['-c', script, 'sh', ...argv], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let tail = '';
  // What a server logged at info and up (pino JSON lines), counted by message; and, with when they
  // came, its lifecycle lines about the cluster state (a dead node reaped, its own state registered).
  const logged = {};
  /**
   * By message, for warnings and errors that carry one: the first error (what "failed" meant), the
   * app and channel that line named, and the times (UTC) of the first and the last such line.
   */
  const firstErr = {};
  const lifecycle = [];
  let partial = '';
  const keep = (d) => {
    const text = d.toString();
    tail = (tail + text).slice(-6000);
    const lines = (partial + text).split('\n');
    partial = lines.pop().slice(-20000);
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      try {
        const j = JSON.parse(line);
        if (j.level < 30) continue;
        const k = `${j.level >= 50 ? 'error' : j.level >= 40 ? 'warn' : 'info'}: ${j.msg}`;
        logged[k] = (logged[k] ?? 0) + 1;
        if (j.level >= 40 && j.err !== undefined) {
          const at = new Date().toISOString().slice(11, 19);
          firstErr[k] ??= { err: String(j.err?.message ?? j.err).slice(0, 300), first: at, appId: j.appId, channel: j.channel };
          firstErr[k].last = at;
        }
        if (LIFECYCLE.has(j.msg) && lifecycle.length < 200)
          lifecycle.push({ atUs: nowUs(), msg: j.msg, deadNode: j.deadNode, entries: j.entries, gapMs: j.gapMs, rttMs: j.rttMs });
      } catch {
        /* not a log line: kept in the tail only */
      }
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => live.delete(child));
  return {
    pid: child.pid,
    child,
    exited,
    output: () => tail,
    logged: () => ({ ...logged }),
    firstErrors: () => ({ ...firstErr }),
    lifecycle: () => [...lifecycle],
    running: () => child.exitCode === null && child.signalCode === null,
    signal(sig) {
      if (child.exitCode === null && child.signalCode === null) child.kill(sig);
    },
    async stop(timeoutMs = 15000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const r = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
      if (r === null) {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}

/** Log lines kept with their time: how a gateway's shared state came and went. */
const LIFECYCLE = new Set([
  'removed state of a dead node',
  'registered local state in redis',
  'redis connection back: re-registering local state',
  'lease renewal failed',
  'lease lapsed: registering local state again',
  'reaping dead nodes failed',
]);

const baseEnv = (extra) => ({ PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', NODE_ENV: 'production', ...extra });

async function waitReady(proc, url, what, timeoutMs = 60000) {
  await waitFor(
    async () => {
      if (!proc.running()) throw new Error(`${what} exited: ${proc.output().slice(-1500)}`);
      return (await httpGet(url, 2000)).status === 200;
    },
    { timeoutMs, everyMs: 100, what: `${what} ready at ${url}` },
  );
}

function redisServer(port, dir, extra = []) {
  return spawnTracked(
    ['redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '10000', ...extra],
    baseEnv({}),
  );
}

/**
 * Redis for a pass: `single` (one redis-server) or `cluster` (three primaries, no replicas, every
 * slot assigned). { kind, ports, pids, env, stop }: `env` is what gateways and workers are given.
 */
export async function startRedisDeployment(kind) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `herald-scale-${kind}-`));
  const n = kind === 'cluster' ? 3 : 1;
  const ports = [];
  const procs = [];
  const busPorts = [];
  for (let i = 0; i < n; i++) {
    const port = await freePort();
    const nodeDir = path.join(dir, String(i));
    mkdirSync(nodeDir);
    // An explicit bus port: the default (port + 10000) overflows for ports above 55535.
    const bus = kind === 'cluster' ? await freePort() : 0;
    const extra = kind === 'cluster' ? ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(bus)] : [];
    procs.push(redisServer(port, nodeDir, extra));
    ports.push(port);
    busPorts.push(bus);
  }
  const stop = async () => {
    await Promise.all(procs.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const port of ports) await waitFor(async () => (await redisCmd(port, 'PING')) === 'PONG', { timeoutMs: 15000, what: `redis ${port} PING` });
    if (kind === 'cluster') {
      // What `redis-cli --cluster create` does with no replicas: an even share of the 16384 slots
      // each, and every node introduced to the first.
      const per = Math.ceil(16384 / n);
      for (let i = 0; i < n; i++) await redisCmd(ports[i], 'CLUSTER', 'ADDSLOTSRANGE', String(i * per), String(Math.min(16383, (i + 1) * per - 1)));
      for (let i = 1; i < n; i++) await redisCmd(ports[0], 'CLUSTER', 'MEET', '127.0.0.1', String(ports[i]), String(busPorts[i]));
      for (const port of ports)
        await waitFor(async () => (await redisCmd(port, 'CLUSTER', 'INFO')).includes('cluster_state:ok'), {
          timeoutMs: 30000,
          what: `cluster_state:ok on ${port}`,
        });
    }
  } catch (err) {
    await stop();
    throw err;
  }
  const env = kind === 'cluster' ? { REDIS_CLUSTER_NODES: ports.map((p) => `127.0.0.1:${p}`).join(',') } : { REDIS_URL: `redis://127.0.0.1:${ports[0]}` };
  return { kind, ports, pids: procs.map((p) => p.pid), env, stop };
}

/** The bench app with a webhook target taking the transitions; returns the apps file's path. */
export function scaleAppsFile(webhookUrl) {
  const dir = path.join(os.tmpdir(), 'herald-bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `scale-apps-${process.pid}.json`);
  writeFileSync(file, JSON.stringify([{ id: APP.id, key: APP.key, secret: APP.secret, webhooks: [{ url: webhookUrl, events: WEBHOOK_EVENTS }] }]));
  return file;
}

/**
 * One gateway, as `npm run gateway` runs it. Its handle: { idx, name, pid, wsUrl, apiBase, ... ,
 * signal(sig), stop() }.
 */
export async function startGateway({ idx, redis, prefix, appsFile, env = {} }) {
  const wsPort = await freePort();
  const apiPort = await freePort();
  const name = `gw${idx}`;
  const proc = spawnTracked(
    nodeArgv(GATEWAY_MAIN, '--role=gateway'),
    baseEnv({
      PUSH_HOST: '127.0.0.1',
      PUSH_WS_PORT: String(wsPort),
      PUSH_API_PORT: String(apiPort),
      PUSH_NODE_ID: `${prefix}-${name}`,
      PUSH_REDIS_PREFIX: prefix,
      PUSH_APPS_FILE: appsFile,
      // info: the lifecycle lines above (a gateway logs nothing per connection at info).
      LOG_LEVEL: 'info',
      ...redis.env,
      ...env,
    }),
  );
  const apiBase = `http://127.0.0.1:${apiPort}`;
  await waitReady(proc, `${apiBase}/ready`, name);
  return { idx, name, pid: proc.pid, wsPort, apiPort, apiBase, wsUrl: `ws://127.0.0.1:${wsPort}/app/${APP.key}?protocol=7&client=bench&version=1`, ...proc };
}

/** One webhook worker, as `npm run webhook-worker` runs it. */
export async function startWorker({ idx, redis, prefix, appsFile, env = {} }) {
  const port = await freePort();
  const name = `wk${idx}`;
  const proc = spawnTracked(
    nodeArgv(WORKER_MAIN),
    baseEnv({
      PUSH_HOST: '127.0.0.1',
      PUSH_WORKER_PORT: String(port),
      PUSH_NODE_ID: `${prefix}-${name}`,
      PUSH_REDIS_PREFIX: prefix,
      PUSH_APPS_FILE: appsFile,
      LOG_LEVEL: 'warn',
      ...redis.env,
      ...env,
    }),
  );
  const base = `http://127.0.0.1:${port}`;
  await waitReady(proc, `${base}/ready`, name);
  return { idx, name, pid: proc.pid, base, ...proc };
}
