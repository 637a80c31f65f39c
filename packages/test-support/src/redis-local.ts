/**
 * The local path of the Redis fixture: `redis-server` child processes from PATH on free 127.0.0.1
 * ports, each with a temp dir of its own, all SIGKILLed when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.js';
import {
  alive,
  delay,
  exitsWithin,
  READY_BACKSTOP_MS,
  redisUrl,
  waitForPing,
  withTimeout,
  type Proc,
  type RedisHandle,
  type StartRedisOptions,
} from './redis-handle.js';
import { authCommands, RedisReplyError, sendCommands } from './redis-resp.js';

/** Builds the argv of one launch; called again on restart (with a fresh dir, the same port). */
export type BuildArgs = (ctx: { port: number; dir: string }) => string[];

class PortInUseError extends Error {}

const live = new Set<ChildProcess>();
const liveDirs = new Set<string>();
let exitHooked = false;

function killAllSync(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true });
  liveDirs.clear();
}

function hookExit(): void {
  if (exitHooked) return;
  exitHooked = true;
  process.on('exit', killAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      killAllSync();
      // restore the default behaviour (terminate) unless someone else handles the signal
      if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
    };
    process.once(sig, onSignal);
  }
}

function spawnRedis(bin: string, build: BuildArgs, port: number): Proc {
  hookExit();
  const dir = mkdtempSync(join(tmpdir(), 'herald-redis-'));
  liveDirs.add(dir);
  const args = build({ port, dir });
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString();
    if (out.length > 32_768) out = out.slice(-32_768);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  const proc: Proc = {
    child,
    dir,
    exited: new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.once('error', (err) => {
        proc.spawnError = err;
        resolve();
      });
    }),
    closed: new Promise((resolve) => {
      child.once('close', () => resolve());
      child.once('error', () => resolve());
    }),
    output: () => out,
  };
  void proc.exited.then(() => live.delete(child));
  return proc;
}

function removeDir(proc: Proc): void {
  rmSync(proc.dir, { recursive: true, force: true });
  liveDirs.delete(proc.dir);
}

/** Spawns and waits until the process we started answers PING; cleans up and throws otherwise. */
async function launch(port: number, build: BuildArgs, password: string | undefined): Promise<Proc> {
  const proc = spawnRedis('redis-server', build, port);
  try {
    await waitForPing('127.0.0.1', port, password, { timeoutMs: READY_BACKSTOP_MS, proc });
    return proc;
  } catch (err) {
    if (alive(proc)) proc.child.kill('SIGKILL');
    await proc.exited;
    await withTimeout(proc.closed, 1_000, 'draining redis-server output').catch(() => undefined);
    removeDir(proc);
    if (proc.spawnError) {
      throw new Error(`cannot run redis-server from PATH (${proc.spawnError.message}); install Redis or make Docker reachable`, { cause: err });
    }
    const output = proc.output();
    if (/address already in use/i.test(output)) throw new PortInUseError(`port ${port} is in use:\n${output}`);
    throw new Error(`${(err as Error).message}\nredis-server ${port} output (stdout+stderr):\n${output}`, { cause: err });
  }
}

export class LocalRedis implements RedisHandle {
  readonly host = '127.0.0.1';

  constructor(
    readonly port: number,
    private proc: Proc,
    private readonly build: BuildArgs,
    readonly password: string | undefined,
    readonly kind: 'server' | 'sentinel',
  ) {}

  get url(): string {
    return redisUrl(this.host, this.port, this.password);
  }

  isRunning(): boolean {
    return alive(this.proc);
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (alive(proc)) {
      let requested = false;
      if (this.kind === 'server') {
        try {
          // NOW: do not wait for lagging replicas; on a server that refuses the command we fall back to SIGTERM
          const replies = await sendCommands(this.host, this.port, [...authCommands(this.password), ['SHUTDOWN', 'NOSAVE', 'NOW']], {
            timeoutMs: 3_000,
            untilClose: true,
          });
          requested = !replies.some((r) => r instanceof RedisReplyError);
        } catch {
          requested = false;
        }
      }
      if (!requested) proc.child.kill('SIGTERM');
      if (!(await exitsWithin(proc, 5_000))) {
        proc.child.kill('SIGKILL');
        await proc.exited;
      }
    }
    removeDir(proc);
  }

  async kill(): Promise<void> {
    const proc = this.proc;
    if (alive(proc)) {
      proc.child.kill('SIGKILL');
      await proc.exited;
    }
    removeDir(proc);
  }

  async restart(): Promise<void> {
    if (this.isRunning()) await this.stop();
    else removeDir(this.proc);
    // The port may be briefly unavailable (TIME_WAIT, or the kernel not yet having released it): retry.
    const deadline = Date.now() + READY_BACKSTOP_MS;
    for (;;) {
      try {
        this.proc = await launch(this.port, this.build, this.password);
        return;
      } catch (err) {
        if (!(err instanceof PortInUseError) || Date.now() > deadline) throw err;
        await delay(100);
      }
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

export async function launchOnFreePort(
  build: (port: number) => Promise<BuildArgs>,
  password: string | undefined,
  kind: 'server' | 'sentinel',
): Promise<LocalRedis> {
  // the free port can be taken by a parallel test worker before redis-server binds it: pick another
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const b = await build(port);
    try {
      const proc = await launch(port, b, password);
      return new LocalRedis(port, proc, b, password, kind);
    } catch (err) {
      if (!(err instanceof PortInUseError) || attempt >= 5) throw err;
    }
  }
}

export function startLocalRedis(opts: StartRedisOptions, extraArgs?: () => Promise<string[]>): Promise<LocalRedis> {
  return launchOnFreePort(
    async () => {
      const extra = extraArgs ? await extraArgs() : [];
      return ({ port, dir }) => [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--dir',
        dir,
        ...(opts.password !== undefined ? ['--requirepass', opts.password] : []),
        ...extra,
        ...(opts.args ?? []),
      ];
    },
    opts.password,
    'server',
  );
}
