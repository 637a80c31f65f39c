/**
 * The one Redis fixture every Herald test uses.
 *
 * `startRedis` runs a real Redis: in a Testcontainers `redis:7` container when a Docker engine is
 * reachable, otherwise as a `redis-server` child process from PATH on a free 127.0.0.1 port. Both
 * give the same `RedisHandle`. `HERALD_TEST_REDIS=local` forces the local path (also on machines
 * with Docker, which Sentinel and Cluster need); `HERALD_TEST_REDIS=docker` requires Docker.
 *
 * Guarantees:
 * - no persistence (`--save "" --appendonly no`), so a restarted server is empty;
 * - `restart()` keeps the port, so clients configured with the old URL reconnect to it;
 * - readiness means the server we started answered PING (checked against its pid, so a server
 *   that grabbed the port in between is never mistaken for ours);
 * - every local process is SIGKILLed when the test process exits, even if a test forgets to stop it
 *   (containers are removed by the Testcontainers reaper).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll } from 'vitest';
import { freePort } from './ports.js';
import { authCommands, command, infoSection, RedisReplyError, sendCommands, type Reply } from './redis-resp.js';

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

export interface SentinelSet extends AsyncDisposable {
  /** The process that was primary at start. After `failover()` it is a replica: ask a sentinel who leads. */
  primary: RedisHandle;
  /** The process that was replica at start. */
  replica: RedisHandle;
  /** Three sentinels monitoring `name` with quorum 2. */
  sentinels: RedisHandle[];
  /** The monitored name, `herald-primary`. */
  name: string;
  /** SENTINEL FAILOVER; resolves when every sentinel reports the current replica as the primary. */
  failover(): Promise<void>;
  stop(): Promise<void>;
}

export interface RedisClusterSet extends AsyncDisposable {
  /** The six nodes (three primaries with one replica each); any of them works as a seed. */
  nodes: { host: string; port: number }[];
  urls: string[];
  /** The node processes, in `nodes` order, for tests that kill or restart one. */
  handles: RedisHandle[];
  stop(): Promise<void>;
}

/** A key prefix unique to one test, so tests sharing a server never see each other's keys. */
export function uniquePrefix(): string {
  return `t-${randomBytes(6).toString('hex')}`;
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisHandle> {
  if (await dockerReachable()) return ContainerRedis.start(opts);
  return startLocalRedis(opts);
}

/**
 * One Redis server for a test file: started before its tests, stopped after them. Call it at the top
 * of the file or of a describe block; `redis` is defined inside tests and hooks.
 */
export function redisPerFile(opts: StartRedisOptions = {}): { readonly redis: RedisHandle } {
  let redis: RedisHandle | undefined;
  beforeAll(async () => {
    redis = await startRedis(opts);
  });
  afterAll(async () => {
    await redis?.stop();
  });
  return {
    get redis(): RedisHandle {
      if (!redis) throw new Error('redisPerFile: the server is started in beforeAll; read `redis` inside a test or hook');
      return redis;
    },
  };
}

const SENTINEL_NAME = 'herald-primary';

export async function startSentinelSet(): Promise<SentinelSet> {
  await requireLocal('startSentinelSet');
  const started: RedisHandle[] = [];
  const stopAll = async () => {
    // sentinels first, so none of them reacts to the data nodes going away
    const isSentinel = (h: RedisHandle) => h instanceof LocalRedis && h.kind === 'sentinel';
    await Promise.all(started.filter(isSentinel).map((h) => h.stop()));
    await Promise.all(started.filter((h) => !isSentinel(h)).map((h) => h.stop()));
  };
  try {
    // the default 5 s diskless-sync delay would hold every full sync (initial, and after a failover) for nothing
    const syncNow = ['--repl-diskless-sync-delay', '0'];
    const primary = await startLocalRedis({ args: syncNow });
    started.push(primary);
    const replica = await startLocalRedis({ args: [...syncNow, '--replicaof', primary.host, String(primary.port)] });
    started.push(replica);
    await pollUntil('the replica to sync with the primary', READY_BACKSTOP_MS, async () =>
      (await infoSection(replica, 'replication')).includes('master_link_status:up'),
    );

    const sentinels = await Promise.all([0, 1, 2].map(() => startSentinel(primary.host, primary.port)));
    started.push(...sentinels);
    // A failover needs a quorum of sentinels that know each other (hello messages, every 2 s) and a replica they
    // consider healthy; waiting here makes failover() and ioredis' sentinel discovery deterministic.
    await pollUntil('the sentinels to discover each other and the replica', READY_BACKSTOP_MS, async () => {
      for (const s of sentinels) {
        const peers = await command(s, ['SENTINEL', 'SENTINELS', SENTINEL_NAME]);
        if (!Array.isArray(peers) || peers.length !== sentinels.length - 1) return false;
        if (!(await sentinelSeesHealthyReplica(s, replica.port))) return false;
      }
      return true;
    });

    const set: SentinelSet = {
      primary,
      replica,
      sentinels,
      name: SENTINEL_NAME,
      async failover() {
        const current = await sentinelPrimaryPort(sentinels[0]!);
        const target = current === primary.port ? replica : primary;
        await pollUntil(`sentinel to see ${target.port} as a healthy replica`, READY_BACKSTOP_MS, () =>
          sentinelSeesHealthyReplica(sentinels[0]!, target.port),
        );
        const reply = await command(sentinels[0]!, ['SENTINEL', 'FAILOVER', SENTINEL_NAME]);
        if (reply instanceof RedisReplyError) throw new Error(`SENTINEL FAILOVER ${SENTINEL_NAME} failed: ${reply.message}`);
        await pollUntil(`every sentinel to report ${target.host}:${target.port} as primary`, READY_BACKSTOP_MS, async () => {
          for (const s of sentinels) if ((await sentinelPrimaryPort(s)) !== target.port) return false;
          return true;
        });
      },
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
    return set;
  } catch (err) {
    await stopAll();
    throw err;
  }
}

export async function startRedisCluster(): Promise<RedisClusterSet> {
  await requireLocal('startRedisCluster');
  const handles: RedisHandle[] = [];
  const stopAll = async () => {
    await Promise.all(handles.map((h) => h.stop()));
  };
  try {
    const started = await Promise.all(
      Array.from({ length: 6 }, () =>
        startLocalRedis({}, async () => [
          '--cluster-enabled', 'yes',
          // relative to --dir, the node's own fresh temp dir
          '--cluster-config-file', 'nodes.conf',
          '--cluster-node-timeout', '2000',
          // the default 5 s diskless-sync delay would leave a fresh replica unsynced, and so unable
          // to take over its primary (its data counts as too old), for the first seconds
          '--repl-diskless-sync-delay', '0',
          // an explicit bus port: the default (port + 10000) overflows for ports above 55535
          '--cluster-port', String(await freePort()),
        ]),
      ),
    );
    handles.push(...started);
    const addrs = handles.map((h) => `${h.host}:${h.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', '1', '--cluster-yes'], READY_BACKSTOP_MS);
    await pollUntil('cluster_state:ok on every node', READY_BACKSTOP_MS, async () => {
      for (const h of handles) {
        const info = await command(h, ['CLUSTER', 'INFO']);
        if (typeof info !== 'string' || !info.includes('cluster_state:ok')) return false;
      }
      return true;
    });
    // Every replica synced with its primary: only then can it take over when a test kills one.
    await pollUntil('every replica to sync with its primary', 30_000, async () => {
      for (const h of handles) {
        const repl = await infoSection(h, 'replication');
        if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) return false;
      }
      return true;
    });
    return {
      nodes: handles.map((h) => ({ host: h.host, port: h.port })),
      urls: handles.map((h) => h.url),
      handles,
      stop: stopAll,
      [Symbol.asyncDispose]: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------
// Docker detection

let dockerProbe: Promise<boolean> | undefined;

/** Cached per process; costs nothing when no Docker socket or DOCKER_HOST exists. */
function dockerReachable(): Promise<boolean> {
  return (dockerProbe ??= probeDocker());
}

async function probeDocker(): Promise<boolean> {
  const mode = process.env.HERALD_TEST_REDIS;
  if (mode === 'local') return false;
  if (mode !== 'docker' && !dockerHintExists()) return false;
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await withTimeout(getContainerRuntimeClient(), 5_000, 'probing the Docker engine');
    return true;
  } catch (err) {
    if (mode === 'docker') throw new Error(`HERALD_TEST_REDIS=docker but no Docker engine is reachable: ${String(err)}`);
    return false;
  }
}

function dockerHintExists(): boolean {
  if (process.env.DOCKER_HOST || process.env.TESTCONTAINERS_HOST_OVERRIDE) return true;
  const home = homedir();
  const uid = process.getuid?.();
  const candidates = [
    '/var/run/docker.sock',
    join(home, '.testcontainers.properties'),
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
    join(home, '.colima', 'default', 'docker.sock'),
    join(home, '.rd', 'docker.sock'),
    process.env.XDG_RUNTIME_DIR ? join(process.env.XDG_RUNTIME_DIR, 'docker.sock') : undefined,
    uid !== undefined ? `/run/user/${uid}/docker.sock` : undefined,
    uid !== undefined ? `/run/user/${uid}/podman/podman.sock` : undefined,
  ];
  return candidates.some((p) => p !== undefined && existsSync(p));
}

async function requireLocal(what: string): Promise<void> {
  if (await dockerReachable()) {
    throw new Error(
      `${what} is not supported on the Testcontainers (Docker) path: it needs local redis-server processes that ` +
        `announce 127.0.0.1 addresses to each other. Install redis-server and set HERALD_TEST_REDIS=local.`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Testcontainers path

const IMAGE = 'redis:7';

class ContainerRedis implements RedisHandle {
  private running = true;

  private constructor(
    private container: StartedTestContainer,
    readonly host: string,
    readonly port: number,
    private readonly opts: StartRedisOptions,
  ) {}

  static async start(opts: StartRedisOptions): Promise<ContainerRedis> {
    const container = await ContainerRedis.launch(opts);
    const handle = new ContainerRedis(container, container.getHost(), container.getMappedPort(6379), opts);
    await waitForPing(handle.host, handle.port, opts.password, { timeoutMs: 30_000 });
    return handle;
  }

  private static async launch(opts: StartRedisOptions, hostPort?: number): Promise<StartedTestContainer> {
    const { GenericContainer } = await import('testcontainers');
    const cmd = ['redis-server', '--save', '', '--appendonly', 'no', '--daemonize', 'no'];
    if (opts.password !== undefined) cmd.push('--requirepass', opts.password);
    cmd.push(...(opts.args ?? []));
    return new GenericContainer(IMAGE)
      .withCommand(cmd)
      .withExposedPorts(hostPort === undefined ? 6379 : { container: 6379, host: hostPort })
      .withStartupTimeout(60_000)
      .start();
  }

  get url(): string {
    return redisUrl(this.host, this.port, this.opts.password);
  }

  get password(): string | undefined {
    return this.opts.password;
  }

  isRunning(): boolean {
    return this.running;
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.running = false;
      // docker stop: SIGTERM, which Redis handles as SHUTDOWN (no save points configured); then the container is removed
      await this.container.stop({ timeout: 10_000, remove: true });
    } else {
      await this.removeContainer();
    }
  }

  async kill(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await getContainerRuntimeClient();
    await client.container.getById(this.container.getId()).kill({ signal: 'SIGKILL' });
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop();
    else await this.removeContainer();
    // a new container pinned to the same host port; the old binding may linger for a moment
    const deadline = Date.now() + READY_BACKSTOP_MS;
    for (;;) {
      try {
        this.container = await ContainerRedis.launch(this.opts, this.port);
        break;
      } catch (err) {
        const msg = String(err);
        if (Date.now() > deadline || !/port is already allocated|address already in use/i.test(msg)) throw err;
        await delay(250);
      }
    }
    this.running = true;
    await waitForPing(this.host, this.port, this.opts.password, { timeoutMs: 30_000 });
  }

  private async removeContainer(): Promise<void> {
    const { getContainerRuntimeClient } = await import('testcontainers');
    const client = await getContainerRuntimeClient();
    try {
      await client.container.remove(client.container.getById(this.container.getId()), { removeVolumes: true });
    } catch (err) {
      if (!/no such container|404/i.test(String(err))) throw err;
    }
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Local redis-server path

/** Builds the argv of one launch; called again on restart (with a fresh dir, the same port). */
type BuildArgs = (ctx: { port: number; dir: string }) => string[];

interface Proc {
  child: ChildProcess;
  dir: string;
  /** Resolves when the process has exited (or failed to spawn). */
  exited: Promise<void>;
  /** Resolves when stdout/stderr are drained as well. */
  closed: Promise<void>;
  spawnError?: Error;
  output(): string;
}

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

function alive(proc: Proc): boolean {
  return !proc.spawnError && proc.child.exitCode === null && proc.child.signalCode === null;
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
      throw new Error(`cannot run redis-server from PATH (${proc.spawnError.message}); install Redis or make Docker reachable`);
    }
    const output = proc.output();
    if (/address already in use/i.test(output)) throw new PortInUseError(`port ${port} is in use:\n${output}`);
    throw new Error(`${(err as Error).message}\nredis-server ${port} output (stdout+stderr):\n${output}`);
  }
}

class LocalRedis implements RedisHandle {
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

async function launchOnFreePort(
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

function startLocalRedis(opts: StartRedisOptions, extraArgs?: () => Promise<string[]>): Promise<LocalRedis> {
  return launchOnFreePort(
    async () => {
      const extra = extraArgs ? await extraArgs() : [];
      return ({ port, dir }) => [
        '--port', String(port),
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--daemonize', 'no',
        '--dir', dir,
        ...(opts.password !== undefined ? ['--requirepass', opts.password] : []),
        ...extra,
        ...(opts.args ?? []),
      ];
    },
    opts.password,
    'server',
  );
}

function startSentinel(primaryHost: string, primaryPort: number): Promise<LocalRedis> {
  return launchOnFreePort(
    async () =>
      ({ port, dir }) => {
        // sentinels rewrite their config file, so each gets its own in its own dir
        const conf = join(dir, 'sentinel.conf');
        writeFileSync(
          conf,
          [
            `port ${port}`,
            'bind 127.0.0.1',
            'daemonize no',
            `dir ${dir}`,
            `sentinel monitor ${SENTINEL_NAME} ${primaryHost} ${primaryPort} 2`,
            `sentinel down-after-milliseconds ${SENTINEL_NAME} 1000`,
            `sentinel failover-timeout ${SENTINEL_NAME} 5000`,
            `sentinel parallel-syncs ${SENTINEL_NAME} 1`,
            '',
          ].join('\n'),
        );
        return [conf, '--sentinel'];
      },
    undefined,
    'sentinel',
  );
}

async function sentinelPrimaryPort(sentinel: RedisHandle): Promise<number | undefined> {
  const addr = await command(sentinel, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_NAME]);
  return Array.isArray(addr) && typeof addr[1] === 'string' ? Number(addr[1]) : undefined;
}

async function sentinelSeesHealthyReplica(sentinel: RedisHandle, port: number): Promise<boolean> {
  const replicas = await command(sentinel, ['SENTINEL', 'REPLICAS', SENTINEL_NAME]);
  if (!Array.isArray(replicas)) return false;
  return replicas.some((r) => {
    if (!Array.isArray(r)) return false;
    const fields = new Map<string, Reply>();
    for (let i = 0; i + 1 < r.length; i += 2) fields.set(String(r[i]), r[i + 1]!);
    return fields.get('port') === String(port) && fields.get('flags') === 'slave' && fields.get('master-link-status') === 'ok';
  });
}

/**
 * Polls PING until it answers PONG. With `proc`, also requires INFO's process_id to be that
 * process, and fails fast when it exits.
 */
async function waitForPing(
  host: string,
  port: number,
  password: string | undefined,
  { timeoutMs, proc }: { timeoutMs: number; proc?: Proc },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no attempt';
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

// ---------------------------------------------------------------------------------------------
// Helpers

function redisUrl(host: string, port: number, password: string | undefined): string {
  return password === undefined ? `redis://${host}:${port}` : `redis://:${encodeURIComponent(password)}@${host}:${port}`;
}


/**
 * How long readiness waits (a server answering PING, sentinels agreeing, a cluster forming) may take
 * before the fixture gives up: a backstop for a server that never gets there, not a measurement; on a
 * machine busy with other work, starting six Redis processes takes seconds.
 */
const READY_BACKSTOP_MS = 45_000;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function exitsWithin(proc: Proc, ms: number): Promise<boolean> {
  return withTimeout(proc.exited, ms, 'exit').then(
    () => true,
    () => false,
  );
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Readiness polling for multi-process setups; `check` errors (e.g. a refused connection) count as "not yet". */
async function pollUntil(what: string, timeoutMs: number, check: () => Promise<boolean>): Promise<void> {
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

function run(bin: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${bin} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}
