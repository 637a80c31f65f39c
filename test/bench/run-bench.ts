import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const RUN = fileURLToPath(new URL('../../bench/run.mjs', import.meta.url));

/** One JSON line of `npm run bench`'s output. */
export interface BenchRow {
  server: string;
  [k: string]: unknown;
}

/** Runs `node bench/run.mjs ...args` and collects its JSON lines, its whole output and exit code. */
export function runBench(args: string[]): Promise<{ rows: BenchRow[]; out: string; code: number | null }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [RUN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // 'close', not 'exit': 'exit' can come before the last of stdout has been read.
    p.on('close', (code) => {
      const rows = out
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as BenchRow);
      resolve({ rows, out: `${out}\n${err}`, code });
    });
  });
}
