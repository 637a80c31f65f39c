/**
 * Docker Compose's side of the deployment tests, without a Docker engine: the .env format and the
 * variable interpolation compose applies to docker-compose.yml before anything runs.
 */
import { parse as parseYaml } from 'yaml';
import { readRepoFile } from './repo.js';

/** KEY=VALUE lines of an env file (comments and blank lines skipped). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.trim();
  }
  return out;
}

/**
 * Docker Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}.
 * `:?` refuses an unset or empty variable, `?` an unset one: compose stops with the message, as
 * this throws it.
 */
export function interpolate(value: string, vars: Record<string, string>): string {
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

export const interpolatedNames = (text: string) => [...text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)].map((m) => m[1]!);

export interface ComposeService {
  [key: string]: unknown;
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
}

/** docker-compose.yml as compose sees it once interpolated with `vars` (throws what compose refuses). */
export function loadCompose(vars?: Record<string, string>): { services: Record<string, ComposeService> } {
  const text = readRepoFile('docker-compose.yml');
  return parseYaml(vars === undefined ? text : interpolate(text, vars), { merge: true }) as { services: Record<string, ComposeService> };
}
