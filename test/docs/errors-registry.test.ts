/**
 * docs/errors.md against the code, both ways: every string code a response, a refusal to start or
 * the worker's port can carry is documented, and every string code documented is one of those.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@herald/config';
import { ApiErrorCode } from '../../packages/gateway/src/api/errors.js';
import { UwsFallbackError } from '../../packages/gateway/src/uws.js';
import { KeyspaceConfigError } from '../../packages/webhook-worker/src/keyspace-source.js';
import { WorkerHttpErrorCode } from '../../packages/webhook-worker/src/worker-http-error.js';

const doc = readFileSync(fileURLToPath(new URL('../../docs/errors.md', import.meta.url)), 'utf8');

const declared = new Set<string>([
  ...Object.values(ApiErrorCode),
  ...Object.values(WorkerHttpErrorCode),
  new ConfigError('x').code,
  new UwsFallbackError('x').code,
  new KeyspaceConfigError('x').code,
]);

describe('docs/errors.md and the error registries', () => {
  it('documents every code the server declares', () => {
    expect([...declared].filter((c) => !doc.includes(`\`${c}\``))).toEqual([]);
  });

  it('documents no code the server does not declare', () => {
    const documented = new Set([...doc.matchAll(/`(PUSH_ERR_[A-Z_]+)`/g)].map((m) => m[1]!));
    expect([...documented].filter((c) => !declared.has(c))).toEqual([]);
  });
});
