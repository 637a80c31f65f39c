import { afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { freePort } from './ports.js';
import { repoPath } from './repo.js';

/** The built entry points (`npm test` runs `tsc -b` before vitest). */
export const GATEWAY_MAIN = repoPath('packages/gateway/dist/main.js');
export const WORKER_MAIN = repoPath('packages/webhook-worker/dist/main.js');

export interface TestApp {
  id: string;
  key: string;
  secret: string;
}

export const randomTestApp = (): TestApp => ({
  id: String(100 + Math.floor(Math.random() * 1e6)),
  key: `k-${randomBytes(6).toString('hex')}`,
  secret: randomBytes(16).toString('hex'),
});

export interface NodeHandle extends AsyncDisposable {
  nodeId: string;
  wsPort: number;
  apiPort: number;
  apiUrl: string;
  proc: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
  waitReady(timeoutMs?: number): Promise<void>;
}

/**
 * Spawns a built gateway as a separate process (`node packages/gateway/dist/main.js --role=gateway`)
 * on free ports and waits until its /ready answers 200.
 */
export async function startNode(opts: {
  /** The default app, passed as PUSH_APP_*; null: none (embedded mode then generates one). */
  app: TestApp | null;
  redisUrl?: string;
  prefix?: string;
  nodeId?: string;
  env?: Record<string, string>;
  wsPort?: number;
  apiPort?: number;
  role?: 'gateway' | 'embedded' | 'worker';
  waitReady?: boolean;
}): Promise<NodeHandle> {
  const wsPort = opts.wsPort ?? (await freePort());
  const apiPort = opts.apiPort ?? (await freePort());
  const nodeId = opts.nodeId ?? `node-${randomBytes(3).toString('hex')}`;
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    PUSH_HOST: '127.0.0.1',
    PUSH_WS_PORT: String(wsPort),
    PUSH_API_PORT: String(apiPort),
    ...(opts.app !== null ? { PUSH_APP_ID: opts.app.id, PUSH_APP_KEY: opts.app.key, PUSH_APP_SECRET: opts.app.secret } : {}),
    PUSH_NODE_ID: nodeId,
    LOG_LEVEL: process.env.TEST_NODE_LOG_LEVEL ?? 'warn',
    ...(opts.redisUrl ? { REDIS_URL: opts.redisUrl } : {}),
    ...(opts.prefix ? { PUSH_REDIS_PREFIX: opts.prefix } : {}),
    ...opts.env,
  };
  const role = opts.role ?? (opts.redisUrl ? 'gateway' : 'embedded');
  if (role === 'worker') env.PUSH_WORKER_PORT = String(apiPort);
  const args = role === 'worker' ? [WORKER_MAIN] : [GATEWAY_MAIN, ...(role === 'gateway' ? ['--role=gateway'] : [])];
  const proc = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  live.add(proc);
  void exited.then(() => live.delete(proc));
  const apiUrl = `http://127.0.0.1:${apiPort}`;
  const handle: NodeHandle = {
    nodeId,
    wsPort,
    apiPort,
    apiUrl,
    proc,
    output: () => out,
    exited,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
    // a backstop for a process that never gets ready: starting node on a busy machine takes seconds
    async waitReady(timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (proc.exitCode !== null) throw new Error(`node ${nodeId} exited with ${proc.exitCode}:\n${out}`);
        try {
          const r = await fetch(`${apiUrl}/ready`);
          if (r.status === 200) return;
        } catch {
          /* not listening yet */
        }
        if (Date.now() > deadline) throw new Error(`node ${nodeId} not ready after ${timeoutMs} ms:\n${out}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async [Symbol.asyncDispose]() {
      await handle.kill('SIGKILL');
    },
  };
  if (opts.waitReady !== false) await handle.waitReady();
  return handle;
}

/**
 * The output (stdout and stderr) of each node, headed by its node id, its last `lines` lines each:
 * for a failure message. How much a node logs is TEST_NODE_LOG_LEVEL's (or the test's LOG_LEVEL).
 */
export function nodeOutputs(nodes: NodeHandle[], lines = 400): string {
  return nodes
    .map((n) => {
      const all = n.output().trimEnd().split('\n');
      const shown = all.slice(-lines);
      const cut = all.length > shown.length ? ` (its last ${shown.length} of ${all.length} lines)` : '';
      return `--- output of ${n.nodeId}${cut}:\n${shown.join('\n')}`;
    })
    .join('\n');
}

const live = new Set<ChildProcess>();
const killLive = () => {
  for (const p of live) p.kill('SIGKILL');
};
// Whatever a test forgot or could not reach (a failure before its try/finally): killed after the
// file, and when the test process exits or is terminated, so no server outlives its test run.
afterAll(killLive);
process.on('exit', killLive);
process.once('SIGTERM', () => {
  killLive();
  process.exit(143);
});
