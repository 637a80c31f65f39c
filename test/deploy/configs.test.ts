/**
 * The deployment files are checked by the real tools where they exist here (nginx -t, haproxy -c)
 * and otherwise parsed with a real YAML parser and held to the rules that matter in production:
 * scalable gateways (no fixed names or host ports), probes on /ready and /health, non-root,
 * grace periods above the drain, budgets and autoscalers pointing at real workloads, an example
 * environment that Herald refuses until its placeholders are replaced, Redis behind a password,
 * NetworkPolicies, per-address limits in the balancers, /push.js routed by each of them, and
 * pusher-js's HTTP fallbacks (/pusher/app/) routed to the WebSocket port with what long-lived
 * streamed answers need.
 * balancers.test.ts and redis-auth.test.ts run the balancers and Redis for real.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@herald/config';
import {
  containerEnv,
  ingressAllowed,
  interpolate,
  interpolatedNames,
  type K8sObject,
  loadManifests,
  parseEnvFile,
  type PodPeer,
  readRepoFile,
  repoPath,
  requireBin,
  run,
  runWithFileStdio,
  selects,
  selfSignedCert,
  substitute,
  tempDir,
} from '@herald/test-support';

/** Generated app credentials, as `openssl rand -hex 16` would print them. */
const generated = () => ({
  PUSH_APP_ID: String(100_000 + (randomBytes(3).readUIntBE(0, 3) % 900_000)),
  PUSH_APP_KEY: randomBytes(16).toString('hex'),
  PUSH_APP_SECRET: randomBytes(16).toString('hex'),
});

/** What loadConfig throws for `env`, or undefined when it accepts it. */
function configError(env: Record<string, string | undefined>): ConfigError | undefined {
  try {
    loadConfig(env);
    return undefined;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
}

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

/** Each `server { ... }` block of an nginx config (comments stripped). */
function nginxServers(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*server \{/gm)) out.push(block(text.slice(m.index), /server \{/));
  return out;
}

/**
 * The location block nginx picks for `path` in one server (its own rule: an exact `=` match; else
 * the longest prefix, unless that one is `^~`, loses to the first regex that matches).
 */
function nginxLocation(server: string, path: string): { header: string; body: string } | undefined {
  const locs = [...server.matchAll(/location\s+(=|~\*?|\^~)?\s*(\S+)\s*\{/g)].map((m) => ({
    op: m[1] ?? '',
    arg: m[2]!,
    header: m[0],
    body: block(server.slice(m.index), /location[^{]*\{/),
  }));
  const exact = locs.find((l) => l.op === '=' && l.arg === path);
  if (exact) return exact;
  const prefix = locs.filter((l) => (l.op === '' || l.op === '^~') && path.startsWith(l.arg)).sort((a, b) => b.arg.length - a.arg.length)[0];
  if (prefix?.op === '^~') return prefix;
  const regex = locs.find((l) => l.op.startsWith('~') && new RegExp(l.arg, l.op === '~*' ? 'i' : '').test(path));
  return regex ?? prefix;
}

/** A server's own directives, its location blocks cut out (what every location inherits). */
const serverLevel = (server: string) => {
  let out = server;
  for (const m of [...server.matchAll(/location[^{]*\{/g)].reverse()) {
    const body = block(server.slice(m.index), /location[^{]*\{/);
    const end = server.indexOf(body, m.index) + body.length + 1;
    out = out.slice(0, m.index) + out.slice(end);
  }
  return out;
};

/** HAProxy sections by header line ("frontend herald_ws_in", "backend herald_api", "global"...), comments stripped. */
function haproxySections(text: string): Map<string, string> {
  const sections = new Map<string, string>();
  let current = '';
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) sections.set((current = line.trim()), '');
    else if (current) sections.set(current, sections.get(current)! + line + '\n');
  }
  return sections;
}

// The protocol's clocks (README): a silent client is pinged after the activity timeout and
// closed when no pong comes within 30 s more. A proxy must not cut an idle-looking socket sooner.
const ACTIVITY_TIMEOUT_S = 30;
const PONG_WAIT_S = 30;
// pusher-js's HTTP fallbacks: a quiet xhr_streaming answer gets a heartbeat line, and a long poll
// is answered at the latest, after 25 s. A proxy must wait well beyond that for the next bytes: a
// busy gateway's heartbeat may come late.
const HTTP_HEARTBEAT_S = 25;
const FALLBACK_PATHS = ['xhr_streaming', 'xhr', 'xhr_send'].map((kind) => `/pusher/app/key/123/abcdefgh/${kind}`);
// The largest xhr_send body the gateway takes with its default frame limit (PUSH_MAX_FRAME_BYTES,
// 64 KiB): a frame escaped in a JSON string grows 6 times at most.
const MAX_SEND_BODY = 64 * 1024 * 6 + 64;

/** nginx size ("1m", "512k", "1000") in bytes. */
const nginxBytes = (t: string) => Number(/^(\d+)/.exec(t)![1]) * ({ k: 1024, m: 1024 * 1024, g: 1024 ** 3 }[t.slice(-1).toLowerCase()] ?? 1);

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
    const r = await runWithFileStdio(
      requireBin('nginx'),
      ['-t', '-p', `${tmp.dir}/`, '-e', join(tmp.dir, 'error.log'), '-c', confPath],
      join(tmp.dir, 'nginx-t.out'),
    );
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

    it(`${file}: the browser client (/push.js, webman's path) goes to the gateways' API port, on the API's public port`, () => {
      const text = code(readRepoFile('deploy', 'nginx', file));
      const servers = nginxServers(text);
      const apiServer = servers.find((s) => /listen (3232|443 ssl);/.test(s))!;
      expect(apiServer).toBeDefined();
      for (const path of ['/push.js', '/plugin/webman/push/push.js']) {
        const loc = nginxLocation(apiServer, path);
        expect(loc?.body, path).toMatch(/proxy_pass http:\/\/\$herald_api;/);
        expect(loc?.body, path).toMatch(/proxy_http_version 1\.1;/);
      }
      // Nothing else of the API port: not a neighbour, not the gateways' own routes.
      for (const path of ['/push.jsx', '/x/push.js', '/plugin/webman/push/other.js', '/metrics', '/ready', '/admin/v1/apps', '/dashboard']) {
        expect(nginxLocation(apiServer, path)?.body ?? '', path).not.toMatch(/proxy_pass/);
      }
    });

    it(`${file}: pusher-js's HTTP fallbacks (/pusher/app/) go to the WebSocket port: POST and OPTIONS only, unbuffered, kept-alive HTTP/1.1, timeouts above the heartbeat, counted with the WebSockets`, () => {
      const text = code(readRepoFile('deploy', 'nginx', file));
      const servers = nginxServers(text);
      const wsServer = servers.find((s) => nginxLocation(s, '/app/key')?.body.includes('$herald_ws'))!;
      expect(wsServer).toBeDefined();
      const wsLimit = /limit_conn (\w+) (\d+);/.exec(nginxLocation(wsServer, '/app/key')!.body)!;
      for (const path of FALLBACK_PATHS) {
        const loc = nginxLocation(wsServer, path)!;
        expect(loc.body, path).toMatch(/proxy_pass http:\/\/\$herald_ws;/);
        expect(loc.body, path).toMatch(/proxy_http_version 1\.1;/);
        // Plain requests: no upgrade headers, and a connection nginx may keep for the next one.
        expect(loc.body, path).toMatch(/proxy_set_header Connection "";/);
        expect(loc.body, path).not.toMatch(/Upgrade/);
        // Each streamed line goes out as it comes.
        expect(loc.body, path).toMatch(/proxy_buffering off;/);
        // What pusher-js sends: POST, and OPTIONS (the preflight of a page on another origin).
        expect(loc.body, path).toMatch(/limit_except POST OPTIONS \{\s*deny all;\s*\}/);
        for (const t of ['proxy_read_timeout', 'proxy_send_timeout']) {
          const v = new RegExp(`${t} (\\S+);`).exec(loc.body);
          expect(v, `${t} in ${path}`).toBeTruthy();
          expect(nginxSeconds(v![1]!), t).toBeGreaterThanOrEqual(2 * HTTP_HEARTBEAT_S);
        }
        // An open receive request counts like a WebSocket: same zone, same number per address.
        expect(loc.body, path).toContain(`limit_conn ${wsLimit[1]} ${wsLimit[2]};`);
        // nginx's default body limit is 1 MB; whatever is set, the gateway's own limit comes first.
        const body = /client_max_body_size (\S+);/.exec(`${loc.body}\n${serverLevel(wsServer)}`);
        expect(body ? nginxBytes(body[1]!) : 1024 * 1024, path).toBeGreaterThanOrEqual(MAX_SEND_BODY);
      }
      // Nothing else under /pusher/ is passed on, and no other server routes the fallbacks.
      for (const path of ['/pusher/other', '/pusher/apps/1/events', '/pusherx/app/key/1/s/xhr']) {
        expect(nginxLocation(wsServer, path)?.body ?? '', path).not.toMatch(/proxy_pass/);
      }
      for (const other of servers.filter((s) => s !== wsServer)) {
        for (const path of FALLBACK_PATHS) expect(nginxLocation(other, path)?.body ?? '', path).not.toMatch(/proxy_pass/);
      }
    });

    it(`${file}: per-address limits, 429 beyond: open WebSockets on /app/, requests on the API and /push.js; generous numbers`, () => {
      const text = code(readRepoFile('deploy', 'nginx', file));
      const conn = /limit_conn_zone \$binary_remote_addr zone=(\w+):\d+m;/.exec(text);
      const req = /limit_req_zone \$binary_remote_addr zone=(\w+):\d+m rate=(\d+)r\/s;/.exec(text);
      expect(conn && req, 'limit_conn_zone and limit_req_zone keyed by $binary_remote_addr').toBeTruthy();
      expect(text).toMatch(/limit_conn_status 429;/);
      expect(text).toMatch(/limit_req_status 429;/);
      // Requests per second per address: an application server's normal rate is far below.
      expect(Number(req![2])).toBeGreaterThanOrEqual(200);
      const servers = nginxServers(text);
      for (const server of servers) {
        const app = nginxLocation(server, '/app/key');
        if (app?.body.includes('$herald_ws')) {
          // Many users share one address behind a NAT: not a handful of sockets.
          const n = new RegExp(`limit_conn ${conn![1]} (\\d+);`).exec(app.body);
          expect(n, 'limit_conn in location /app/').toBeTruthy();
          expect(Number(n![1])).toBeGreaterThanOrEqual(100);
        }
        for (const path of ['/apps/1/events', '/users/u/terminate_connections', '/push.js', '/plugin/webman/push/push.js']) {
          const loc = nginxLocation(server, path);
          if (!loc?.body.includes('$herald_api')) continue;
          const where = `${loc.body}\n${serverLevel(server)}`;
          const burst = new RegExp(`limit_req zone=${req![1]} burst=(\\d+) nodelay;`).exec(where);
          expect(burst, `limit_req for ${path}`).toBeTruthy();
          expect(Number(burst![1]), path).toBeGreaterThanOrEqual(Number(req![2]));
        }
      }
      // Both kinds are in use somewhere (the loop above saw the locations).
      expect(servers.some((s) => nginxLocation(s, '/app/key')?.body.includes('limit_conn'))).toBe(true);
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
    // The browser client on the API frontend, both paths, exactly (path, not path_beg).
    expect(text).toMatch(/acl (\w+) path \/push\.js \/plugin\/webman\/push\/push\.js\n/);
    const tunnel = /timeout tunnel (\d+)(ms|s|m|h)?/.exec(text)!;
    const tunnelS = Number(tunnel[1]) * ({ ms: 0.001, s: 1, m: 60, h: 3600 }[(tunnel[2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'] ?? 0.001);
    expect(tunnelS).toBeGreaterThan(ACTIVITY_TIMEOUT_S + PONG_WAIT_S);
    expect(text).toMatch(/server-template gw \d+ gateway:3131/);
    expect(text).toMatch(/server-template gw \d+ gateway:3232/);
    expect(text.match(/option httpchk GET \/ready/g)).toHaveLength(2);
    expect(text).toMatch(/nameserver \w+ 127\.0\.0\.11:53/);
    // No stickiness to a gateway: stick tables only count per address in the frontends.
    expect(text).not.toMatch(/^\s*(cookie|stick on|stick match|stick store-request|stick store-response|balance source)\b/m);
    for (const [header, body] of haproxySections(text)) {
      if (!header.startsWith('frontend')) expect(body, header).not.toMatch(/stick-table|track-sc/);
    }
  });

  it("pusher-js's HTTP fallbacks (/pusher/app/): let in on the WebSocket frontends (POST and OPTIONS only), to the WebSocket backend, with a server timeout above the heartbeat", () => {
    const raw = readRepoFile('deploy', 'haproxy', 'haproxy.cfg');
    const at = raw.indexOf('# frontend herald_tls_in');
    const sections = haproxySections(code(raw.slice(0, at) + raw.slice(at).replace(/^# ?/gm, '')));
    const ws = sections.get('frontend herald_ws_in')!;
    expect(ws).toMatch(/http-request deny deny_status 404 unless \{ path_beg \/app\/ \/pusher\/app\/ \}/);
    expect(ws).toMatch(/default_backend herald_ws\n/);
    const tls = sections.get('frontend herald_tls_in')!;
    const socketAcl = /acl (\w+) path_beg \/app\/ \/pusher\/app\/\n/.exec(tls);
    expect(socketAcl, 'an acl for both socket paths in the TLS frontend').toBeTruthy();
    expect(tls).toContain(`use_backend herald_ws if ${socketAcl![1]}\n`);
    expect(tls).toMatch(new RegExp(`deny_status 404 unless ${socketAcl![1]} \\|\\|`));
    // Counted with the WebSockets on the TLS port too.
    expect(tls).toContain(`deny_status 429 if ${socketAcl![1]} { sc0_conn_cur gt`);
    for (const frontend of [ws, tls]) {
      expect(frontend).toMatch(/http-request deny deny_status 403 if \{ path_beg \/pusher\/app\/ \} !METH_POST !METH_OPTIONS\n/);
    }
    // A receive request waits for its answer under `timeout server` (the defaults' 30 s is too
    // close to the heartbeat), raised for these paths only.
    const backend = sections.get('backend herald_ws')!;
    const raised = /http-request set-timeout server (\d+)(ms|s|m|h)? if \{ path_beg \/pusher\/app\/ \}/.exec(backend);
    expect(raised, 'set-timeout server for /pusher/app/').toBeTruthy();
    const seconds = Number(raised![1]) * ({ ms: 0.001, s: 1, m: 60, h: 3600 }[(raised![2] ?? 'ms') as 'ms' | 's' | 'm' | 'h'] ?? 0.001);
    expect(seconds).toBeGreaterThanOrEqual(2 * HTTP_HEARTBEAT_S);
  });

  it('per-address limits, 429 beyond: open connections on the WebSocket frontend, request rate on the API frontend; generous numbers', () => {
    const sections = haproxySections(code(readRepoFile('deploy', 'haproxy', 'haproxy.cfg')));
    const ws = sections.get('frontend herald_ws_in')!;
    const api = sections.get('frontend herald_api_in')!;
    expect(ws).toMatch(/stick-table type ipv6 size \w+ expire \w+ store conn_cur\n/);
    expect(ws).toMatch(/http-request track-sc0 src\n/);
    const conns = /http-request deny deny_status 429 if \{ sc0_conn_cur gt (\d+) \}/.exec(ws);
    expect(conns, 'deny 429 on sc0_conn_cur').toBeTruthy();
    // Many users share one address behind a NAT: not a handful of sockets.
    expect(Number(conns![1])).toBeGreaterThanOrEqual(100);
    const table = /stick-table type ipv6 size \w+ expire \w+ store http_req_rate\((\d+)s\)\n/.exec(api);
    expect(table, 'http_req_rate stick-table').toBeTruthy();
    expect(api).toMatch(/http-request track-sc0 src\n/);
    const reqs = /http-request deny deny_status 429 if \{ sc0_http_req_rate gt (\d+) \}/.exec(api);
    expect(reqs, 'deny 429 on sc0_http_req_rate').toBeTruthy();
    // Per second: an application server's normal rate is far below.
    expect(Number(reqs![1]) / Number(table![1])).toBeGreaterThanOrEqual(200);
    // The balancer's own /health is answered before anything is counted.
    expect(api.indexOf('if { path /health }')).toBeLessThan(api.indexOf('track-sc0'));
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

  /** What a role's container gets: .env (env_file), then the service's `environment`, interpolated with .env. */
  const roleEnv = (name: string, dotEnv: Record<string, string>) => {
    const env: Record<string, string> = { ...dotEnv };
    for (const [k, v] of Object.entries(services[name]!.environment!)) env[k] = interpolate(String(v), dotEnv);
    return env;
  };
  const redisPassword = randomBytes(16).toString('hex');

  it('.env.example: Herald refuses its placeholder credentials, and accepts the file once the three app values are generated', () => {
    const text = readRepoFile('.env.example');
    for (const k of ['PUSH_APP_ID', 'PUSH_APP_KEY', 'PUSH_APP_SECRET']) expect(envExample[k]).toMatch(/change-me/);
    expect(text).toMatch(/CHANGE/);
    expect(text).toMatch(/openssl rand -hex 16/);
    expect(text).toMatch(/PUSH_WEBHOOK_URL=/);
    // As compose needs it to start at all (next test), with the example's app values as they are.
    const dotEnv = { ...envExample, REDIS_PASSWORD: redisPassword };
    for (const name of ['gateway', 'webhook-worker']) {
      const refused = configError(roleEnv(name, dotEnv));
      expect(refused?.code, name).toBe('PUSH_ERR_CONFIG');
      expect(refused?.message, name).toMatch(/PUSH_APP_SECRET/);
      const mine = { ...dotEnv, ...generated() };
      const env = roleEnv(name, mine);
      const cfg = loadConfig(env);
      expect(cfg.redis?.topology).toEqual({ kind: 'single', url: `redis://:${redisPassword}@redis:6379` });
      expect(cfg.apps[0]).toMatchObject({ id: mine.PUSH_APP_ID, key: mine.PUSH_APP_KEY });
      // With the webhook URL uncommented too.
      const withHook = { ...env, PUSH_WEBHOOK_URL: /# PUSH_WEBHOOK_URL=(\S+)/.exec(text)![1]! };
      expect(loadConfig(withHook).apps[0]!.webhooks).toHaveLength(1);
    }
  });

  it('Redis requires a password: compose refuses to start without REDIS_PASSWORD, and both Redis and every REDIS_URL use it', () => {
    // .env.example ships it empty: compose stops at interpolation (`${REDIS_PASSWORD:?...}`),
    // whether the variable is empty or missing, before any container starts.
    expect(envExample).toHaveProperty('REDIS_PASSWORD', '');
    const { REDIS_PASSWORD: _unset, ...withoutIt } = envExample;
    for (const vars of [envExample, withoutIt]) expect(() => interpolate(composeText, vars)).toThrow(/^REDIS_PASSWORD: .*openssl rand -hex 16/);

    const ready = parseYaml(interpolate(composeText, { ...envExample, REDIS_PASSWORD: redisPassword }), { merge: true }) as typeof compose;
    const redis = ready.services.redis!;
    const cmd = redis.command as string[];
    expect(cmd[0]).toBe('redis-server');
    expect(cmd[cmd.indexOf('--requirepass') + 1]).toBe(redisPassword);
    expect(cmd[cmd.indexOf('--protected-mode') + 1]).toBe('yes');
    // The healthcheck authenticates (REDISCLI_AUTH) and only PONG passes (redis-cli exits 0 on NOAUTH).
    expect(redis.environment).toEqual({ REDISCLI_AUTH: redisPassword });
    expect(redis.healthcheck!.test).toEqual(['CMD-SHELL', 'redis-cli ping | grep -q PONG']);
    for (const name of ['gateway', 'webhook-worker']) {
      expect(ready.services[name]!.environment!.REDIS_URL, name).toBe(`redis://:${redisPassword}@redis:6379`);
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
  const lines = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .filter((l) => l.trim() && !l.trim().startsWith('#'));
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
      return (await run(process.execPath, args, { env: { PATH: process.env.PATH ?? '', ...env } })).code;
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

describe('Kubernetes manifests (deploy/kubernetes)', () => {
  const dir = repoPath('deploy', 'kubernetes');
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml') || f.endsWith('.yml'));
  const objects = loadManifests();
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
        if (w.metadata.name.startsWith('herald-'))
          expect(
            k.images.map((i) => i.name),
            w.metadata.name,
          ).toContain(c.image);
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

  /** The Secret with generated values in place of the placeholders, as the user must apply it. */
  const mySecret = (): K8sObject => ({
    ...secret,
    stringData: { ...secret.stringData, ...generated(), REDIS_PASSWORD: randomBytes(16).toString('hex') },
  });
  const podEnv = (d: K8sObject, s: K8sObject) =>
    containerEnv(d.spec.template.spec.containers[0], { configMaps: [configMap], secrets: [s], fieldRefs: { 'metadata.name': `${d.metadata.name}-abc` } });

  it('Deployments read the ConfigMap and Secret that exist; Herald refuses the placeholders and accepts generated values', () => {
    for (const d of deployments) {
      for (const c of d.spec.template.spec.containers) {
        for (const from of c.envFrom) {
          if (from.configMapRef) expect(from.configMapRef.name).toBe(configMap.metadata.name);
          if (from.secretRef) expect(from.secretRef.name).toBe(secret.metadata.name);
        }
      }
    }
    for (const k of ['PUSH_APP_ID', 'PUSH_APP_KEY', 'PUSH_APP_SECRET', 'REDIS_PASSWORD']) expect(secret.stringData![k], k).toMatch(/change-me/);
    for (const d of deployments) {
      const refused = configError(podEnv(d, secret));
      expect(refused?.code, d.metadata.name).toBe('PUSH_ERR_CONFIG');
      expect(refused?.message, d.metadata.name).toMatch(/PUSH_APP_SECRET/);
      const cfg = loadConfig(podEnv(d, mySecret()));
      expect(cfg.drainMs).toBe(Number(configMap.data!.PUSH_DRAIN_MS));
      expect(cfg.redis?.topology.kind).toBe('single');
    }
  });

  it("Redis requires the Secret's password: the trial Redis runs with it, and every gateway and worker connects with it", () => {
    // Not in the ConfigMap any more: the URL is built from the Secret in each Deployment.
    expect(configMap.data).not.toHaveProperty('REDIS_URL');
    const redis = workloads.find((w) => w.spec.template.metadata.labels['app.kubernetes.io/component'] === 'redis')!;
    const c = redis.spec.template.spec.containers[0];
    const fromSecret = { valueFrom: { secretKeyRef: { name: secret.metadata.name, key: 'REDIS_PASSWORD' } } };
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'REDIS_PASSWORD', ...fromSecret },
        { name: 'REDISCLI_AUTH', ...fromSecret },
      ]),
    );
    const script = [...(c.command ?? []), ...(c.args ?? [])].join(' ');
    expect(script).toMatch(/exec redis-server .*--protected-mode yes --requirepass "\$REDIS_PASSWORD"/);
    // redis-cli exits 0 on NOAUTH: the probes pass on PONG only (REDISCLI_AUTH authenticates them).
    for (const probe of [c.readinessProbe, c.livenessProbe]) expect(probe.exec.command).toEqual(['sh', '-c', 'redis-cli ping | grep -q PONG']);
    // (redis-auth.test.ts runs this script and these probes.)

    const s = mySecret();
    const redisService = ofKind('Service').find((x) => selects({ matchLabels: x.spec.selector }, redis.spec.template.metadata.labels))!;
    for (const d of deployments) {
      const env = d.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>;
      const at = (n: string) => env.findIndex((e) => e.name === n);
      expect(env[at('REDIS_PASSWORD')], d.metadata.name).toEqual({ name: 'REDIS_PASSWORD', ...fromSecret });
      // Kubernetes expands $(REDIS_PASSWORD) only from entries defined before it.
      expect(at('REDIS_PASSWORD')).toBeLessThan(at('REDIS_URL'));
      expect(env[at('REDIS_URL')]!.value).toBe(`redis://:$(REDIS_PASSWORD)@${redisService.metadata.name}:6379`);
      const cfg = loadConfig(podEnv(d, s));
      expect(cfg.redis?.topology).toEqual({ kind: 'single', url: `redis://:${s.stringData!.REDIS_PASSWORD}@redis:6379` });
      // A Secret without the key: the pod does not start, rather than run without a password.
      const { REDIS_PASSWORD: _gone, ...rest } = s.stringData!;
      expect(() => podEnv(d, { ...s, stringData: rest })).toThrow(/REDIS_PASSWORD/);
    }
  });

  it('NetworkPolicies: Redis only from the gateways and workers, the gateways only from the ingress controller (and Prometheus on 3232), the workers only from this namespace (and Prometheus)', () => {
    const policies = ofKind('NetworkPolicy');
    expect(policies.map((p) => p.file)).toEqual(policies.map(() => 'networkpolicy.yaml'));
    const byComponent = (c: string) => workloads.find((w) => w.spec.template.metadata.labels['app.kubernetes.io/component'] === c)!;
    // Every policy selects exactly one workload's pods, ingress only (egress stays open: webhooks).
    for (const p of policies) {
      expect(
        workloads.filter((w) => selects(p.spec.podSelector, w.spec.template.metadata.labels)),
        p.metadata.name,
      ).toHaveLength(1);
      expect(p.spec.policyTypes, p.metadata.name).toEqual(['Ingress']);
    }
    const NS = 'herald';
    const pod = (w: K8sObject): PodPeer => ({ namespace: NS, podLabels: w.spec.template.metadata.labels });
    const gateway = pod(byComponent('gateway'));
    const worker = pod(byComponent('webhook-worker'));
    const redis = pod(byComponent('redis'));
    const stranger: PodPeer = { namespace: NS, podLabels: { app: 'debug-shell' } };
    const ingress: PodPeer = { namespace: 'ingress-nginx', podLabels: { 'app.kubernetes.io/name': 'ingress-nginx' } };
    const prometheus: PodPeer = { namespace: 'monitoring', podLabels: { 'app.kubernetes.io/name': 'prometheus' } };
    // A pod of another namespace that copies Herald's labels gets nothing.
    const impostor: PodPeer = { namespace: 'default', podLabels: gateway.podLabels };
    const to = (component: string, peer: PodPeer, port: number) =>
      ingressAllowed(policies, NS, { labels: byComponent(component).spec.template.metadata.labels }, peer, port);
    const table: Array<[string, PodPeer, string, number, boolean]> = [
      ['gateway', gateway, 'redis', 6379, true],
      ['webhook-worker', worker, 'redis', 6379, true],
      ['another pod of the namespace', stranger, 'redis', 6379, false],
      ['redis itself', redis, 'redis', 6379, false],
      ['the ingress controller', ingress, 'redis', 6379, false],
      ['a labelled pod of another namespace', impostor, 'redis', 6379, false],
      ['the ingress controller', ingress, 'gateway', 3131, true],
      ['the ingress controller', ingress, 'gateway', 3232, true],
      ['Prometheus', prometheus, 'gateway', 3232, true],
      ['Prometheus', prometheus, 'gateway', 3131, false],
      ['another pod of the namespace', stranger, 'gateway', 3131, false],
      ['another pod of the namespace', stranger, 'gateway', 3232, false],
      ['a labelled pod of another namespace', impostor, 'gateway', 3232, false],
      ['another pod of the namespace', stranger, 'webhook-worker', 3233, true],
      ['Prometheus', prometheus, 'webhook-worker', 3233, true],
      ['the ingress controller', ingress, 'webhook-worker', 3233, false],
      ['a labelled pod of another namespace', impostor, 'webhook-worker', 3233, false],
    ];
    const got = table.map(([who, peer, component, port]) => `${who} -> ${component}:${port} ${to(component, peer, port)}`);
    expect(got).toEqual(table.map(([who, , component, port, allowed]) => `${who} -> ${component}:${port} ${allowed}`));
    // The ports named in the policies are ports the selected containers declare.
    for (const p of policies) {
      const w = workloads.find((x) => selects(p.spec.podSelector, x.spec.template.metadata.labels))!;
      const declared = w.spec.template.spec.containers.flatMap((c: { ports: { containerPort: number }[] }) => c.ports.map((x) => x.containerPort));
      for (const r of p.spec.ingress) for (const port of r.ports) expect(declared, p.metadata.name).toContain(port.port);
    }
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
      pathType: string;
      backend: { service: { name: string; port: { name: string } } };
    }[];
    const to = (path: string) => paths.find((p) => p.path === path)?.backend.service;
    expect(to('/app/')).toEqual({ name: 'herald-gateway', port: { name: 'ws' } });
    // pusher-js's HTTP fallbacks, on the WebSocket port like the WebSockets.
    expect(to('/pusher/app/')).toEqual({ name: 'herald-gateway', port: { name: 'ws' } });
    expect(paths.find((x) => x.path === '/pusher/app/')).toMatchObject({ pathType: 'Prefix' });
    expect(to('/apps/')).toEqual({ name: 'herald-gateway', port: { name: 'api' } });
    expect(to('/users/')).toEqual({ name: 'herald-gateway', port: { name: 'api' } });
    // The browser client, at both paths, exactly (nothing else of the API port is routed).
    for (const p of ['/push.js', '/plugin/webman/push/push.js']) {
      expect(to(p), p).toEqual({ name: 'herald-gateway', port: { name: 'api' } });
      expect(paths.find((x) => x.path === p)).toMatchObject({ pathType: 'Exact' });
    }
    expect(paths.map((p) => p.path).sort()).toEqual(['/app/', '/apps/', '/plugin/webman/push/push.js', '/push.js', '/pusher/app/', '/users/']);
    for (const p of paths) expect(portNames).toContain(p.backend.service.port.name);
    const annotations = ing.metadata.annotations ?? {};
    for (const a of ['proxy-read-timeout', 'proxy-send-timeout']) {
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${a}`]), a).toBeGreaterThan(ACTIVITY_TIMEOUT_S + PONG_WAIT_S);
      expect(Number(annotations[`nginx.ingress.kubernetes.io/${a}`]), a).toBeGreaterThanOrEqual(2 * HTTP_HEARTBEAT_S);
    }
    // Streamed answers of the HTTP fallbacks go out line by line, whatever the controller's default.
    expect(annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    // No affinity: a fallback session's requests may reach any gateway.
    expect(Object.keys(annotations).filter((a) => /affinity|session-cookie|upstream-hash-by/.test(a))).toEqual([]);
  });
});

// ------------------------------------------------------------------------------------------------

describe('every deployment file', () => {
  /** deploy/** plus the compose file and the example environment. */
  const deployFiles = () => {
    const out: string[] = [repoPath('docker-compose.yml'), repoPath('.env.example')];
    const walk = (d: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p);
        else out.push(p);
      }
    };
    walk(repoPath('deploy'));
    return out;
  };

  it("never turns Redis's protected mode off", () => {
    const files = deployFiles();
    expect(files.length).toBeGreaterThan(10);
    for (const f of files) {
      expect(readFileSync(f, 'utf8'), f).not.toMatch(/protected-mode\W+no\b/i);
    }
  });
});

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
