import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HeraldApiError, HeraldApiErrorCode } from './errors.js';

describe('error codes', () => {
  it('every code is documented in the package README', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    for (const code of Object.values(HeraldApiErrorCode)) expect(readme, code).toContain(`\`${code}\``);
  });

  it('codes are unique PUSH_ERR_SDK_* strings', () => {
    const codes = Object.values(HeraldApiErrorCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^PUSH_ERR_SDK_[A-Z_]+$/);
  });

  it('HeraldApiError carries code, status, body and cause', () => {
    const cause = new Error('boom');
    const e = new HeraldApiError(HeraldApiErrorCode.HttpStatus, 'm', 401, '{"error":"x"}', { cause });
    expect(e).toBeInstanceOf(Error);
    expect(e).toMatchObject({ name: 'HeraldApiError', code: 'PUSH_ERR_SDK_HTTP_STATUS', status: 401, body: '{"error":"x"}', cause });
    expect(new HeraldApiError(HeraldApiErrorCode.Timeout, 't')).toMatchObject({ status: 0, body: '' });
  });
});
