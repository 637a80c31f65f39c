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

describe('HeraldApiError of a Herald error body', () => {
  it("reads the server's error_code and fields from a JSON error body", () => {
    const body = JSON.stringify({
      error: 'Invalid app',
      code: 400,
      error_code: 'PUSH_ERR_INVALID_APP',
      fields: [
        { field: 'maxConnections', message: 'Expected number' },
        { field: 'webhooks.0.url', message: 'must be an http:// or https:// URL' },
      ],
    });
    const err = new HeraldApiError(HeraldApiErrorCode.HttpStatus, 'm', 400, body);
    expect(err.errorCode).toBe('PUSH_ERR_INVALID_APP');
    expect(err.fields).toEqual([
      { field: 'maxConnections', message: 'Expected number' },
      { field: 'webhooks.0.url', message: 'must be an http:// or https:// URL' },
    ]);
    expect(Object.isFrozen(err.fields)).toBe(true);
  });

  it('leaves them empty for a body that is not a Herald error, or an error without an HTTP answer', () => {
    for (const body of ['<html>502</html>', '', 'null', '[1]', '{"error_code":5,"fields":"x"}']) {
      const err = new HeraldApiError(HeraldApiErrorCode.HttpStatus, 'm', 502, body);
      expect({ errorCode: err.errorCode, fields: err.fields }, body).toEqual({ errorCode: undefined, fields: [] });
    }
    const network = new HeraldApiError(HeraldApiErrorCode.Network, 'm', 0, '{"error_code":"PUSH_ERR_X"}');
    expect(network.errorCode).toBeUndefined();
  });

  it('keeps the entries of fields that name a field, and nothing else of them', () => {
    const body = JSON.stringify({
      error_code: 'PUSH_ERR_INVALID_APP',
      fields: [{ field: 'a', message: 'm', extra: 1 }, { message: 'no field' }, null, { field: 'b' }],
    });
    expect(new HeraldApiError(HeraldApiErrorCode.HttpStatus, 'm', 400, body).fields).toEqual([
      { field: 'a', message: 'm' },
      { field: 'b', message: '' },
    ]);
  });
});
