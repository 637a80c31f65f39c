/**
 * The admin API in each kind of deployment a user starts with: without PUSH_ADMIN_TOKEN it does not
 * exist; over an apps file it reads and refuses every change with 405 saying why; embedded, its
 * changes are kept in the local file beside the credentials and survive a restart.
 */
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type NodeHandle, RawClient, startNode } from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
const nodes: NodeHandle[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.kill()));
});
const start = async (env: Record<string, string>) => {
  const n = await startNode({ app: null, env });
  nodes.push(n);
  return n;
};
const call = async (n: NodeHandle, method: string, path: string, body?: unknown, token: string | undefined = TOKEN) => {
  const r = await fetch(`${n.apiUrl}/admin/v1${path}`, {
    method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>) };
};
const dir = () => mkdtempSync(join(tmpdir(), 'herald-admin-'));

describe('the admin API by deployment', () => {
  it('does not exist without PUSH_ADMIN_TOKEN: every route answers 404, with or without a token', async () => {
    const n = await start({ PUSH_CREDENTIALS_FILE: join(dir(), 'credentials.json') });
    for (const [method, path] of [
      ['GET', '/apps'],
      ['POST', '/apps'],
      ['GET', '/apps/1'],
      ['PATCH', '/apps/1'],
      ['DELETE', '/apps/1'],
      ['POST', '/apps/1/rotate-secret'],
      ['GET', '/audit'],
    ] as const) {
      const r = await call(n, method, path, method === 'GET' || method === 'DELETE' ? undefined : {});
      expect([method, path, r.status, r.body?.error_code]).toEqual([method, path, 404, 'PUSH_ERR_NOT_FOUND']);
    }
  });

  it('over PUSH_APPS_FILE: lists the file, and refuses every change with 405 naming the file', async () => {
    const file = join(dir(), 'apps.json');
    const secret = randomBytes(16).toString('hex');
    writeFileSync(file, JSON.stringify([{ id: '41', key: 'file-key', secret, maxConnections: 3 }]));
    const n = await start({ PUSH_APPS_FILE: file, PUSH_ADMIN_TOKEN: TOKEN });
    const list = await call(n, 'GET', '/apps');
    expect(list.status).toBe(200);
    expect(list.body).toMatchObject({ apps: [{ id: '41', key: 'file-key', maxConnections: 3 }], store: { kind: 'file' } });
    expect(JSON.stringify(list.body)).not.toContain(secret);
    for (const [method, path, body] of [
      ['POST', '/apps', {}],
      ['PATCH', '/apps/41', { enabled: false }],
      ['DELETE', '/apps/41', undefined],
      ['POST', '/apps/41/rotate-secret', {}],
    ] as const) {
      const r = await call(n, method, path, body);
      expect([method, r.status, r.body?.error_code]).toEqual([method, 405, 'PUSH_ERR_STORE_READ_ONLY']);
      expect(String(r.body?.error)).toContain(file);
    }
    const c = await RawClient.established({ wsPort: n.wsPort, app: { key: 'file-key' } });
    c.close();
  });

  it('embedded: changes are kept beside the credentials (owner-only) and survive a restart', async () => {
    const d = dir();
    const env = { PUSH_CREDENTIALS_FILE: join(d, 'credentials.json'), PUSH_ADMIN_TOKEN: TOKEN };
    const first = await start(env);
    const created = await call(first, 'POST', '/apps', { maxConnections: 9 });
    expect(created.status).toBe(201);
    const app = created.body as { id: string; key: string };
    const listed = (await call(first, 'GET', '/apps')).body as { apps: { id: string; source: string }[]; store: { kind: string } };
    expect(listed.store.kind).toBe('local');
    expect(listed.apps.map((a) => a.source).sort()).toEqual(['environment', 'store']);
    expect(statSync(join(d, 'apps.json')).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(join(d, 'apps.json'), 'utf8'))).toMatchObject({ apps: [{ doc: { id: app.id, maxConnections: 9 } }] });
    await first.kill('SIGTERM');
    nodes.splice(nodes.indexOf(first), 1);

    const second = await start(env);
    expect((await call(second, 'GET', `/apps/${app.id}`)).body).toMatchObject({ id: app.id, key: app.key, maxConnections: 9, version: 1 });
    const c = await RawClient.established({ wsPort: second.wsPort, app: { key: app.key } });
    c.close();
    // The environment's app is shown but cannot be changed here.
    const envApp = listed.apps.find((a) => a.source === 'environment')!;
    const refused = await call(second, 'PATCH', `/apps/${envApp.id}`, { enabled: false });
    expect([refused.status, refused.body?.error_code]).toEqual([405, 'PUSH_ERR_STORE_READ_ONLY']);
  });
});
