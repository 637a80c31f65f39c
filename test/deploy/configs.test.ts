/**
 * The deployment files are checked by the real tools where they exist here (nginx -t, haproxy -c)
 * and otherwise parsed with a real YAML parser and held to the rules that matter in production:
 * scalable gateways (no fixed names or host ports), probes on /ready and /health, non-root,
 * grace periods above the drain, budgets and autoscalers pointing at real workloads, and an example
 * environment that Herald itself accepts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@herald/config';
import { readRepoFile, repoPath, requireBin, run, runWithFileStdio, selfSignedCert, substitute, tempDir } from './support/deploy-files.js';

// ------------------------------------------------------------------------------------------------
// small parsers

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/** Docker Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_][A-Z0-9_]*)(?:(:?[-?])([^}]*))?\}/g, (_m, name: string, op: string | undefined, arg: string | undefined) => {
    const v = vars[name];
    if (op === ':-') return v === undefined || v === '' ? arg! : v;
    if (op === '-') return v === undefined ? arg! : v;
    if (op === ':?' || op === '?') {
      if (v === undefined || (op === ':?' && v === '')) throw new Error(`${name}: ${arg}`);
      return v;
    }
    return v ?? '';
  });
}

const interpolatedNames = (text: string) => [...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!);

/** Compose duration ("30s", "1m30s", "500ms") in milliseconds. */
function durationMs(d: string | number): number {
  if (typeof d === 'number') return d * 1000;
  let ms = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    ms += Number(n) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h'];
  }
  return ms;
}

/** The text of the block opened by the first line matching `header` (braces balanced). */
function block(text: string, header: RegExp): string {
  const m = header.exec(text);
  if (!m) throw new Error(`no block ${header}`);
  const start = text.indexOf('{', m.index);
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return text.slice(start + 1, i);
  }
  throw new Error(`unbalanced block ${header}`);
}

/** Non-comment lines. */
const code = (text: string) =>
  text
    .split('\n')
    .map((l) => l.replace(/#.*$/, ''))
    .join('\n');

/** nginx time ("120s", "2m", "120") in seconds. */
const nginxSeconds = (t: string) => Number(/^(\d+)/.exec(t)![1]) * (t.endsWith('m') ? 60 : t.endsWith('h') ? 3600 : t.endsWith('ms') ? 0.001 : 1);

// The protocol's clocks (README): a silent client is pinged after the activity timeout and
// closed when no pong comes within 30 s more. A proxy must not cut an idle-looking socket sooner.
const ACTIVITY_TIMEOUT_S = 30;
const PONG_WAIT_S = 30;

// ------------------------------------------------------------------------------------------------

describe('nginx configs (deploy/nginx)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let cert: Awaited<ReturnType<typeof selfSignedCert>>;
  beforeAll(async () => {
    tmp = tempDir('nginx-t');
    cert = await selfSignedCert(tmp.dir);
  });
  afterAll(() => tmp?.cleanup());

  // stdout on a file: the configs log to /dev/stdout (the container's log), which nginx opens
  const nginxT = async (confPath: string) => {
    const r = await runWithFileStdio(requireBin('nginx'), ['-t', '-p', `${tmp.dir}/`, '-e', join(tmp.dir, 'error.log'), '-c', confPath], join(tmp.dir, 'nginx-t.out'));
    return { code: r.code, stderr: r.output };
  };

  it('nginx.conf passes `nginx -t` exactly as shipped', async () => {
    const r = await nginxT(repoPath('deploy', 'nginx', 'nginx.conf'));
    expect(r.stderr, r.stderr).toContain('test is successful');
    expect(r.code).toBe(0);
  });

  it('nginx-tls.conf passes `nginx -t` with only the certificate paths replaced (self-signed)', async () => {
    const conf = substitute(readRepoFile('deploy', 'nginx', 'nginx-tls.conf'), [
      { from: '/etc/nginx/certs/fullchain.pem', to: cert.cert },
      { from: '/etc/nginx/certs/privkey.pem', to: cert.key },
    ]);
    const path = join(tmp.dir, 'nginx-tls.conf');
    writeFileSync(path, conf);
    const r = await nginxT(path);
    expect(r.stderr, r.stderr).toContain('test is successful');
    expect(r.code).toBe(0);
  });

  for (const file of ['nginx.conf', 'nginx-tls.conf']) {
    it(`${file}: WebSocket upgrade on /app/, API locations, timeouts above the protocol's, no stickiness`, () => {
      const text = code(readRepoFile('deploy', 'nginx', file));
      const app = block(text, /location \/app\/ \{/);
      expect(app).toMatch(/proxy_pass http:\/\/\$herald_ws;/);
      expect(app).toMatch(/proxy_http_version 1\.1;/);
      expect(app).toMatch(/proxy_set_header Upgrade \$http_upgrade;/);
      expect(app).toMatch(/proxy_set_header Connection \$connection_upgrade;/);
      expect(text).toMatch(/map \$http_upgrade \$connection_upgrade \{\s*default\s+upgrade;\s*''\s+close;\s*\}/);
      const read = /proxy_read_timeout (\S+);/.exec(app)![1]!;
      const send = /proxy_send_timeout (\S+);/.exec(app)![1]!;
      expect(nginxSeconds(read)).toBeGreaterThan(ACTIVITY_TIMEOUT_S + PONG_WAIT_S);
      expect(nginxSeconds(send)).toBeGreaterThan(ACTIVITY_TIMEOUT_S + PONG_WAIT_S);
      for (const loc of ['/apps/', '/users/']) {
        const api = block(text, new RegExp(`location ${loc.replace(/\//g, '\\/')} \\{`));
        expect(api).toMatch(/proxy_pass http:\/\/\$herald_api;/);
      }
      // The gateways through Docker's DNS, re-resolved (scaling is followed without a reload).
      expect(text).toMatch(/resolver 127\.0\.0\.11 valid=\d+s/);
      expect(text).toMatch(/set \$herald_ws gateway:3131;/);
      expect(text).toMatch(/set \$herald_api gateway:3232;/);
      // No sticky sessions, and no public /metrics (they describe one gateway, not the cluster).
      expect(text).not.toMatch(/\b(ip_hash|sticky|hash \$)/);
      expect(text).not.toMatch(/location[^{]*metrics/);
      // No pid/daemon/user: the image's command and the test harness set them.
      expect(text).not.toMatch(/^\s*(pid|daemon|user)\s/m);
    });
  }
});

describe('HAProxy config (deploy/haproxy/haproxy.cfg)', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeAll(() => {
    tmp = tempDir('haproxy-c');
  });
  afterAll(() => tmp?.cleanup());

  it('passes `haproxy -c` exactly as shipped', async () => {
    const r = await run(requireBin('haproxy'), ['-c', '-f', repoPath('deploy', 'haproxy', 'haproxy.cfg')]);
    expect(r.stdout + r.stderr).toMatch(/Configuration file is valid/);
    expect(r.code).toBe(0);
  });

  it('its commented TLS frontend is valid once uncommented (self-signed certificate)', async () => {
    const cert = await selfSignedCert(tmp.dir);
    const text = readRepoFile('deploy', 'haproxy', 'haproxy.cfg');
    const at = text.indexOf('# frontend herald_tls_in');
    expect(at).toBeGreaterThan(0);
    const uncommented = text.slice(0, at) + text.slice(at).replace(/^# ?/gm, '');
    // (the path is also named in the header comment)
    const conf = substitute(uncommented, [{ from: '/etc/haproxy/certs/herald.pem', to: cert.pem, times: 2 }]);
    const path = join(tmp.dir, 'haproxy.cfg');
    writeFileSync(path, conf);
    const r = await run(requireBin('haproxy'), ['-c', '-f', path]);
    expect(r.stdout + r.stderr).toMatch(/Configuration file is valid/);
    expect(r.code).toBe(0);
  });

  it('WebSocket and API frontends, health by /ready, a long tunnel timeout, no stickiness', () => {
    const text = code(readRepoFile('deploy', 'haproxy', 'haproxy.cfg'));
    expect(text).toMatch(/bind :3131\b/);
    expect(text).toMatch(/bind :3232\b/);
    expect(text).toMatch(/path_beg \/app\//);
    expect(text).toMatch(/path_beg \/apps\/ \/users\//);
    const tunnel = /timeout tunnel (\d+)(ms|s|m|h)?/.exec(text)!;
    const tunnelS = Number(tunnel[1]) * ({ ms: 0.001, s: 1, m: 60, h: 3600 }[(tunnel[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'] ?? 0.001);
    expect(tunnelS).toBeGreaterThan(ACTIVITY_TIMEOUT_S + PONG_WAIT_S);
    expect(text).toMatch(/server-template gw \d+ gateway:3131/);
    expect(text).toMatch(/server-template gw \d+ gateway:3232/);
    expect(text.match(/option httpchk GET \/ready/g)).toHaveLength(2);
    expect(text).toMatch(/nameserver \w+ 127\.0\.0\.11:53/);
    expect(text).not.toMatch(/^\s*(cookie|stick-table|stick on|balance source)\b/m);
  });
});

// ------------------------------------------------------------------------------------------------

describe('docker-compose.yml and .env.example', () => {
  const composeText = readRepoFile('docker-compose.yml');
  const compose = parseYaml(composeText, { merge: true }) as {
    services: Record<string, Record<string, unknown> & { environment?: Record<string, string>; healthcheck?: { test: unknown } }>;
  };
  const envExample = parseEnvFile(readRepoFile('.env.example'));
  const services = compose.services;

  it('has redis, gateway, webhook-worker and nginx, each with a healthcheck', () => {
    for (const name of ['redis', 'gateway', 'webhook-worker', 'nginx']) {
      expect(services[name], name).toBeDefined();
      expect(services[name]!.healthcheck?.test, `${name} healthcheck`).toBeDefined();
    }
  });

  it('lets the gateway scale (`--scale gateway=3`): no container_name and no published port anywhere but the balancers', () => {
    for (const [name, svc] of Object.entries(services)) {
      expect(svc.container_name, name).toBeUndefined();
      if (!name.startsWith('nginx')) expect(svc.ports, `${name} publishes ports`).toBeUndefined();
    }
    const gw = services.gateway!;
    expect(gw.command).toEqual(['node', 'packages/gateway/dist/main.js', '--role=gateway']);
    expect(gw.build).toMatchObject({ context: '.', dockerfile: 'deploy/Dockerfile' });
    expect(existsSync(repoPath('deploy', 'Dockerfile'))).toBe(true);
  });

  it('runs two webhook workers from the same image', () => {
    const w = services['webhook-worker']!;
    expect((w.deploy as { replicas: number }).replicas).toBe(2);
    expect(w.command).toEqual(['node', 'packages/webhook-worker/dist/main.js']);
    expect(w.image).toBe(services.gateway!.image);
  });

  it('publishes the WebSocket and API ports on nginx, which gets deploy/nginx/nginx.conf', () => {
    const n = services.nginx!;
    const ports = (n.ports as string[]).map((p) => interpolate(p, {}));
    expect(ports).toEqual(['3131:3131', '3232:3232']);
    expect(n.volumes).toContain('./deploy/nginx/nginx.conf:/etc/nginx/nginx.conf:ro');
    const tls = services['nginx-tls']!;
    expect(tls.profiles).toEqual(['tls']);
    expect(tls.volumes).toContain('./deploy/nginx/nginx-tls.conf:/etc/nginx/nginx.conf:ro');
    expect((tls.ports as string[]).map((p) => interpolate(p, {}))).toEqual(['443:443']);
  });

  it('gives the gateways longer to stop than their drain', () => {
    const gw = services.gateway!;
    const drainMs = Number(interpolate(String(gw.environment!.PUSH_DRAIN_MS), envExample));
    expect(drainMs).toBeGreaterThan(0);
    expect(durationMs(gw.stop_grace_period as string)).toBeGreaterThan(drainMs + 5000);
  });

  it('reads its environment from .env, and every ${VAR} it interpolates is in .env.example', () => {
    for (const name of ['gateway', 'webhook-worker']) expect(services[name]!.env_file).toBe('.env');
    for (const v of interpolatedNames(composeText)) expect(envExample, `.env.example lacks ${v}`).toHaveProperty(v);
  });

  it('.env.example has placeholder credentials marked as to be changed, and Herald accepts it as both roles see it', () => {
    const text = readRepoFile('.env.example');
    for (const k of ['PUSH_APP_ID', 'PUSH_APP_KEY', 'PUSH_APP_SECRET']) expect(envExample[k]).toMatch(/change-me/);
    expect(text).toMatch(/CHANGE/);
    expect(text).toMatch(/PUSH_WEBHOOK_URL=/);
    for (const name of ['gateway', 'webhook-worker']) {
      const env: Record<string, string> = { ...envExample };
      for (const [k, v] of Object.entries(services[name]!.environment!)) env[k] = interpolate(String(v), envExample);
      const cfg = loadConfig(env);
      expect(cfg.redis?.topology).toEqual({ kind: 'single', url: 'redis://redis:6379' });
      expect(cfg.apps[0]).toMatchObject({ id: envExample.PUSH_APP_ID, key: envExample.PUSH_APP_KEY });
      // With the webhook URL uncommented too.
      const withHook = { ...env, PUSH_WEBHOOK_URL: /# PUSH_WEBHOOK_URL=(\S+)/.exec(text)![1]! };
      expect(loadConfig(withHook).apps[0]!.webhooks).toHaveLength(1);
    }
  });

  it('uses the image healthcheck command (the same one-liner as the Dockerfile)', () => {
    const dockerfileCmd = healthcheckCommand(readRepoFile('deploy', 'Dockerfile'));
    for (const name of ['gateway', 'webhook-worker']) expect(services[name]!.healthcheck!.test).toEqual(['CMD', ...dockerfileCmd]);
  });
});

// ------------------------------------------------------------------------------------------------

/** The exec-form command of the Dockerfile's HEALTHCHECK. */
function healthcheckCommand(dockerfile: string): string[] {
  const joined = dockerfile.replace(/\\\n/g, ' ');
  const m = /^HEALTHCHECK\b.*?\bCMD\s+(\[.*\])\s*$/m.exec(joined);
  if (!m) throw new Error('no exec-form HEALTHCHECK');
  return JSON.parse(m[1]!) as string[];
}

describe('deploy/Dockerfile and .dockerignore', () => {
  const dockerfile = readRepoFile('deploy', 'Dockerfile');
  const lines = dockerfile.replace(/\\\n/g, ' ').split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const froms = lines.filter((l) => /^FROM\s/i.test(l));
  const lastFrom = lines.findIndex((l) => l === froms[froms.length - 1]);
  const build = lines.slice(0, lastFrom);
  const runtime = lines.slice(lastFrom);

  it('is multi-stage on node:20-bookworm-slim', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const f of froms) expect(f).toMatch(/^FROM node:20-bookworm-slim AS \w+$/);
  });

  it('builds with dev dependencies, runs with production ones only (no scripts), from the built dist', () => {
    expect(build.some((l) => /^RUN npm ci\b/.test(l) && !l.includes('--omit=dev'))).toBe(true);
    const ci = runtime.find((l) => /^RUN npm ci\b/.test(l));
    expect(ci).toMatch(/--omit=dev/);
    expect(ci).toMatch(/--ignore-scripts/);
    expect(runtime.some((l) => /^COPY --from=build\b/.test(l))).toBe(true);
    expect(build.join('\n')).toMatch(/dist/);
  });

  it('runs as a non-root user, one image for both roles, with a HEALTHCHECK on /health', () => {
    const users = runtime.filter((l) => /^USER\s/.test(l));
    expect(users.length).toBeGreaterThan(0);
    const user = users[users.length - 1]!.split(/\s+/)[1]!;
    expect(user.split(':')[0]).not.toMatch(/^(root|0)$/);
    expect(runtime.some((l) => /^HEALTHCHECK\b/.test(l))).toBe(true);
    expect(healthcheckCommand(dockerfile).join(' ')).toMatch(/\/health/);
    const cmd = runtime.find((l) => /^CMD\s/.test(l))!;
    expect(JSON.parse(cmd.replace(/^CMD\s+/, ''))).toEqual(['node', 'packages/gateway/dist/main.js', '--role=gateway']);
    expect(existsSync(repoPath('packages', 'webhook-worker', 'src', 'main.ts'))).toBe(true);
  });

  describe('the HEALTHCHECK one-liner, run for real', () => {
    const servers: Server[] = [];
    const serve = async (status: number) => {
      const s = createServer((req, res) => {
        res.statusCode = req.url === '/health' ? status : 404;
        res.end();
      });
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      servers.push(s);
      return (s.address() as AddressInfo).port;
    };
    afterAll(async () => {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    });
    const check = async (env: Record<string, string>) => {
      const [bin, ...args] = healthcheckCommand(dockerfile);
      expect(bin).toBe('node');
      return (await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env }, timeoutMs: 10_000 })).code;
    };
    const closedPort = async () => {
      const p = await serve(200);
      await new Promise((r) => servers.pop()!.close(r));
      return String(p);
    };

    it('passes for a gateway (API port) and for a worker (worker port), fails otherwise', async () => {
      const up = String(await serve(200));
      const sick = String(await serve(503));
      const none = await closedPort();
      expect(await check({ PUSH_API_PORT: up, PUSH_WORKER_PORT: none })).toBe(0);
      expect(await check({ PUSH_API_PORT: none, PUSH_WORKER_PORT: up })).toBe(0);
      expect(await check({ PUSH_API_PORT: sick, PUSH_WORKER_PORT: none })).toBe(1);
      expect(await check({ PUSH_API_PORT: none, PUSH_WORKER_PORT: none })).toBe(1);
    });
  });

  it('.dockerignore keeps local builds, installs, secrets and state out of the context', () => {
    const entries = readRepoFile('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    for (const e of ['**/node_modules', '**/dist', '**/*.tsbuildinfo', '.env', '.herald', '.git']) expect(entries).toContain(e);
    expect(entries).toContain('!.env.example');
  });
});

// ------------------------------------------------------------------------------------------------

type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  data?: Record<string, string>;
  stringData?: Record<string, string>;
};

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const dir = repoPath('deploy', 'kubernetes');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  const objects: Array<K8sObject & { file: string }> = [];
  for (const f of files) {
    if (f === 'kustomization.yaml') continue;
    for (const doc of parseAllDocuments(readRepoFile('deploy', 'kubernetes', f))) {
      if (doc.errors.length > 0) throw new Error(`${f}: ${doc.errors.map((e) => e.message).join('; ')}`);
      const o = doc.toJS() as K8sObject | null;
      if (o) objects.push({ ...o, file: f });
    }
  }
  const ofKind = (kind: string) => objects.filter((o) => o.kind === kind);
  const workloads = objects.filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet');
  const deployments = ofKind('Deployment');
  const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
    Object.entries(selector).every(([k, v]) => labels?.[k] === v);
  const configMap = ofKind('ConfigMap').find((c) => c.metadata.name === 'herald-config')!;
  const secret = ofKind('Secret').find((s) => s.metadata.name === 'herald-secrets')!;

  it('every file parses, every object has apiVersion, kind and a name; kustomization lists exactly these files', () => {
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) {
      expect(o.apiVersion, o.file).toBeTruthy();
      expect(o.kind, o.file).toBeTruthy();
      expect(o.metadata?.name, o.file).toBeTruthy();
    }
    const k = parseYaml(readRepoFile('deploy', 'kubernetes', 'kustomization.yaml')) as { resources: string[]; images: { name: string }[] };
    expect([...k.resources].sort()).toEqual(files.filter((f) => f !== 'kustomization.yaml').sort());
    for (const w of workloads) {
      for (const c of w.spec.template.spec.containers) {
        if (w.metadata.name.startsWith('herald-')) expect(k.images.map((i) => i.name), w.metadata.name).toContain(c.image);
      }
    }
  });

  it('has a gateway and a webhook-worker Deployment, Services, a ConfigMap, a Secret, PDBs and an HPA', () => {
    expect(deployments.map((d) => d.metadata.name).sort()).toEqual(['herald-gateway', 'herald-webhook-worker']);
    for (const kind of ['Service', 'ConfigMap', 'Secret', 'PodDisruptionBudget', 'HorizontalPodAutoscaler']) {
      expect(ofKind(kind).length, kind).toBeGreaterThan(0);
    }
    const gw = deployments.find((d) => d.metadata.name === 'herald-gateway')!;
    expect(gw.spec.template.spec.containers[0].command).toEqual(['node', 'packages/gateway/dist/main.js', '--role=gateway']);
    const w = deployments.find((d) => d.metadata.name === 'herald-webhook-worker')!;
    expect(w.spec.template.spec.containers[0].command).toEqual(['node', 'packages/webhook-worker/dist/main.js']);
    expect(w.spec.replicas).toBeGreaterThanOrEqual(2);
  });

  it('every workload: selector matches its pods, probes, resources, non-root security context', () => {
    for (const w of workloads) {
      const name = w.metadata.name;
      const pod = w.spec.template.spec;
      expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${name} selector`).toBe(true);
      expect(pod.securityContext?.runAsNonRoot, `${name} runAsNonRoot`).toBe(true);
      expect(pod.securityContext?.runAsUser, `${name} runAsUser`).toBeGreaterThan(0);
      for (const c of pod.containers) {
        expect(c.readinessProbe, `${name} readinessProbe`).toBeDefined();
        expect(c.livenessProbe, `${name} livenessProbe`).toBeDefined();
        expect(c.resources?.requests?.cpu, `${name} cpu request`).toBeDefined();
        expect(c.resources?.requests?.memory, `${name} memory request`).toBeDefined();
        expect(c.resources?.limits?.memory, `${name} memory limit`).toBeDefined();
        expect(c.securityContext?.allowPrivilegeEscalation, `${name} allowPrivilegeEscalation`).toBe(false);
        expect(c.securityContext?.capabilities?.drop, `${name} drops capabilities`).toContain('ALL');
      }
    }
  });

  it('every Deployment: readiness on /ready and liveness on /health, on a port the container declares', () => {
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) {
        const ports = (c.ports as { name: string; containerPort: number }[]).flatMap((p) => [p.name, p.containerPort]);
        expect(c.readinessProbe.httpGet.path, d.metadata.name).toBe('/ready');
        expect(c.livenessProbe.httpGet.path, d.metadata.name).toBe('/health');
        expect(ports).toContain(c.readinessProbe.httpGet.port);
        expect(ports).toContain(c.livenessProbe.httpGet.port);
      }
    }
  });

  it('every Deployment gets longer to stop than PUSH_DRAIN_MS plus its preStop pause', () => {
    const drainMs = Number(configMap.data!.PUSH_DRAIN_MS);
    expect(drainMs).toBeGreaterThan(0);
    for (const d of deployments) {
      const pod = d.spec.template.spec;
      const preStopS = Math.max(
        0,
        ...pod.containers.map((c: { lifecycle?: { preStop?: { exec?: { command: string[] } } } }) => {
          const cmd = c.lifecycle?.preStop?.exec?.command;
          return cmd && cmd[0] === 'sleep' ? Number(cmd[1]) : 0;
        }),
      );
      expect(pod.terminationGracePeriodSeconds * 1000, d.metadata.name).toBeGreaterThan(drainMs + preStopS * 1000);
    }
  });

  it('Deployments read the ConfigMap and Secret that exist, and Herald accepts them', () => {
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) {
        for (const from of c.envFrom) {
          if (from.configMapRef) expect(from.configMapRef.name).toBe(configMap.metadata.name);
          if (from.secretRef) expect(from.secretRef.name).toBe(secret.metadata.name);
        }
      }
    }
    for (const k of ['PUSH_APP_ID', 'PUSH_APP_KEY', 'PUSH_APP_SECRET']) expect(secret.stringData![k]).toMatch(/change-me/);
    const cfg = loadConfig({ ...configMap.data, ...secret.stringData, PUSH_NODE_ID: 'herald-gateway-abc' });
    expect(cfg.drainMs).toBe(Number(configMap.data!.PUSH_DRAIN_MS));
    expect(cfg.redis?.topology).toEqual({ kind: 'single', url: configMap.data!.REDIS_URL });
    // REDIS_URL names the Redis Service.
    const host = new URL(configMap.data!.REDIS_URL!).hostname;
    expect(ofKind('Service').map((s) => s.metadata.name)).toContain(host);
  });

  it('Services select existing pods and target ports those pods declare; no session affinity', () => {
    for (const s of ofKind('Service')) {
      const targets = workloads.filter((w) => matches(s.spec.selector, w.spec.template.metadata.labels));
      expect(targets.length, `${s.metadata.name} selects nothing`).toBe(1);
      const declared = targets[0]!.spec.template.spec.containers.flatMap((c: { ports: { name: string; containerPort: number }[] }) =>
        c.ports.flatMap((p) => [p.name, p.containerPort]),
      );
      for (const p of s.spec.ports) expect(declared, `${s.metadata.name} port ${p.name}`).toContain(p.targetPort);
      expect(s.spec.sessionAffinity ?? 'None').toBe('None');
    }
  });

  it('PodDisruptionBudgets and the HorizontalPodAutoscaler point at existing Deployments', () => {
    for (const pdb of ofKind('PodDisruptionBudget')) {
      const hit = deployments.filter((d) => matches(pdb.spec.selector.matchLabels, d.spec.template.metadata.labels));
      expect(hit.length, `${pdb.metadata.name} selects no Deployment`).toBe(1);
      expect(pdb.spec.minAvailable ?? pdb.spec.maxUnavailable).toBeDefined();
    }
    for (const hpa of ofKind('HorizontalPodAutoscaler')) {
      const ref = hpa.spec.scaleTargetRef;
      expect(ref.kind).toBe('Deployment');
      const target = deployments.find((d) => d.metadata.name === ref.name);
      expect(target, `${hpa.metadata.name} -> ${ref.name}`).toBeDefined();
      expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2);
      expect(hpa.spec.maxReplicas).toBeGreaterThan(hpa.spec.minReplicas);
      // Utilization targets need requests on every container of the target.
      for (const c of target!.spec.template.spec.containers) expect(c.resources.requests.cpu).toBeDefined();
      // Scaling down makes every client of a removed gateway reconnect: slowly.
      expect(hpa.spec.behavior.scaleDown.stabilizationWindowSeconds).toBeGreaterThanOrEqual(300);
    }
  });

  it('the Ingress sends /app/ to the WebSocket port and the API paths to the API port of the gateway Service', () => {
    const ing = ofKind('Ingress')[0]!;
    const svc = ofKind('Service').find((s) => s.metadata.name === 'herald-gateway')!;
    const portNames = svc.spec.ports.map((p: { name: string }) => p.name);
    const paths = ing.spec.rules.flatMap((r: { http: { paths: unknown[] } }) => r.http.paths) as {
      path: string;
      backend: { service: { name: string; port: { name: string } } };
    }[];
    const to = (path: string) => paths.find((p) => p.path === path)?.backend.service;
    expect(to('/app/')).toEqual({ name: 'herald-gateway', port: { name: 'ws' } });
    expect(to('/apps/')).toEqual({ name: 'herald-gateway', port: { name: 'api' } });
    expect(to('/users/')).toEqual({ name: 'herald-gateway', port: { name: 'api' } });
    for (const p of paths) expect(portNames).toContain(p.backend.service.port.name);
    const annotations = ing.metadata.annotations ?? {};
    for (const a of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${a}`]), a).toBeGreaterThan(ACTIVITY_TIMEOUT_S + PONG_WAIT_S);
    }
  });
});

// ------------------------------------------------------------------------------------------------

describe('docs/operations.md', () => {
  it('its metrics section names only metrics that exist (README or source)', () => {
    const all = readRepoFile('docs', 'operations.md');
    const doc = /## Metrics[\s\S]*?(?=\n## )/.exec(all)![0];
    const readme = readRepoFile('README.md');
    const sources = ['gateway/src/metrics.ts', 'webhook-worker/src/worker-http.ts'].map((p) => readRepoFile('packages', ...p.split('/'))).join('\n');
    const names = new Set([...doc.matchAll(/\bherald_[a-z0-9_]+/g)].map((m) => m[0]));
    expect(names.size).toBeGreaterThan(5);
    for (const n of names) {
      const known = readme.includes(n) || sources.includes(`'${n}'`) || /_(bucket|sum|count)$/.test(n);
      expect(known, `${n} is not a Herald metric`).toBe(true);
    }
  });
});
