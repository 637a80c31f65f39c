import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PusherErrorCode } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { ApiErrorCode } from './api/errors.js';
import { ConfigError } from '@herald/config';
import { UwsFallbackError } from './uws.js';

const doc = readFileSync(fileURLToPath(new URL('../../../docs/errors.md', import.meta.url)), 'utf8');

describe('docs/errors.md documents every error code', () => {
  it.each(Object.entries(PusherErrorCode))('pusher code %s (%i)', (name, code) => {
    expect(doc).toMatch(new RegExp(`\\| ${code} \\| \`${name}\` \\|`));
  });
  it.each(Object.values(ApiErrorCode))('API code %s', (code) => {
    expect(doc).toContain(`\`${code}\``);
  });
  it('start-up codes', () => {
    expect(doc).toContain(`\`${new ConfigError('x').code}\``);
    expect(doc).toContain(`\`${new UwsFallbackError('x').code}\``);
  });
});
