import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { HeraldAdmin } from '../src/admin.js';
import { HeraldApiError, HeraldApiErrorCode } from '../src/errors.js';
import { startFakeAdminServer, type FakeAdminServer } from './support/fake-admin-server.js';

/**
 * HeraldAdmin over HTTP, against a local server that answers as docs/reference/admin-api.md says
 * (test/support/fake-admin-server.ts): what goes on the wire, what each answer becomes, and that
 * the token shows up nowhere but in the Authorization header. test/e2e/admin-cli.e2e.test.ts runs
 * the same client against the real gateway.
 */

const adminFor = (s: FakeAdminServer, token = s.token) => new HeraldAdmin(s.url, token);

/** The promise's rejection, asserted to be a HeraldApiError. */
async function failure(p: Promise<unknown>): Promise<HeraldApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HeraldApiError);
  return err as HeraldApiError;
}

describe('HeraldAdmin against an admin API', () => {
  it('creates, reads, lists, changes, rotates and deletes, one request each as the doc defines it', async () => {
    await using server = await startFakeAdminServer();
    await using admin = adminFor(server);

    const app = await admin.createApp({ id: 'shop', webhooks: [{ url: 'https://h/x' }], maxConnections: 5 });
    expect(app).toMatchObject({ id: 'shop', enabled: true, maxConnections: 5, version: 1, source: 'store' });
    expect(app.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(await admin.getApp('shop')).toEqual(app);

    const list = await admin.listApps();
    expect(list.store).toEqual({ kind: 'memory', readOnly: false });
    expect(list.apps).toHaveLength(1);
    expect(list.apps[0]).not.toHaveProperty('secret');

    const changed = await admin.updateApp('shop', { maxConnections: null, allowedOrigins: ['https://a.example'] }, { ifMatch: 1 });
    expect(changed).toMatchObject({ version: 2, allowedOrigins: ['https://a.example'] });
    expect(changed).not.toHaveProperty('maxConnections');
    expect(await admin.disableApp('shop')).toMatchObject({ enabled: false, version: 3 });
    expect(await admin.enableApp('shop', { ifMatch: 3 })).toMatchObject({ enabled: true, version: 4 });
    const rotated = await admin.rotateSecret('shop', { graceSeconds: 60 });
    expect(rotated.secret).not.toBe(app.secret);
    expect(rotated.previousSecrets).toHaveLength(1);
    expect(await admin.deleteApp('shop', { ifMatch: 5 })).toBeUndefined();

    const entries = await admin.audit({ limit: 3 });
    expect(entries.map((e) => e.action)).toEqual(['delete', 'rotate-secret', 'update']);
    expect(JSON.stringify(await admin.audit())).not.toContain(rotated.secret);

    expect(server.requests.map((r) => `${r.method} ${r.url} ${r.headers['if-match'] ?? '-'} ${r.body || '-'}`)).toEqual([
      'POST /admin/v1/apps - {"id":"shop","webhooks":[{"url":"https://h/x"}],"maxConnections":5}',
      'GET /admin/v1/apps/shop - -',
      'GET /admin/v1/apps - -',
      'PATCH /admin/v1/apps/shop "1" {"maxConnections":null,"allowedOrigins":["https://a.example"]}',
      'PATCH /admin/v1/apps/shop - {"enabled":false}',
      'PATCH /admin/v1/apps/shop "3" {"enabled":true}',
      'POST /admin/v1/apps/shop/rotate-secret - {"graceSeconds":60}',
      'DELETE /admin/v1/apps/shop "5" -',
      'GET /admin/v1/audit?limit=3 - -',
      'GET /admin/v1/audit - -',
    ]);
    for (const r of server.requests) {
      expect(r.headers.authorization).toBe(`Bearer ${server.token}`);
      expect(r.headers['content-type']).toBe(r.body === '' ? undefined : 'application/json');
    }
    // Keep-alive: the ten requests, one after another, shared one connection.
    expect(server.connections()).toBe(1);
  });

  it("turns a validation refusal into status, the server's error_code and every bad field", async () => {
    await using server = await startFakeAdminServer();
    await using admin = adminFor(server);
    const err = await failure(admin.createApp({ maxConnections: -1, webhooks: [{ url: 'ftp://h/x' }] }));
    expect(err).toMatchObject({ code: HeraldApiErrorCode.HttpStatus, status: 400, errorCode: 'PUSH_ERR_INVALID_APP' });
    expect(err.fields.map((f) => f.field)).toEqual(['maxConnections', 'webhooks.0.url']);
    expect(err.message).toMatch(/^POST \/admin\/v1\/apps answered 400/);
  });

  it('reports 404, 405 and 409 with their codes', async () => {
    await using server = await startFakeAdminServer();
    server.seed({ id: 'env', key: 'env-key', secret: 'env-secret-0123456789' }, 'environment');
    await using admin = adminFor(server);
    expect(await failure(admin.getApp('nope'))).toMatchObject({ status: 404, errorCode: 'PUSH_ERR_APP_NOT_FOUND', fields: [] });
    expect(await failure(admin.disableApp('env'))).toMatchObject({ status: 405, errorCode: 'PUSH_ERR_STORE_READ_ONLY' });
    await admin.createApp({ id: 'a' });
    expect(await failure(admin.createApp({ id: 'a' }))).toMatchObject({ status: 409, errorCode: 'PUSH_ERR_APP_EXISTS' });
    expect(await failure(admin.updateApp('a', { enabled: false }, { ifMatch: 7 }))).toMatchObject({
      status: 409,
      errorCode: 'PUSH_ERR_APP_VERSION_CONFLICT',
    });
    // The refused change was not written.
    expect((await admin.getApp('a')).enabled).toBe(true);
  });

  it('never shows the token: not for a wrong one, not in errors, not when inspected', async () => {
    await using server = await startFakeAdminServer();
    const wrong = `wrong-${server.token}`;
    await using admin = adminFor(server, wrong);
    const err = await failure(admin.listApps());
    expect(err).toMatchObject({ status: 401, errorCode: 'PUSH_ERR_ADMIN_UNAUTHORIZED' });
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${wrong}`);
    for (const text of [
      err.message,
      err.body,
      err.stack ?? '',
      inspect(err, { depth: 10, showHidden: true }),
      inspect(admin, { depth: 10, showHidden: true }),
    ]) {
      expect(text).not.toContain(wrong);
    }

    await server[Symbol.asyncDispose]();
    const down = await failure(admin.getApp('a'));
    expect(down.code).toBe(HeraldApiErrorCode.Network);
    expect(inspect(down, { depth: 10, showHidden: true })).not.toContain(wrong);
  });

  it('reads a non-Herald error body as text, and refuses a 2xx body without what was asked for', async () => {
    await using server = await startFakeAdminServer();
    await using admin = adminFor(server);
    server.override = () => ({ status: 502, body: '<html>Bad Gateway</html>' });
    expect(await failure(admin.listApps())).toMatchObject({ status: 502, errorCode: undefined, fields: [], body: '<html>Bad Gateway</html>' });
    server.override = (r) => ({ status: r.method === 'POST' ? 201 : 200, body: '{"ok":true}' });
    expect(await failure(admin.listApps())).toMatchObject({ code: HeraldApiErrorCode.InvalidResponse, status: 200, body: '{"ok":true}' });
    expect(await failure(admin.createApp())).toMatchObject({ code: HeraldApiErrorCode.InvalidResponse, status: 201 });
    expect(await failure(admin.audit())).toMatchObject({ code: HeraldApiErrorCode.InvalidResponse, message: expect.stringMatching(/no entries array/) });
  });

  it('sends nothing for a refused argument', async () => {
    await using server = await startFakeAdminServer();
    await using admin = adminFor(server);
    await failure(admin.updateApp('shop', { secret: 'x' } as never));
    await failure(admin.rotateSecret('shop', { graceSeconds: 604_801 }));
    await failure(admin.getApp('a/../b'));
    expect(server.requests).toEqual([]);
  });
});
