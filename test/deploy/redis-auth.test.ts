/**
 * Redis behind a password, run for real: redis-server started with the exact command of
 * docker-compose.yml's `redis` service (interpolated as compose does) and with the shell script of
 * deploy/kubernetes/redis.yaml (its environment resolved from the Secret as the kubelet does), with
 * only a loopback address and a free port added. Their healthchecks and probes run as written
 * (`redis-cli` pointed at that port), and real gateways connect with the REDIS_URL each file gives
 * them. What the password is for: an unauthenticated client can no longer PUBLISH a frame.
 */
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  containerEnv,
  freePort,
  type K8sObject,
  loadCompose,
  loadManifests,
  parseEnvFile,
  type ProcessHandle,
  randomTestApp,
  readRepoFile,
  requireBin,
  run,
  startNode,
  startProcess,
  uniquePrefix,
} from '@herald/test-support';

const started: ProcessHandle[] = [];
afterAll(async () => {
  await Promise.all(started.map((p) => p.stop()));
});

const baseEnv = () => ({ PATH: process.env.PATH ?? '' });

/** A healthcheck or probe command as written, with redis-cli pointed at `port`; its exit code. */
async function probe(command: string[], port: number, env: Record<string, string>): Promise<number> {
  const [bin, ...args] = command;
  const withPort = args.map((a) => a.replace(/\bredis-cli\b/, `redis-cli -p ${port}`));
  return (await run(bin!, withPort, { env: { ...baseEnv(), ...env } })).code;
}

/** An unauthenticated client, as any other container or pod on the network would be. */
async function publishWithout(port: number, password?: string): Promise<unknown> {
  const client = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    enableReadyCheck: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    ...(password ? { password } : {}),
  });
  try {
    await client.connect();
    return await client.publish('herald:any-topic', 'a forged frame');
  } finally {
    client.disconnect();
  }
}

/** A gateway with `redisUrl`, its host `redis:6379` pointed at the local server; not waited for. */
async function gatewayWith(redisUrl: string, port: number, env: Record<string, string> = {}) {
  const url = redisUrl.replace(/([/@])redis:6379$/, (_m, sep: string) => `${sep}127.0.0.1:${port}`);
  expect(url).not.toBe(redisUrl);
  return startNode({ app: randomTestApp(), redisUrl: url, prefix: uniquePrefix(), env, waitReady: false });
}

describe('docker-compose.yml: the redis service', () => {
  const password = randomBytes(16).toString('hex');
  const dotEnv = { ...parseEnvFile(readRepoFile('.env.example')), REDIS_PASSWORD: password };
  const compose = loadCompose(dotEnv);
  const redis = compose.services.redis!;
  let port: number;
  beforeAll(async () => {
    const [bin, ...args] = redis.command!;
    expect(bin).toBe('redis-server');
    port = await freePort();
    started.push(await startProcess(requireBin('redis-server'), [...args, '--bind', '127.0.0.1', '--port', String(port)], [port]));
  });

  it('runs with its command as shipped and refuses what has no password; its healthcheck authenticates', async () => {
    await expect(publishWithout(port)).rejects.toThrow(/NOAUTH/);
    await expect(publishWithout(port, password)).resolves.toBe(0);

    const [kind, script] = redis.healthcheck!.test;
    expect(kind).toBe('CMD-SHELL');
    const sh = ['sh', '-c', script!];
    expect(await probe(sh, port, redis.environment!)).toBe(0);
    // Without the service's REDISCLI_AUTH (or with a wrong one) the same command fails: it is not a bare PING.
    expect(await probe(sh, port, {})).not.toBe(0);
    expect(await probe(sh, port, { REDISCLI_AUTH: 'wrong-password-0123' })).not.toBe(0);
  });

  it('gives the gateways a REDIS_URL that authenticates (the URL alone), and a URL without it gets nowhere', async () => {
    const url = compose.services.gateway!.environment!.REDIS_URL!;
    expect(url).toContain(`:${password}@`);
    await using gw = await gatewayWith(url, port);
    await gw.waitReady();

    // The same URL without its password: the gateway never becomes ready, and says why (at the
    // default log level: the refusal names Redis's NOAUTH, not just a closed connection).
    await using bare = await gatewayWith(url.replace(`:${password}@`, ''), port);
    expect(await bare.exited).not.toBe(0);
    expect(bare.output()).toMatch(/cannot connect to Redis: NOAUTH/);
  });
});

describe('deploy/kubernetes/redis.yaml: the trial Redis and the Deployments', () => {
  const objects = loadManifests();
  const of = (kind: string) => objects.filter((o) => o.kind === kind);
  const secret = of('Secret').find((s) => s.metadata.name === 'herald-secrets')!;
  const configMap = of('ConfigMap').find((c) => c.metadata.name === 'herald-config')!;
  const redis = of('StatefulSet').find((w) => w.spec.template.metadata.labels['app.kubernetes.io/component'] === 'redis')!;
  const container = redis.spec.template.spec.containers[0];
  const password = randomBytes(16).toString('hex');
  const withPassword = (value: string): K8sObject => ({ ...secret, stringData: { ...secret.stringData, REDIS_PASSWORD: value } });
  const envWith = (s: K8sObject) => containerEnv(container, { configMaps: [configMap], secrets: [s] });

  /** The container's command with the listening address added to its `exec redis-server`. */
  const command = (port: number): string[] =>
    (container.command as string[]).map((a) => a.replace('exec redis-server ', `exec redis-server --bind 127.0.0.1 --port ${port} `));

  it('refuses to start with the Secret as shipped (the placeholder) or an empty password', async () => {
    for (const value of [secret.stringData!.REDIS_PASSWORD!, '']) {
      const [bin, ...args] = command(await freePort());
      const r = await run(bin!, args, { env: { ...baseEnv(), ...envWith(withPassword(value)) } });
      expect(r.code, JSON.stringify(value)).toBe(1);
      expect(r.stderr).toMatch(/set REDIS_PASSWORD in the herald-secrets Secret/);
    }
  });

  let port: number;
  beforeAll(async () => {
    port = await freePort();
    const [bin, ...args] = command(port);
    started.push(await startProcess(bin!, args, [port], { env: { ...baseEnv(), ...envWith(withPassword(password)) } }));
  });

  it('runs with a generated password, refuses clients without it, and its probes authenticate', async () => {
    const env = envWith(withPassword(password));
    expect(env.REDISCLI_AUTH).toBe(password);
    await expect(publishWithout(port)).rejects.toThrow(/NOAUTH/);
    await expect(publishWithout(port, password)).resolves.toBe(0);
    for (const p of [container.readinessProbe, container.livenessProbe]) {
      expect(await probe(p.exec.command, port, env)).toBe(0);
      const { REDISCLI_AUTH: _gone, ...noAuth } = env;
      expect(await probe(p.exec.command, port, noAuth)).not.toBe(0);
    }
  });

  it('the gateway and the webhook worker connect with the REDIS_URL their Deployments build from the Secret', async () => {
    const mine = withPassword(password);
    for (const d of of('Deployment')) {
      const env = containerEnv(d.spec.template.spec.containers[0], { configMaps: [configMap], secrets: [mine] });
      expect(env.REDIS_URL, d.metadata.name).toBe(`redis://:${password}@redis:6379`);
      const role = d.metadata.name === 'herald-webhook-worker' ? 'worker' : 'gateway';
      // REDIS_URL, REDIS_PASSWORD and the prefix as the pod has them; ports, app and node id are the test's.
      const url = env.REDIS_URL!.replace(/@redis:6379$/, `@127.0.0.1:${port}`);
      await using node = await startNode({
        app: randomTestApp(),
        redisUrl: url,
        prefix: uniquePrefix(),
        role,
        env: { REDIS_PASSWORD: env.REDIS_PASSWORD!, PUSH_WEBHOOK_DELAY_MS: env.PUSH_WEBHOOK_DELAY_MS! },
      });
      expect(node.output(), d.metadata.name).not.toMatch(/NOAUTH/);
    }
  });
});
