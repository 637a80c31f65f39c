import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HeraldAdmin } from './admin.js';
import {
  prepareAudit,
  prepareCreateApp,
  prepareDeleteApp,
  prepareGetApp,
  prepareListApps,
  prepareRotateSecret,
  prepareUpdateApp,
  type AdminContext,
} from './admin-requests.js';
import type { AppPatch } from './admin-types.js';
import { HeraldApiError, HeraldApiErrorCode } from './errors.js';

/**
 * The admin client without a server: construction, the requests it builds, and what it refuses
 * before sending. test/admin.int.test.ts runs it against an HTTP server.
 */

const TOKEN = 'adm-0f1e2d3c4b5a69788796a5b4c3d2e1f0';
const ctx: AdminContext = { pathPrefix: '', token: TOKEN };
const auth = { authorization: `Bearer ${TOKEN}` };

/** The synchronous error of `fn`, asserted to be a HeraldApiError with `code`. */
function thrown(fn: () => unknown, code: HeraldApiErrorCode): HeraldApiError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HeraldApiError);
    expect((err as HeraldApiError).code).toBe(code);
    return err as HeraldApiError;
  }
  throw new Error(`expected ${code}`);
}

describe('HeraldAdmin construction', () => {
  it('refuses a bad URL, token or timeout with PUSH_ERR_SDK_INVALID_OPTIONS, never quoting the token', () => {
    expect(thrown(() => new HeraldAdmin('not a url', TOKEN), HeraldApiErrorCode.InvalidOptions).message).toMatch(/Invalid base URL/);
    expect(thrown(() => new HeraldAdmin('ftp://h', TOKEN), HeraldApiErrorCode.InvalidOptions).message).toMatch(/Unsupported protocol/);
    expect(thrown(() => new HeraldAdmin('http://u:p@h', TOKEN), HeraldApiErrorCode.InvalidOptions).message).toMatch(/credentials/);
    for (const bad of ['', 'has space-in-it-0123456789', 'line\nbreak-0123456789', 'é-non-ascii-0123456789', undefined, 42]) {
      const err = thrown(() => new HeraldAdmin('http://127.0.0.1:1', bad as string), HeraldApiErrorCode.InvalidOptions);
      expect(err.message).toMatch(/admin token/);
      if (typeof bad === 'string' && bad !== '') expect(err.message).not.toContain(bad.slice(0, 8));
    }
    expect(thrown(() => new HeraldAdmin('http://127.0.0.1:1', TOKEN, { timeoutMs: 0 }), HeraldApiErrorCode.InvalidOptions).message).toMatch(/timeoutMs/);
  });

  it('keeps the token out of util.inspect and JSON.stringify', async () => {
    const admin = new HeraldAdmin('http://127.0.0.1:1', TOKEN);
    expect(inspect(admin, { depth: 10, showHidden: true })).not.toContain(TOKEN);
    expect(JSON.stringify(admin)).not.toContain(TOKEN);
    await admin.close();
  });

  it('rejects (never throws) a refused argument, with status 0, before any connection', async () => {
    // Port 1 refuses connections: a request that got that far would fail with Network instead.
    const admin = new HeraldAdmin('http://127.0.0.1:1', TOKEN);
    let p: Promise<unknown> | undefined;
    expect(() => (p = admin.getApp('../x'))).not.toThrow();
    await expect(p).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument, status: 0 });
    await expect(admin.updateApp('a', {})).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(admin.deleteApp('a', { ifMatch: 0 })).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(admin.rotateSecret('a', { graceSeconds: -1 })).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await expect(admin.audit({ limit: 0 })).rejects.toMatchObject({ code: HeraldApiErrorCode.InvalidArgument });
    await admin.close();
    await expect(admin.listApps()).rejects.toMatchObject({ code: HeraldApiErrorCode.Closed });
  });
});

describe('admin requests', () => {
  it('carry the bearer token on every route, under the base URL path', () => {
    const prefixed = { ...ctx, pathPrefix: '/push' };
    expect(prepareListApps(prefixed)).toEqual({ method: 'GET', signedPath: '/admin/v1/apps', target: '/push/admin/v1/apps', body: undefined, headers: auth });
    expect(prepareGetApp(ctx, 'app-1.x_y')).toEqual({
      method: 'GET',
      signedPath: '/admin/v1/apps/app-1.x_y',
      target: '/admin/v1/apps/app-1.x_y',
      body: undefined,
      headers: auth,
    });
    expect(prepareDeleteApp(ctx, '7')).toMatchObject({ method: 'DELETE', target: '/admin/v1/apps/7', body: undefined, headers: auth });
  });

  it('send a creation and a change as JSON, If-Match as the quoted version', () => {
    expect(prepareCreateApp(ctx)).toMatchObject({ method: 'POST', target: '/admin/v1/apps', body: '{}', headers: auth });
    const fields = { id: 'shop', webhooks: [{ url: 'https://h/x', events: ['channel_occupied' as const] }], maxConnections: 5 };
    expect(JSON.parse(prepareCreateApp(ctx, fields).body!)).toEqual(fields);
    const patch: AppPatch = { maxConnections: null, allowedOrigins: ['https://a.example'], enabled: false };
    const req = prepareUpdateApp(ctx, 'shop', patch, 3);
    expect(req).toMatchObject({ method: 'PATCH', target: '/admin/v1/apps/shop', headers: { ...auth, 'if-match': '"3"' } });
    expect(JSON.parse(req.body!)).toEqual(patch);
    expect(prepareUpdateApp(ctx, 'shop', { enabled: true }).headers).toEqual(auth);
    expect(prepareDeleteApp(ctx, 'shop', 12).headers).toEqual({ ...auth, 'if-match': '"12"' });
  });

  it('send rotate-secret with only the options given, and audit paging in the query', () => {
    expect(prepareRotateSecret(ctx, 'shop')).toMatchObject({ method: 'POST', target: '/admin/v1/apps/shop/rotate-secret', body: '{}', headers: auth });
    const full = prepareRotateSecret(ctx, 'shop', { graceSeconds: 0, secret: 'a-new-secret-of-32-characters-xx', ifMatch: 4 });
    expect(JSON.parse(full.body!)).toEqual({ graceSeconds: 0, secret: 'a-new-secret-of-32-characters-xx' });
    expect(full.headers).toEqual({ ...auth, 'if-match': '"4"' });
    expect(prepareRotateSecret(ctx, 'shop', { graceSeconds: 604_800 }).body).toBe('{"graceSeconds":604800}');
    expect(prepareAudit(ctx)).toMatchObject({ method: 'GET', target: '/admin/v1/audit', signedPath: '/admin/v1/audit' });
    expect(prepareAudit(ctx, { limit: 20, before: 41 }).target).toBe('/admin/v1/audit?limit=20&before=41');
  });

  it('refuse what the API cannot take, naming it', () => {
    const refused = (fn: () => unknown) => thrown(fn, HeraldApiErrorCode.InvalidArgument).message;
    for (const id of ['', 'a/b', 'a b', 'x'.repeat(65), 'ü', 7 as unknown as string]) expect(refused(() => prepareGetApp(ctx, id))).toMatch(/Invalid app id/);
    for (const v of [0, -1, 1.5, '3' as unknown as number, Number.NaN]) expect(refused(() => prepareDeleteApp(ctx, 'a', v))).toMatch(/ifMatch/);
    expect(refused(() => prepareUpdateApp(ctx, 'a', {}))).toMatch(/at least one field/);
    expect(refused(() => prepareUpdateApp(ctx, 'a', null as unknown as AppPatch))).toMatch(/must be an object/);
    expect(refused(() => prepareUpdateApp(ctx, 'a', [] as unknown as AppPatch))).toMatch(/must be an object/);
    expect(refused(() => prepareUpdateApp(ctx, 'a', { key: 'k', secret: 's', enabled: true } as unknown as AppPatch))).toMatch(/cannot set key, secret/);
    expect(refused(() => prepareUpdateApp(ctx, 'a', { version: 2 } as unknown as AppPatch))).toMatch(/cannot set version/);
    expect(refused(() => prepareCreateApp(ctx, { source: 'store' } as never))).toMatch(/cannot set source/);
    for (const g of [-1, 604_801, 1.5]) expect(refused(() => prepareRotateSecret(ctx, 'a', { graceSeconds: g }))).toMatch(/graceSeconds/);
    expect(refused(() => prepareRotateSecret(ctx, 'a', { secret: '' }))).toMatch(/secret/);
    expect(refused(() => prepareAudit(ctx, { before: 0 }))).toMatch(/before/);
    expect(refused(() => prepareAudit(ctx, { limit: 2.5 }))).toMatch(/limit/);
  });
});
