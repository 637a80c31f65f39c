/**
 * The admin CLI (`npm run apps`, built to packages/sdk/dist/cli/apps.js) and the SDK's HeraldAdmin
 * against a real embedded gateway process with PUSH_ADMIN_TOKEN set: the whole life of an app from
 * the command line, the server's refusals as the CLI reports them, and an app created through the
 * client serving WebSockets and signed REST requests. Run `npm run build` first.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HeraldAdmin, HeraldApiError, type App, type AppList, type AuditEntry } from '@herald/sdk';
import { RawClient, runAppsCli, sdkFor, startNode, type NodeHandle } from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
let node: NodeHandle;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'herald-admin-cli-'));
  // No PUSH_APP_*: embedded mode generates the default app into the credentials file and keeps the
  // apps made through the admin API in a local store beside it, inside this test's directory.
  node = await startNode({ app: null, env: { PUSH_ADMIN_TOKEN: TOKEN, PUSH_CREDENTIALS_FILE: join(dir, 'credentials.json') } });
});

afterAll(async () => {
  await node?.kill();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) => runAppsCli(args, { HERALD_URL: node.apiUrl, PUSH_ADMIN_TOKEN: TOKEN });

/** Runs the CLI with --json, expecting exit 0, and parses what it printed. */
async function cliJson<T>(...args: string[]): Promise<T> {
  const run = await cli(...args, '--json');
  expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
  return JSON.parse(run.stdout) as T;
}

/** The promise's rejection, asserted to be a HeraldApiError. */
async function failure(p: Promise<unknown>): Promise<HeraldApiError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(HeraldApiError);
  return err as HeraldApiError;
}

/**
 * A connection to `key` established on the node. A change applies on every node "within a second of
 * the answer" (docs/reference/admin-api.md), so until this node has the new app it may refuse the
 * key (4001); each attempt is a fresh connection, polled until one is established.
 */
async function establishedWhenLive(key: string): Promise<RawClient> {
  let live: RawClient | undefined;
  await expect
    .poll(async () => {
      let c: RawClient;
      try {
        c = await RawClient.connect(`ws://127.0.0.1:${node.wsPort}/app/${key}?protocol=7&client=js&version=8.6.0`);
      } catch {
        return 'upgrade refused';
      }
      const outcome = await Promise.race([
        c
          .waitFor((f) => f.event === 'pusher:connection_established')
          .then(
            () => 'established',
            () => 'no connection_established',
          ),
        c.closed.then((code) => `closed with ${code}`),
      ]);
      if (outcome === 'established') live = c;
      else await c[Symbol.asyncDispose]();
      return outcome;
    })
    .toBe('established');
  if (live === undefined) throw new Error('unreachable: the poll passed only with a live connection');
  return live;
}

describe('npm run apps against a gateway', () => {
  it('creates, lists, shows, updates, disables, enables, rotates, audits and deletes an app', async () => {
    const id = `cli-${randomBytes(4).toString('hex')}`;
    const created = await cliJson<App>('create', '--id', id);
    expect(created).toMatchObject({ id, enabled: true, version: 1, source: 'store' });
    expect(created.key).toMatch(/^[0-9a-f]{20}$/);
    expect(created.secret).toMatch(/^[0-9a-f]{32}$/);

    const list = await cli('list');
    expect(list).toMatchObject({ code: 0, stderr: '' });
    const [header, ...rows] = list.stdout.split('\n');
    expect(header).toMatch(/^id +key +enabled +webhooks +maxConnections +version +source$/);
    expect(rows.find((r) => r.startsWith(`${id} `))).toMatch(new RegExp(`^${id} +${created.key} +true +0 +0 +1 +store$`));
    // The default app of embedded mode is listed too, as the environment's.
    expect(rows.some((r) => / environment$/.test(r))).toBe(true);
    expect(list.stdout).not.toContain(created.secret);

    const show = await cli('show', id);
    expect(show.code).toBe(0);
    expect(show.stdout).toMatch(new RegExp(`^key: +${created.key}$`, 'm'));
    expect(show.stdout).toMatch(new RegExp(`^secret: +${created.secret}$`, 'm'));

    expect(await cliJson<App>('update', id, '--set', 'maxConnections=5')).toMatchObject({ maxConnections: 5, version: 2 });
    expect((await cli('list')).stdout).toMatch(new RegExp(`^${id} +${created.key} +true +0 +5 +2 +store$`, 'm'));
    const disabled = await cli('disable', id);
    expect(disabled.code).toBe(0);
    expect(disabled.stdout).toMatch(/^enabled: +false$/m);
    expect(await cliJson<App>('enable', id, '--if-match', '3')).toMatchObject({ enabled: true, version: 4 });

    const rotated = await cliJson<App>('rotate-secret', id, '--grace-seconds', '60');
    expect(rotated.secret).toMatch(/^[0-9a-f]{32}$/);
    expect(rotated.secret).not.toBe(created.secret);
    expect(rotated).toMatchObject({ version: 5, previousSecrets: [{ expiresAt: expect.any(String) }] });
    expect(JSON.stringify(rotated.previousSecrets)).not.toContain(created.secret);

    const { entries } = await cliJson<{ entries: AuditEntry[] }>('audit', '--limit', '50');
    const mine = entries.filter((e) => e.appId === id);
    expect(mine.map((e) => [e.action, e.version])).toEqual([
      ['rotate-secret', 5],
      ['update', 4],
      ['update', 3],
      ['update', 2],
      ['create', 1],
    ]);
    expect(mine[0]?.changes).toEqual({ secret: '(changed)', graceSeconds: 60 });
    expect(mine[3]?.changes).toMatchObject({ maxConnections: 5 });
    const auditText = await cli('audit');
    expect(auditText.code).toBe(0);
    expect(auditText.stdout).toMatch(/^seq +at +action +appId +actor +version +changes$/m);
    for (const secret of [created.secret, rotated.secret]) {
      expect(JSON.stringify(entries)).not.toContain(secret);
      expect(auditText.stdout).not.toContain(secret);
    }

    expect((await cli('delete', id)).code).toBe(2);
    const deleted = await cli('delete', id, '--yes');
    expect(deleted).toMatchObject({ code: 0, stdout: `deleted app ${id}\n` });
    const gone = await cli('show', id);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/refused: 404 PUSH_ERR_APP_NOT_FOUND/);
    const after = await cliJson<{ entries: AuditEntry[] }>('audit', '--limit', '1');
    expect(after.entries[0]).toMatchObject({ action: 'delete', appId: id });
  });

  it("reports the server's refusals with exit 1: bad fields, a wrong token, the environment's app", async () => {
    const bad = await cli('create', '--set', 'maxConnections=-1', '--webhook', 'ftp://example.com/hook');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^herald-apps: refused: 400 PUSH_ERR_INVALID_APP/);
    expect(bad.stderr).toMatch(/^ {2}maxConnections: /m);
    expect(bad.stderr).toMatch(/^ {2}webhooks\.0\.url: /m);

    const wrong = randomBytes(16).toString('hex');
    const unauthorized = await runAppsCli(['list'], { HERALD_URL: node.apiUrl, PUSH_ADMIN_TOKEN: wrong });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/401 PUSH_ERR_ADMIN_UNAUTHORIZED/);
    expect(unauthorized.stdout + unauthorized.stderr).not.toContain(wrong);
    expect(node.output()).not.toContain(wrong);

    const { apps } = await cliJson<AppList>('list');
    const defaultApp = apps.find((a) => a.source === 'environment');
    expect(defaultApp).toBeDefined();
    const readOnly = await cli('update', defaultApp?.id ?? '', '--set', 'maxConnections=1');
    expect(readOnly.code).toBe(1);
    expect(readOnly.stderr).toMatch(/405 PUSH_ERR_STORE_READ_ONLY/);
  });
});

describe('HeraldAdmin against a gateway', () => {
  it('creates an app that serves WebSockets and signed triggers at once, and deleting it closes them with 4001', async () => {
    await using admin = new HeraldAdmin(node.apiUrl, TOKEN);
    const app = await admin.createApp({ clientEvents: false });
    expect(app).toMatchObject({ enabled: true, clientEvents: false, version: 1, source: 'store' });

    await using client = await establishedWhenLive(app.key);
    expect((await client.subscribe('orders')).event).toBe('pusher_internal:subscription_succeeded');
    const res = await sdkFor(app, node).trigger('orders', 'created', { n: 1 });
    expect(res.status).toBe(200);
    const frame = await client.waitFor((f) => f.event === 'created' && f.channel === 'orders');
    expect(JSON.parse(frame.data as string)).toEqual({ n: 1 });

    const exists = await failure(admin.createApp({ id: app.id }));
    expect(exists).toMatchObject({ status: 409, errorCode: 'PUSH_ERR_APP_EXISTS' });
    const invalid = await failure(admin.createApp({ maxConnections: -1, webhooks: [{ url: 'ftp://example.com/hook' }] }));
    expect(invalid).toMatchObject({ status: 400, errorCode: 'PUSH_ERR_INVALID_APP' });
    expect(invalid.fields.map((f) => f.field)).toEqual(expect.arrayContaining(['maxConnections', 'webhooks.0.url']));
    const conflict = await failure(admin.updateApp(app.id, { maxConnections: 10 }, { ifMatch: app.version + 1 }));
    expect(conflict).toMatchObject({ status: 409, errorCode: 'PUSH_ERR_APP_VERSION_CONFLICT' });
    expect((await admin.getApp(app.id)).version).toBe(app.version);

    await admin.deleteApp(app.id, { ifMatch: app.version });
    expect(await client.closed).toBe(4001);
    expect(await failure(admin.getApp(app.id))).toMatchObject({ status: 404, errorCode: 'PUSH_ERR_APP_NOT_FOUND' });
  });
});
