/**
 * Helpers shared by the deployment tests: locating nginx/HAProxy/openssl, running a command,
 * self-signed certificates, and runnable copies of the real files in deploy/ (only what cannot work
 * on a test machine is substituted, and every substitution must match, so a changed file fails
 * loudly). deploy-processes.ts starts the servers from them.
 */
import { execFile, spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { readRepoFile } from './repo.js';

/** Absolute path of a program, also looking in the sbin directories (nginx and haproxy live there). */
export function findBin(name: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin'];
  for (const d of dirs) {
    if (!d) continue;
    const p = join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

/** Like findBin, but a missing program is an error that says what to install. */
export function requireBin(name: string, debianPackage = name): string {
  const p = findBin(name);
  if (!p) throw new Error(`${name} is not installed: apt-get install -y ${debianPackage} (.ci/run installs it on CI)`);
  return p;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Process deadlines below are backstops for a hung command, not measurements (a busy machine starts
 * node or haproxy slowly). A command killed at its deadline is an error, never an exit code: a test
 * expecting a refusal (non-zero) must not pass because the command was killed.
 */
const EXIT_BACKSTOP_MS = 45_000;

export function run(bin: string, args: string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? EXIT_BACKSTOP_MS;
  return new Promise((resolve, reject) => {
    execFile(bin, args, { env: opts.env ?? process.env, timeout: timeoutMs, cwd: opts.cwd }, (err, stdout, stderr) => {
      if (err && (err as { killed?: boolean }).killed) {
        reject(new Error(`${bin} ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${String(stdout)}\n${String(stderr)}`));
        return;
      }
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

/**
 * Runs with stdout and stderr on a regular file instead of Node's pipes (which are sockets on
 * Linux): a config that logs to /dev/stdout, as the container configs do, cannot open a socket
 * through /dev/stdout (ENXIO), but can a file or a FIFO, which is what Docker gives it.
 */
export async function runWithFileStdio(bin: string, args: string[], outFile: string, timeoutMs = EXIT_BACKSTOP_MS): Promise<{ code: number; output: string }> {
  const fd = openSync(outFile, 'w');
  try {
    const child = spawn(bin, args, { stdio: ['ignore', fd, fd] });
    const code = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${bin} ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${readFileSync(outFile, 'utf8')}`));
      }, timeoutMs);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c ?? 1);
      });
      child.once('error', () => {
        clearTimeout(timer);
        resolve(127);
      });
    });
    return { code, output: readFileSync(outFile, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

export function tempDir(label: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `herald-${label}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A self-signed certificate for localhost and 127.0.0.1 (the issue's openssl command, plus a
 * subjectAltName so that clients could verify it by IP).
 */
export async function selfSignedCert(dir: string): Promise<{ cert: string; key: string; pem: string }> {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const r = await run(requireBin('openssl'), [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-subj',
    '/CN=localhost',
    '-addext',
    'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-days',
    '1',
    '-keyout',
    key,
    '-out',
    cert,
  ]);
  if (r.code !== 0) throw new Error(`openssl failed:\n${r.stderr}`);
  // HAProxy wants certificate and key in one file.
  const pem = join(dir, 'cert-and-key.pem');
  writeFileSync(pem, readFileSync(cert, 'utf8') + readFileSync(key, 'utf8'));
  return { cert, key, pem };
}

/**
 * Replaces each `from` (a string, matched literally, or a RegExp with the g flag) and checks it
 * matched exactly `times` times (1 unless given): the real file must still look as the test expects.
 */
export interface Edit {
  from: string | RegExp;
  to: string;
  times?: number;
}

export function substitute(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of edits) {
    const re = typeof e.from === 'string' ? new RegExp(e.from.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'g') : e.from;
    const n = (out.match(re) ?? []).length;
    const want = e.times ?? 1;
    if (n !== want) throw new Error(`expected ${want} occurrence(s) of ${String(e.from)} in the deploy file, found ${n}`);
    out = out.replace(re, () => e.to);
  }
  return out;
}

/** Temp-file paths nginx needs that are compiled in elsewhere (Debian: /var/lib/nginx/*). */
export function nginxTempPaths(dir: string): string {
  return ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((k) => `    ${k}_temp_path ${join(dir, `${k}_temp`)};`).join('\n');
}

/**
 * A runnable copy of a real nginx config from deploy/nginx: the listen ports become 127.0.0.1
 * ports, the gateway variables name upstream blocks of local gateways (a variable that names an
 * upstream block uses it instead of DNS, as the file's comments describe), logs and temp files go
 * to `dir`, and certificate paths to `cert`. Everything else (locations, headers, timeouts) is
 * the file as shipped.
 */
export function runnableNginxConfig(
  file: 'nginx.conf' | 'nginx-tls.conf',
  opts: {
    dir: string;
    listen: Record<string, number>;
    wsBackends: number[];
    apiBackends: number[];
    cert?: { cert: string; key: string };
    /** Further substitutions, e.g. test-sized limits in place of the shipped ones. */
    edits?: Edit[];
  },
): string {
  const text = readRepoFile('deploy', 'nginx', file);
  const upstream = (name: string, ports: number[]) => `    upstream ${name} {\n${ports.map((p) => `        server 127.0.0.1:${p};`).join('\n')}\n    }`;
  const edits: Edit[] = [
    { from: 'error_log stderr warn;', to: `error_log ${join(opts.dir, 'error.log')} info;` },
    { from: 'access_log /dev/stdout herald;', to: `access_log ${join(opts.dir, 'access.log')} herald;` },
    { from: 'set $herald_ws gateway:3131;', to: 'set $herald_ws herald_ws_test;' },
    { from: 'set $herald_api gateway:3232;', to: 'set $herald_api herald_api_test;', times: 1 },
    {
      from: /^http \{$/gm,
      to: ['http {', nginxTempPaths(opts.dir), upstream('herald_ws_test', opts.wsBackends), upstream('herald_api_test', opts.apiBackends)].join('\n'),
    },
  ];
  for (const [listen, port] of Object.entries(opts.listen)) {
    // `listen 3131` -> `listen 127.0.0.1:PORT`; `listen 443 ssl` -> `listen 127.0.0.1:PORT ssl`
    edits.push({ from: `listen ${listen}`, to: `listen 127.0.0.1:${port}${listen.replace(/^\d+/, '')}` });
  }
  if (opts.cert) {
    edits.push({ from: '/etc/nginx/certs/fullchain.pem', to: opts.cert.cert }, { from: '/etc/nginx/certs/privkey.pem', to: opts.cert.key });
  }
  return substitute(text, [...edits, ...(opts.edits ?? [])]);
}

/** One gateway as the balancers see it: its WebSocket and API ports. */
export interface GatewayPorts {
  wsPort: number;
  apiPort: number;
}

/**
 * A runnable copy of deploy/haproxy/haproxy.cfg: the frontends bind 127.0.0.1 ports, each
 * `server-template` (Docker's DNS) becomes one `server` line per local gateway, health-checked on
 * its API port as the template is, and the global maxconn fits the machine's descriptor limit.
 * `tls` uncomments the TLS frontend and binds it too. Everything else (ACLs, limits, checks,
 * timeouts) is the file as shipped.
 */
export function runnableHaproxyConfig(opts: {
  listen: { ws: number; api: number; tls?: number };
  gateways: GatewayPorts[];
  tls?: { pem: string };
  /** A stats socket to add (test-only), for haproxyServers(). */
  statsSocket?: string;
  edits?: Edit[];
}): string {
  let text = readRepoFile('deploy', 'haproxy', 'haproxy.cfg');
  if (opts.tls) {
    const at = text.indexOf('# frontend herald_tls_in');
    if (at < 0) throw new Error('haproxy.cfg has no commented TLS frontend');
    text = text.slice(0, at) + text.slice(at).replace(/^# ?/gm, '');
  }
  const servers = (port: (g: GatewayPorts) => number) => opts.gateways.map((g, i) => `    server gw${i} 127.0.0.1:${port(g)} port ${g.apiPort}`).join('\n');
  const edits: Edit[] = [
    // HAProxy refuses to start when it cannot raise its file descriptor limit to twice maxconn,
    // which a test machine's hard limit may forbid.
    { from: /^ {4}maxconn 100000$/gm, to: '    maxconn 4096' },
    { from: 'bind :3131', to: `bind 127.0.0.1:${opts.listen.ws}` },
    { from: 'bind :3232', to: `bind 127.0.0.1:${opts.listen.api}` },
    { from: 'check port 3232 resolvers docker init-addr none', to: 'check' },
    { from: 'check resolvers docker init-addr none', to: 'check' },
    { from: /^ {4}server-template gw \d+ gateway:3131$/gm, to: servers((g) => g.wsPort) },
    { from: /^ {4}server-template gw \d+ gateway:3232$/gm, to: servers((g) => g.apiPort) },
  ];
  if (opts.statsSocket) edits.push({ from: /^global$/gm, to: `global\n    stats socket ${opts.statsSocket} mode 600 level admin` });
  if (opts.tls) {
    if (opts.listen.tls === undefined) throw new Error('tls needs listen.tls');
    edits.push({ from: 'bind :443 ssl crt /etc/haproxy/certs/herald.pem', to: `bind 127.0.0.1:${opts.listen.tls} ssl crt ${opts.tls.pem}` });
  }
  return substitute(text, [...edits, ...(opts.edits ?? [])]);
}
