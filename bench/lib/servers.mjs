// Starting and stopping the servers under test: Herald (embedded or a cluster node), the bare
// uWebSockets.js ceiling, soketi 1.6.1 (installed from npm into a scratch folder at run time), and
// a private redis-server. Every child is tracked and killed when the bench exits.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { fdLimits } from './proc.mjs';
import { freePort, httpGet, log, redisCmd, sleep, waitFor } from './util.mjs';

export const BENCH_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const ROOT = path.resolve(BENCH_DIR, '..');
/** The app every server serves; with `storeOnly`, Herald finds it in its app store instead (the caller seeds it). */
export const APP = { id: '424242', key: 'bench-key-0123456789', secret: 'bench-secret-0123456789abcdef' };

const children = new Set();
function killAll() {
  for (const c of children) {
    try {
      process.kill(c.pid, 'SIGKILL');
    } catch {
      /* already exited */
    }
  }
  children.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

/** The fd limit servers are started with: as high as this machine allows (soft raised to hard). */
export function serverFdLimit(want = 1048576) {
  try {
    const out = execFileSync('/bin/sh', ['-c', `ulimit -n ${want} 2>/dev/null || ulimit -n $(ulimit -Hn); ulimit -n`], { encoding: 'utf8' });
    return Number(out.trim());
  } catch {
    return 1024;
  }
}

/** Spawns argv with the fd limit raised (through sh's ulimit, then exec: the pid is the program's). */
function spawnTracked(name, argv, { env, cwd, fdLimit = 1048576 } = {}) {
  const script = `ulimit -n ${fdLimit} 2>/dev/null || ulimit -n $(ulimit -Hn) 2>/dev/null; exec "$@"`;
  const child = spawn('/bin/sh', ['-c', script, 'sh', ...argv], { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let tail = '';
  const keep = (d) => {
    tail = (tail + d.toString()).slice(-4000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  void exited.then(() => children.delete(child));
  return {
    name,
    child,
    pid: child.pid,
    exited,
    output: () => tail,
    async stop(timeoutMs = 8000) {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        child.kill('SIGTERM');
      } catch {
        /* exited meanwhile: `exited` resolves */
      }
      const r = await Promise.race([exited, sleep(timeoutMs).then(() => null)]);
      if (r === null) {
        try {
          child.kill('SIGKILL');
        } catch {
          /* exited meanwhile: `exited` resolves */
        }
        await exited;
      }
    },
  };
}

async function waitReady(proc, url, what) {
  await waitFor(
    async () => {
      if (proc.child.exitCode !== null) throw new Error(`${what} exited (${proc.child.exitCode}): ${proc.output().slice(-1500)}`);
      const r = await httpGet(url, 1000);
      return r.status === 200;
    },
    { timeoutMs: 20000, everyMs: 100, what: `${what} ready at ${url}` },
  );
}

function baseEnv(extra) {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', NODE_ENV: 'production', ...extra };
  return env;
}

/**
 * `node` and its arguments for a server under test. HERALD_BENCH_SERVER_NODE_ARGS adds Node options
 * (space-separated), e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to profile the servers: Node does
 * not take --cpu-prof from NODE_OPTIONS.
 */
export function nodeArgv(...args) {
  const extra = (process.env.HERALD_BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return ['node', ...extra, ...args];
}

/** What a scenario gets for a started server: { kind, name, pid, pids, wsUrl, apiBase, app, output, stop }. */
function serverHandle(kind, name, proc, wsPort, apiPort) {
  return {
    kind,
    name,
    pid: proc.pid,
    pids: [proc.pid],
    wsUrl: `ws://127.0.0.1:${wsPort}/app/${APP.key}?protocol=7&client=bench&version=1`,
    apiBase: `http://127.0.0.1:${apiPort}`,
    app: APP,
    output: proc.output,
    stop: () => proc.stop(),
  };
}

/**
 * Herald: embedded single node, or (redisPort set) one gateway node of a cluster. The bench app is
 * given by the environment (PUSH_APP_*), by `appsFile`, or with `storeOnly` by nothing: the node
 * serves what its app store holds. Returns a server handle: { kind, name, pid, pids, wsUrl, apiBase, app, stop }.
 */
async function startHerald({ name = 'herald', redisPort, prefix = 'herald-bench', appsFile, storeOnly = false, env = {} } = {}) {
  // Embedded without an app would generate credentials into the checkout (PUSH_CREDENTIALS_FILE).
  if (storeOnly && !redisPort) throw new Error('storeOnly needs a cluster node (redisPort): its store is Redis');
  const main = path.join(ROOT, 'packages/gateway/dist/main.js');
  if (!existsSync(main)) throw new Error(`${main} missing: build first (cd ${ROOT} && npx tsc -b)`);
  const wsPort = await freePort();
  const apiPort = await freePort();
  const e = baseEnv({
    PUSH_HOST: '127.0.0.1',
    PUSH_WS_PORT: String(wsPort),
    PUSH_API_PORT: String(apiPort),
    LOG_LEVEL: 'warn',
    // The bench measures capacity: the per-node connection admission rate limit (an operational
    // guard, default 1000/s) is switched off, as soketi and the ceiling have none.
    PUSH_MAX_CONNECTIONS_PER_SECOND: '0',
    ...(appsFile ? { PUSH_APPS_FILE: appsFile } : storeOnly ? {} : { PUSH_APP_ID: APP.id, PUSH_APP_KEY: APP.key, PUSH_APP_SECRET: APP.secret }),
    ...(redisPort ? { REDIS_URL: `redis://127.0.0.1:${redisPort}`, PUSH_REDIS_PREFIX: prefix } : {}),
    ...env,
  });
  const argv = nodeArgv(main, ...(redisPort ? ['--role=gateway'] : []));
  const proc = spawnTracked(name, argv, { env: e, cwd: ROOT });
  await waitReady(proc, `http://127.0.0.1:${apiPort}/ready`, name);
  return serverHandle('herald', name, proc, wsPort, apiPort);
}

/** Writes a PUSH_APPS_FILE for the bench app with limit overrides; returns its path. */
export function heraldAppsFile(overrides) {
  const dir = path.join(os.tmpdir(), 'herald-bench');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `apps-${process.pid}.json`);
  writeFileSync(file, JSON.stringify([{ id: APP.id, key: APP.key, secret: APP.secret, ...overrides }]));
  return file;
}

/** The bare uWebSockets.js fan-out server in bench/ceiling.mjs. */
async function startCeiling({ name = 'ceiling' } = {}) {
  const port = await freePort();
  const proc = spawnTracked(name, nodeArgv(path.join(BENCH_DIR, 'ceiling.mjs')), { env: baseEnv({ PORT: String(port) }), cwd: ROOT });
  await waitReady(proc, `http://127.0.0.1:${port}/ready`, name);
  return serverHandle('ceiling', name, proc, port, port);
}

const SOKETI_VERSION = '1.6.1';
let soketiState; // { dir } or { error }

/**
 * Installs @soketi/soketi@1.6.1 into a scratch folder (once per machine; --fresh-soketi reinstalls).
 * soketi's own uWebSockets.js dependency points at an unreachable git host, so the scratch
 * package.json overrides it with the npm-published build Herald itself uses.
 */
export async function ensureSoketi({ fresh = false } = {}) {
  if (soketiState) return soketiState;
  const dir = path.join(os.tmpdir(), `herald-bench-soketi-${SOKETI_VERSION}`);
  const pkg = path.join(dir, 'node_modules/@soketi/soketi/package.json');
  try {
    const installed = existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).version === SOKETI_VERSION;
    if (!installed || fresh) {
      mkdirSync(dir, { recursive: true });
      writeFileSync(
        path.join(dir, 'package.json'),
        JSON.stringify(
          {
            name: 'herald-bench-soketi-scratch',
            private: true,
            version: '0.0.0',
            overrides: { 'uWebSockets.js': 'npm:@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0' },
          },
          null,
          2,
        ),
      );
      log(`installing @soketi/soketi@${SOKETI_VERSION} into ${dir} (npm, scratch folder) ...`);
      await new Promise((resolve, reject) => {
        const c = spawn('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `@soketi/soketi@${SOKETI_VERSION}`], {
          cwd: dir,
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let out = '';
        c.stdout.on('data', (d) => (out += d));
        c.stderr.on('data', (d) => (out += d));
        const t = setTimeout(() => c.kill('SIGKILL'), 300000);
        c.on('exit', (code) => {
          clearTimeout(t);
          if (code === 0) resolve();
          else reject(new Error(`npm install @soketi/soketi@${SOKETI_VERSION} failed (${code}): ${out.slice(-1500)}`));
        });
      });
    }
    soketiState = { dir, bin: path.join(dir, 'node_modules/@soketi/soketi/bin/server.js'), version: SOKETI_VERSION };
  } catch (err) {
    soketiState = { error: err.message };
    log(`soketi unavailable: ${err.message}`);
  }
  return soketiState;
}

/** soketi 1.6.1; with redisPort it uses the Redis adapter (a cluster node). Throws if unavailable. */
async function startSoketi({ name = 'soketi', redisPort, prefix = 'soketi-bench', env = {} } = {}) {
  const st = await ensureSoketi();
  if (st.error) throw new Error(`soketi unavailable: ${st.error}`);
  const port = await freePort();
  const metricsPort = await freePort();
  const e = baseEnv({
    SOKETI_HOST: '127.0.0.1',
    SOKETI_PORT: String(port),
    SOKETI_METRICS_HOST: '127.0.0.1',
    SOKETI_METRICS_SERVER_PORT: String(metricsPort),
    SOKETI_DEFAULT_APP_ID: APP.id,
    SOKETI_DEFAULT_APP_KEY: APP.key,
    SOKETI_DEFAULT_APP_SECRET: APP.secret,
    SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES: 'true',
    SOKETI_DEBUG: '0',
    ...(redisPort
      ? { SOKETI_ADAPTER_DRIVER: 'redis', SOKETI_ADAPTER_REDIS_PREFIX: prefix, SOKETI_DB_REDIS_HOST: '127.0.0.1', SOKETI_DB_REDIS_PORT: String(redisPort) }
      : {}),
    ...env,
  });
  const proc = spawnTracked(name, nodeArgv(st.bin, 'start'), { env: e, cwd: st.dir });
  await waitReady(proc, `http://127.0.0.1:${port}/ready`, name);
  return serverHandle('soketi', name, proc, port, port);
}

/** A private redis-server on a free port (never the machine's 6379), nothing kept on disk. */
export async function startRedis() {
  const port = await freePort();
  const dir = path.join(os.tmpdir(), 'herald-bench');
  mkdirSync(dir, { recursive: true });
  const proc = spawnTracked(
    'redis',
    ['/usr/bin/redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxclients', '10000'],
    {},
  );
  await waitFor(async () => (await redisCmd(port, 'PING')) === 'PONG', { timeoutMs: 10000, what: 'redis PING' });
  return { kind: 'redis', name: 'redis', pid: proc.pid, pids: [proc.pid], port, output: proc.output, stop: () => proc.stop() };
}

/** Starts a server by kind: 'herald' | 'ceiling' | 'soketi'. */
export function startServer(kind, opts = {}) {
  if (kind === 'herald') return startHerald(opts);
  if (kind === 'ceiling') return startCeiling(opts);
  if (kind === 'soketi') return startSoketi(opts);
  throw new Error(`unknown server kind ${kind}`);
}

/** What a result records of the machine and the checkout it ran on. */
export function machineFacts() {
  let commit = null;
  try {
    commit = execFileSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    /* not a git checkout: the result records no commit */
  }
  return {
    date: new Date().toISOString(),
    nproc: os.availableParallelism?.() ?? os.cpus().length,
    cpu: os.cpus()[0]?.model ?? 'unknown',
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: os.release(),
    loadavg: os.loadavg().map((x) => Math.round(x * 100) / 100),
    fdLimit: fdLimits(),
    serverFdLimit: serverFdLimit(),
    commit,
  };
}
