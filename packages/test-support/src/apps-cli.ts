import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { repoPath } from './repo.js';

/** The built admin CLI (`npm run apps`, the `herald-apps` bin); `tsc -b` writes it. */
export const APPS_CLI = repoPath('packages/sdk/dist/cli/apps.js');

export interface CliRun {
  /** The exit code (null when killed by a signal). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the built CLI with `args` and only the environment given (plus PATH), so that a
 * PUSH_ADMIN_TOKEN or HERALD_URL of the developer's shell cannot reach a test. Resolves when it
 * exits; the CLI exits by itself once its one request is answered.
 */
export async function runAppsCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  if (!existsSync(APPS_CLI)) throw new Error(`${APPS_CLI} is missing: run \`npx tsc -b\` (or npm run build) first`);
  const proc = spawn(process.execPath, [APPS_CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  // 'close', not 'exit': the output streams are complete only then.
  return new Promise((resolve, reject) => {
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
