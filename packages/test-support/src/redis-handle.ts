/**
 * What every Redis the fixture starts looks like (`RedisHandle`), and the readiness checks and
 * deadlines the local and container paths share.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { authCommands, sendCommands } from './redis-resp.js';

export interface RedisHandle extends AsyncDisposable {
  /** `redis://[:password@]host:port`, usable as-is by ioredis. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly password?: string;
  /** Graceful: SHUTDOWN NOSAVE (local) or SIGTERM (container); resolves once the server has exited. Idempotent. */
  stop(): Promise<void>;
  /** SIGKILL, as a crash; resolves once the server has exited. The handle can be restarted. */
  kill(): Promise<void>;
  /** Starts again on the same port, empty (stopping first if still running); resolves when it answers PING. */
  restart(): Promise<void>;
  isRunning(): boolean;
}

export interface StartRedisOptions {
  /** Extra `redis-server` arguments, appended after the fixture's own (so they may override them). */
  args?: string[];
  /** Sets `requirepass`; the handle's `url` carries it. */
  password?: string;
}

/** A child process the fixture started (redis-server or a sentinel), with its temp dir. */
export interface Proc {
  child: ChildProcess;
  dir: string;
  /** Resolves when the process has exited (or failed to spawn). */
  exited: Promise<void>;
  /** Resolves when stdout/stderr are drained as well. */
  closed: Promise<void>;
  spawnError?: Error;
  output(): string;
}

export function alive(proc: Proc): boolean {
  return !proc.spawnError && proc.child.exitCode === null && proc.child.signalCode === null;
}

/**
 * Polls PING until it answers PONG. With `proc`, also requires INFO's process_id to be that
 * process, and fails fast when it exits.
 */
export async function waitForPing(
  host: string,
  port: number,
  password: string | undefined,
  { timeoutMs, proc }: { timeoutMs: number; proc?: Proc },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (;;) {
    if (proc && !alive(proc)) {
      await proc.exited;
      const why = proc.spawnError ? proc.spawnError.message : `exit code ${proc.child.exitCode}, signal ${proc.child.signalCode}`;
      throw new Error(`redis-server on ${host}:${port} exited before answering PING (${why})`);
    }
    try {
      const auth = authCommands(password);
      const replies = await sendCommands(host, port, [...auth, ['PING'], ['INFO', 'server']], { timeoutMs: 5_000 });
      const pong = replies[auth.length];
      const info = replies[auth.length + 1];
      if (pong === 'PONG' && (!proc || (typeof info === 'string' && info.includes(`process_id:${proc.child.pid}\r\n`)))) return;
      last = pong instanceof Error ? pong.message : `PING replied ${JSON.stringify(pong)}${proc ? ' (or from another process)' : ''}`;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`redis on ${host}:${port} did not answer PING within ${timeoutMs} ms (last: ${last})`);
    await delay(20);
  }
}

export function redisUrl(host: string, port: number, password: string | undefined): string {
  return password === undefined ? `redis://${host}:${port}` : `redis://:${encodeURIComponent(password)}@${host}:${port}`;
}

/**
 * How long readiness waits (a server answering PING, sentinels agreeing, a cluster forming) may take
 * before the fixture gives up: a backstop for a server that never gets there, not a measurement; on a
 * machine busy with other work, starting six Redis processes takes seconds.
 */
export const READY_BACKSTOP_MS = 45_000;

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function exitsWithin(proc: Proc, ms: number): Promise<boolean> {
  return withTimeout(proc.exited, ms, 'exit').then(
    () => true,
    () => false,
  );
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Readiness polling for multi-process setups; `check` errors (e.g. a refused connection) count as "not yet". */
export async function pollUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      last = ` (last error: ${(err as Error).message})`;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last}`);
    await delay(50);
  }
}

export function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
