/**
 * nginx, HAProxy (and any other server of the deployment tests) as foreground child processes,
 * started from the runnable copies deploy-files.ts makes of the shipped configs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { requireBin } from './deploy-files.js';

/** A server started from a shipped file, as a foreground child process. */
export interface ProcessHandle extends AsyncDisposable {
  proc: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

const liveChildren = new Set<ChildProcess>();
let exitHooked = false;

/**
 * Spawns `bin args` in the foreground and resolves once every port in `waitPorts` accepts on
 * 127.0.0.1 (or rejects with the output if the process exits first, or after a 30 s backstop). Stopped with
 * SIGTERM (an nginx master then stops its workers; a killed master would orphan them), and on the
 * test process's exit.
 */
export async function startProcess(
  bin: string,
  args: string[],
  waitPorts: number[],
  opts: { env?: NodeJS.ProcessEnv; describe?: () => string } = {},
): Promise<ProcessHandle> {
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
  liveChildren.add(proc);
  if (!exitHooked) {
    exitHooked = true;
    process.on('exit', () => {
      for (const p of liveChildren) p.kill('SIGTERM');
    });
  }
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  void exited.then(() => liveChildren.delete(proc));
  const handle: ProcessHandle = {
    proc,
    output: () => out,
    exited,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      await exited;
    },
    [Symbol.asyncDispose]: () => handle.stop(),
  };
  const what = () => `${bin} ${args.join(' ')}:\n${out}\n${opts.describe?.() ?? ''}`;
  const deadline = Date.now() + 30_000;
  for (const port of waitPorts) {
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) throw new Error(`exited with ${proc.exitCode ?? proc.signalCode}: ${what()}`);
      if (await accepts(port)) break;
      if (Date.now() > deadline) {
        await handle.stop();
        throw new Error(`did not listen on ${port}: ${what()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return handle;
}

export interface NginxHandle extends ProcessHandle {
  errorLog(): string;
  accessLog(): string;
}

/**
 * Debian's nginx as a foreground child: `nginx -g 'daemon off; pid <dir>/nginx.pid;'` with the
 * prefix and the startup error log in `dir`; resolves once every port in `waitPorts` accepts.
 */
export async function startNginx(config: string, dir: string, waitPorts: number[]): Promise<NginxHandle> {
  const confPath = join(dir, 'nginx.conf');
  writeFileSync(confPath, config);
  const readLog = (name: string) => {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      return '';
    }
  };
  const args = ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', confPath, '-g', `daemon off; pid ${join(dir, 'nginx.pid')};`];
  const handle = await startProcess(requireBin('nginx'), args, waitPorts, { describe: () => readLog('error.log') });
  return Object.assign(handle, { errorLog: () => readLog('error.log'), accessLog: () => readLog('access.log') });
}

/** Debian's HAProxy in the foreground (`-db`), with `config` written to `dir`. */
export async function startHaproxy(config: string, dir: string, waitPorts: number[]): Promise<ProcessHandle> {
  const confPath = join(dir, 'haproxy.cfg');
  writeFileSync(confPath, config);
  return startProcess(requireBin('haproxy'), ['-db', '-f', confPath], waitPorts);
}

/** `show stat` over HAProxy's stats socket: each server's proxy, name, status and last check. */
export function haproxyServers(socketPath: string): Promise<Array<{ proxy: string; server: string; status: string; check: string }>> {
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let text = '';
    s.setEncoding('utf8');
    s.on('data', (c: string) => (text += c));
    s.once('error', reject);
    s.once('end', () => {
      const [header, ...rows] = text.trim().split('\n');
      const cols = header!.replace(/^# /, '').split(',');
      const at = (name: string) => cols.indexOf(name);
      resolve(
        rows
          .map((r) => r.split(','))
          .filter((f) => f[at('svname')] !== 'FRONTEND' && f[at('svname')] !== 'BACKEND')
          .map((f) => ({ proxy: f[at('pxname')]!, server: f[at('svname')]!, status: f[at('status')]!, check: f[at('check_status')]! })),
      );
    });
    s.write('show stat\n');
  });
}

/**
 * Resolves once every server HAProxy knows is UP after a passed check (L7OK: the gateway's /ready
 * answered 200), asked over the stats socket so that no request counts against a limit.
 */
export async function waitHaproxyServersUp(socketPath: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // HAProxy binds a unix socket under a temporary name and renames it into place, so its TCP
    // ports can accept before the stats socket exists: not there yet is a reason to ask again.
    const rows = await haproxyServers(socketPath).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') return [];
      throw err;
    });
    if (rows.length > 0 && rows.every((r) => r.status === 'UP' && r.check === 'L7OK')) return;
    if (Date.now() > deadline) throw new Error(`HAProxy servers not up: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
