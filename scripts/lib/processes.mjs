// Child processes for the measurement scripts (soak.mjs, burst-memory.mjs): every child is killed
// when the script exits, however it exits, so a failed run leaves no server behind.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const children = new Set();

/** Kills every child still running (also done on exit). */
export function killAll() {
  for (const c of children) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => process.exit(130));

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A port free on 127.0.0.1 when asked (the kernel's choice). */
export async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/**
 * Spawns a child with only PATH and `env` in its environment, keeping the last 50 lines of its
 * output for diagnostics and the inspector URL it prints when started with --inspect.
 */
export function startProcess(name, cmd, args, env = {}, { verbose = false } = {}) {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const p = { name, child, tail: [], inspector: undefined, exited: false, exit: undefined };
  const keep = (c) => {
    for (const line of c.toString().split('\n')) {
      if (!line) continue;
      const insp = /Debugger listening on (ws:\/\/\S+)/.exec(line);
      if (insp) p.inspector = insp[1];
      p.tail.push(line);
      if (p.tail.length > 50) p.tail.shift();
      if (verbose) process.stderr.write(`[${name}] ${line}\n`);
    }
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.on('exit', (code, signal) => {
    p.exited = true;
    p.exit = { code, signal };
    children.delete(child);
  });
  return p;
}

/** SIGKILLs a child started by startProcess and resolves once it is gone. */
export async function stopProcess(p) {
  if (p.exited) return;
  const gone = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGKILL');
  await gone;
}

/** Polls `check` until it is true; the deadline is a backstop, a busy machine starts things slowly. */
export async function waitFor(what, timeoutMs, check, intervalMs = 100) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? ` (${last.message})` : ''}`);
    await sleep(intervalMs);
  }
}

/** A redis-server without persistence on a free port, resolved once it answers PING. */
export async function startRedisServer(bin, { timeoutMs = 30_000, verbose = false } = {}) {
  const port = await freePort();
  const proc = startProcess(
    'redis',
    bin,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    {},
    { verbose },
  );
  const pong = () =>
    new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => s.write('PING\r\n'));
      s.on('data', (d) => {
        s.destroy();
        resolve(d.toString().startsWith('+PONG'));
      });
      s.on('error', () => resolve(false));
    });
  try {
    await waitFor('redis', timeoutMs, pong);
  } catch (err) {
    throw new Error(`${err.message}\n${proc.tail.join('\n')}`, { cause: err });
  }
  return { port, proc };
}

/** Resident set size of a process, from /proc. */
export function rssBytes(pid) {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}
