/**
 * The README's configuration table and metric lists are the operator's reference: every variable
 * the code reads and every metric it registers must be there. Read from the sources themselves, so
 * a new variable or metric without its documentation fails here.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const read = (...p: string[]) => readFileSync(join(REPO, ...p), 'utf8');

function sources(): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const name of readdirSync(dir)) {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) walk(p);
      else if (p.endsWith('.ts') && !p.endsWith('.test.ts')) out.push(p);
    }
  };
  // Shipped code only: the test-support workspace reads variables for tests, not for users.
  for (const pkg of readdirSync(join(REPO, 'packages')).filter((p) => p !== 'test-support')) {
    const src = join(REPO, 'packages', pkg, 'src');
    if (statSync(src, { throwIfNoEntry: false })?.isDirectory()) walk(src);
  }
  return out;
}

const readme = read('README.md');
/** The variables named in the first cell of a README table row. */
const tableVariables = new Set(
  readme
    .split('\n')
    .filter((l) => l.startsWith('| `'))
    .flatMap((l) => [...l.split('|')[1]!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!)),
);

describe('README.md matches the code', () => {
  const code = sources().map((f) => ({ file: f, text: readFileSync(f, 'utf8') }));

  it('every environment variable the code reads is in the configuration table', () => {
    const envSchema = read('packages', 'config', 'src', 'config.ts');
    const fromSchema = [...envSchema.matchAll(/^\s{2}((?:PUSH|REDIS)_[A-Z0-9_]+|LOG_LEVEL):/gm)].map((m) => m[1]!);
    const fromProcessEnv = code.flatMap((c) => [...c.text.matchAll(/process\.env\.([A-Z][A-Z0-9_]+)/g)].map((m) => m[1]!));
    const variables = [...new Set([...fromSchema, ...fromProcessEnv])].sort();
    expect(fromSchema.length).toBeGreaterThan(30);
    expect(variables.filter((v) => !tableVariables.has(v))).toEqual([]);
  });

  it('every metric the code registers is named in the README', () => {
    const names = [...new Set(code.flatMap((c) => [...c.text.matchAll(/(?:name:\s*|gauge\(\s*)'(herald_[a-z0-9_]+)'/g)].map((m) => m[1]!)))].sort();
    expect(names.length).toBeGreaterThan(25);
    expect(names.filter((n) => !new RegExp(`\\b${n}\\b`).test(readme))).toEqual([]);
  });
});
