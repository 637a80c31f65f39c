/**
 * The Testcontainers path of the Redis fixture: a `redis:7` container when a Docker engine is
 * reachable (or required by HERALD_TEST_REDIS=docker).
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { StartedTestContainer } from 'testcontainers';
import { delay, READY_BACKSTOP_MS, redisUrl, waitForPing, withTimeout, type RedisHandle, type StartRedisOptions } from './redis-handle.js';

let dockerProbe: Promise<boolean> | undefined;

/** Cached per process; costs nothing when no Docker socket or DOCKER_HOST exists. */
export function dockerReachable(): Promise<boolean> {
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
    if (mode === 'docker') throw new Error(`HERALD_TEST_REDIS=docker but no Docker engine is reachable: ${String(err)}`, { cause: err });
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

export async function requireLocal(what: string): Promise<void> {
  if (await dockerReachable()) {
    throw new Error(
      `${what} is not supported on the Testcontainers (Docker) path: it needs local redis-server processes that ` +
        `announce 127.0.0.1 addresses to each other. Install redis-server and set HERALD_TEST_REDIS=local.`,
    );
  }
}

const IMAGE = 'redis:7';

export class ContainerRedis implements RedisHandle {
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
