/**
 * Runs scripts/soak.mjs at a small size (10 s of churn, 50 clients) so CI covers it: Redis, two
 * gateway processes and a webhook worker through connect / subscribe / publish / client-event /
 * disconnect churn; RSS, active handles and open fds of every process must come back to their
 * baseline (RSS within 20 % + 10 MB, handles and fds ± 5). Needs the built server (`npx tsc -b`,
 * which `npm test` runs first).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const SCRIPT = fileURLToPath(new URL('../../scripts/soak.mjs', import.meta.url));

interface SoakResult {
  ok: boolean;
  seconds: number;
  clients: number;
  processes: {
    process: string;
    rss_base_mb: number;
    rss_after_mb: number;
    rss_limit_mb: number;
    handles_base: number | null;
    handles_after: number | null;
    fds_base: number | null;
    fds_after: number | null;
  }[];
  churn: Record<string, number>;
  failures: string[];
}

it('soak (10 s, 50 clients): memory, handles and fds of every process return to baseline', { timeout: 180_000 }, async () => {
  // Its own process group: on a timeout the soak and everything it started are killed together.
  const child = spawn(process.execPath, [SCRIPT, '--seconds', '10', '--clients', '50', '--warmup', '8'], { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  // 'close', not 'exit': the output is read after this, and 'exit' can come before its last chunk.
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const killGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, signal);
    } catch {
      /* already gone */
    }
  };
  // Normally about 25 s; a loaded machine gets more (a backstop, not a measurement), then the soak is stopped
  // (it kills what it started on SIGTERM).
  const timer = setTimeout(() => {
    killGroup('SIGTERM');
    setTimeout(() => killGroup('SIGKILL'), 3000).unref();
  }, 165_000);
  let code: number | null;
  try {
    code = await exited;
  } finally {
    clearTimeout(timer);
    killGroup('SIGKILL');
  }
  const line = out.split('\n').find((l) => l.startsWith('SOAK_RESULT '));
  expect(line, out).toBeDefined();
  const result = JSON.parse(line!.slice('SOAK_RESULT '.length)) as SoakResult;
  console.log(
    out
      .split('\n')
      .filter((l) => !l.startsWith('SOAK_RESULT'))
      .join('\n'),
  );
  expect(result.failures).toEqual([]);
  expect(code).toBe(0);
  expect(result.processes.map((p) => p.process).sort()).toEqual(['gateway-0', 'gateway-1', 'redis', 'worker']);
  // The churn really happened.
  expect(result.churn.connects).toBeGreaterThan(200);
  expect(result.churn.disconnects).toBeGreaterThan(150);
  expect(result.churn.publishes).toBeGreaterThan(200);
  expect(result.churn.presenceJoins).toBeGreaterThan(50);
  expect(result.churn.apiErrors).toBe(0);
});
