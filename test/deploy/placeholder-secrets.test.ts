/**
 * Every app secret printed in this repository (the example environment, the deployment files, the
 * README and the docs) is public: Herald must refuse to start with it. This scans those files for
 * secret values and feeds each to the real configuration loader.
 */
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '@herald/config';
import { readRepoFile, REPO, repoPath } from '@herald/test-support';

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? filesUnder(p) : [p];
  });
}

/** `PUSH_APP_SECRET=v`, `PUSH_APP_SECRET: v` and JSON `"secret": "v"`, without templates (`<…>`, `$…`, `...`). */
function secretsIn(text: string): string[] {
  const found = [
    ...[...text.matchAll(/PUSH_APP_SECRET\s*[=:]\s*["']?([^\s"'#]+)/g)].map((m) => m[1]!),
    ...[...text.matchAll(/"secret"\s*:\s*"([^"]+)"/g)].map((m) => m[1]!),
  ];
  return found.filter((v) => !/^[<$]|\.\.\.|^PUSH_APP_SECRET$/.test(v));
}

const scanned = [repoPath('.env.example'), repoPath('README.md'), ...filesUnder(repoPath('deploy')), ...filesUnder(repoPath('docs'))];

describe('secrets printed in the repository', () => {
  const values = scanned.flatMap((file) => secretsIn(readRepoFile(relative(REPO, file))).map((value) => ({ file: relative(REPO, file), value })));

  it('the scan finds the shipped placeholders (.env.example, the Kubernetes Secret, the README)', () => {
    const files = new Set(values.map((v) => v.file));
    expect(files).toContain('.env.example');
    expect(files).toContain('deploy/kubernetes/secret.yaml');
    expect(files).toContain('README.md');
  });

  it.each(values.map((v) => [v.file, v.value] as const))('%s: %s is refused as PUSH_APP_SECRET (PUSH_ERR_CONFIG)', (_file, value) => {
    let err: unknown;
    try {
      loadConfig({ PUSH_APP_ID: '1', PUSH_APP_KEY: 'k', PUSH_APP_SECRET: value });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('PUSH_ERR_CONFIG');
    expect((err as Error).message).toMatch(/^PUSH_APP_SECRET (is a placeholder|is shorter than 16)/);
  });
});
