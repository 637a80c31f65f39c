import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO, runAppsCli } from '@herald/test-support';
import { startFakeAdminServer, type FakeAdminServer } from './support/fake-admin-server.js';

/**
 * The built CLI (packages/sdk/dist/cli/apps.js: run `npx tsc -b` first) as a child process against
 * a local server answering as the admin API does (test/support/fake-admin-server.ts): its command
 * line, its tables and --json, its exit codes (0 done, 1 refused or unanswered, 2 usage), and that
 * the requests it sends are the ones the doc describes.
 */

const envFor = (s: FakeAdminServer) => ({ HERALD_URL: s.url, PUSH_ADMIN_TOKEN: s.token });

/** The requests the server received, one line each. */
const sent = (s: FakeAdminServer) =>
  s.requests.map((r) => `${r.method} ${r.url}${r.headers['if-match'] ? ` if-match ${r.headers['if-match']}` : ''} ${r.body}`.trim());

describe('herald-apps (npm run apps)', () => {
  it('prints its help with exit 0, warning that a flag token shows in the process list', async () => {
    const run = await runAppsCli(['--help']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    for (const c of ['list', 'create', 'show', 'update', 'disable', 'enable', 'delete', 'rotate-secret', 'audit']) expect(run.stdout).toContain(`  ${c}`);
    expect(run.stdout).toMatch(/HERALD_URL/);
    expect(run.stdout).toMatch(/PUSH_ADMIN_TOKEN/);
    expect(run.stdout).toMatch(/--token[\s\S]*process list/);
  });

  it('is what `npm run apps --` runs', async () => {
    const proc = spawn('npm', ['run', '--silent', 'apps', '--', '--help'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    proc.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await new Promise<number | null>((resolve) => proc.on('close', resolve));
    expect(code).toBe(0);
    expect(out).toMatch(/^Usage: npm run apps -- <command>/);
  });

  it('exits 2 on a usage error and sends nothing', async () => {
    await using server = await startFakeAdminServer();
    const env = envFor(server);
    const cases: [string[], RegExp][] = [
      [[], /a command is required/],
      [['frobnicate'], /unknown command/],
      [['list', '--bogus'], /--bogus/],
      [['show'], /needs an app id/],
      [['delete', 'a'], /needs --yes/],
      [['update', 'a'], /at least one --set/],
      [['update', 'a', '--if-match', 'abc', '--set', 'x=1'], /--if-match/],
      [['rotate-secret', 'a', '--grace-seconds', '604801'], /graceSeconds must be an integer from 0 to 604800/],
      [['show', 'a/b'], /Invalid app id/],
    ];
    for (const [args, message] of cases) {
      const run = await runAppsCli(args, env);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr, args.join(' ')).toMatch(message);
      expect(run.stdout).toBe('');
    }
    expect((await runAppsCli(['list'], { HERALD_URL: server.url })).stderr).toMatch(/no admin token: set PUSH_ADMIN_TOKEN/);
    expect((await runAppsCli(['list', '--url', 'ftp://h'], env)).code).toBe(2);
    expect(server.requests).toEqual([]);
  });

  it('creates an app from flags and prints it as key: value lines', async () => {
    await using server = await startFakeAdminServer();
    const run = await runAppsCli(
      [
        'create',
        '--id',
        'shop',
        '--key',
        'shop-key',
        '--webhook',
        'https://h/one',
        '--webhook',
        'https://h/two',
        '--set',
        'maxConnections=5',
        '--set',
        'clientEvents=false',
        '--set',
        'allowedOrigins=["https://a.example","https://b.example"]',
      ],
      envFor(server),
    );
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(sent(server)).toEqual([
      'POST /admin/v1/apps {"maxConnections":5,"clientEvents":false,"allowedOrigins":["https://a.example","https://b.example"],"webhooks":[{"url":"https://h/one"},{"url":"https://h/two"}],"id":"shop","key":"shop-key"}',
    ]);
    const lines = run.stdout.split('\n');
    // Values start in one column: one space after the longest key ("subscriptionCountEvents:").
    const column = 'subscriptionCountEvents:'.length + 1;
    expect(lines[0]).toBe('id:'.padEnd(column) + 'shop');
    expect(lines[1]).toBe('key:'.padEnd(column) + 'shop-key');
    expect(lines[2]).toMatch(new RegExp(`^secret: {${column - 7}}[0-9a-f]{32}$`));
    expect(run.stdout).toContain(`${'webhooks:'.padEnd(column)}https://h/one\n${' '.repeat(column)}https://h/two\n`);
    expect(run.stdout).toContain(`${'allowedOrigins:'.padEnd(column)}https://a.example, https://b.example\n`);
    expect(run.stdout).toContain(`${'maxConnections:'.padEnd(column)}5\n`);
    expect(run.stdout).toContain(`${'version:'.padEnd(column)}1\n`);
    expect(run.stdout).toMatch(/\nsource: +store\n$/);
  });

  it('lists apps as an aligned table, and as the server JSON with --json', async () => {
    await using server = await startFakeAdminServer();
    server.seed({ id: '1', key: 'default-key', secret: 'default-secret-0123456789' }, 'environment');
    server.seed({ id: 'shop-long-id', key: 'k2', secret: 'shop-secret-0123456789', enabled: false, maxConnections: 25, webhooks: [{ url: 'https://h/x' }] });
    const run = await runAppsCli(['list'], envFor(server));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        'id            key          enabled  webhooks  maxConnections  version  source',
        '1             default-key  true     0         0               1        environment',
        'shop-long-id  k2           false    1         25              1        store',
        '',
        'store: memory',
        '',
      ].join('\n'),
    );
    expect(run.stdout).not.toContain('secret-0123456789');

    const json = await runAppsCli(['list', '--json'], envFor(server));
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout) as { apps: { id: string }[]; store: unknown };
    expect(parsed.apps.map((a) => a.id)).toEqual(['1', 'shop-long-id']);
    expect(parsed.store).toEqual({ kind: 'memory', readOnly: false });
  });

  it('updates with --set, --unset and --if-match; disables, enables, rotates, deletes', async () => {
    await using server = await startFakeAdminServer();
    server.seed({ id: 'shop', key: 'k', secret: 'shop-secret-0123456789', allowedOrigins: ['https://a'] });
    const env = envFor(server);
    const update = await runAppsCli(['update', 'shop', '--set', 'maxConnections=5', '--unset', 'allowedOrigins', '--if-match', '1', '--json'], env);
    expect(update.code).toBe(0);
    expect(JSON.parse(update.stdout)).toMatchObject({ id: 'shop', maxConnections: 5, version: 2 });
    expect(JSON.parse(update.stdout)).not.toHaveProperty('allowedOrigins');
    expect((await runAppsCli(['update', 'shop', '--set', 'webhooks=[{"url":"https://h/x"}]'], env)).code).toBe(0);
    const disabled = await runAppsCli(['disable', 'shop'], env);
    expect(disabled.stdout).toMatch(/^enabled: +false$/m);
    expect((await runAppsCli(['enable', 'shop', '--if-match', '4'], env)).stdout).toMatch(/^enabled: +true$/m);
    const rotated = await runAppsCli(['rotate-secret', 'shop', '--grace-seconds', '0', '--json'], env);
    expect(JSON.parse(rotated.stdout)).toMatchObject({ version: 6, previousSecrets: [{ expiresAt: expect.any(String) }] });
    const deleted = await runAppsCli(['delete', 'shop', '--yes'], env);
    expect(deleted).toMatchObject({ code: 0, stdout: 'deleted app shop\n', stderr: '' });
    // 204 has no JSON: --json prints nothing, and the exit code says it was done.
    server.seed({ id: 'other', key: 'k2', secret: 'other-secret-0123456789' });
    expect(await runAppsCli(['delete', 'other', '--yes', '--json'], env)).toEqual({ code: 0, stdout: '', stderr: '' });

    expect(sent(server)).toEqual([
      'PATCH /admin/v1/apps/shop if-match "1" {"maxConnections":5,"allowedOrigins":null}',
      'PATCH /admin/v1/apps/shop {"webhooks":[{"url":"https://h/x"}]}',
      'PATCH /admin/v1/apps/shop {"enabled":false}',
      'PATCH /admin/v1/apps/shop if-match "4" {"enabled":true}',
      'POST /admin/v1/apps/shop/rotate-secret {"graceSeconds":0}',
      'DELETE /admin/v1/apps/shop',
      'DELETE /admin/v1/apps/other',
    ]);
  });

  it('prints the audit log as a table, newest first, with --limit and --before', async () => {
    await using server = await startFakeAdminServer();
    const env = envFor(server);
    const created = JSON.parse((await runAppsCli(['create', '--id', 'a', '--json'], env)).stdout) as { secret: string };
    await runAppsCli(['update', 'a', '--set', 'maxConnections=5'], env);
    await runAppsCli(['rotate-secret', 'a'], env);
    const run = await runAppsCli(['audit', '--limit', '2'], env);
    expect(run.code).toBe(0);
    const [header, first, second, ...rest] = run.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^seq +at +action +appId +actor +version +changes$/);
    expect(first).toMatch(/^3 +\S+ +rotate-secret +a +127\.0\.0\.1 +3 +\{"secret":"\(changed\)"\}$/);
    expect(second).toMatch(/^2 +\S+ +update +a +127\.0\.0\.1 +2 +\{"maxConnections":5\}$/);
    expect(rest).toEqual([]);
    expect(run.stdout).not.toContain(created.secret);
    const older = await runAppsCli(['audit', '--before', '2', '--json'], env);
    expect((JSON.parse(older.stdout) as { entries: { seq: number }[] }).entries.map((e) => e.seq)).toEqual([1]);
    expect(sent(server).slice(-2)).toEqual(['GET /admin/v1/audit?limit=2', 'GET /admin/v1/audit?before=2']);
  });

  it("exits 1 on a refusal, printing the server's message, error_code and each bad field", async () => {
    await using server = await startFakeAdminServer();
    server.seed({ id: 'shop', key: 'k', secret: 'shop-secret-0123456789' });
    const env = envFor(server);
    const bad = await runAppsCli(['update', 'shop', '--set', 'maxConnections="many"', '--set', 'webhooks=[{"url":"ftp://h"}]'], env);
    expect(bad).toMatchObject({ code: 1, stdout: '' });
    expect(bad.stderr).toBe(
      [
        'herald-apps: refused: 400 PUSH_ERR_INVALID_APP: Invalid app',
        '  maxConnections: Expected a whole number of at least 0',
        '  webhooks.0.url: must be an http:// or https:// URL',
        '',
      ].join('\n'),
    );
    // With --json, the refusal's body also goes to stdout for a script to read.
    const badJson = await runAppsCli(['update', 'shop', '--set', 'clientEvents=1', '--json'], env);
    expect(badJson.code).toBe(1);
    expect(JSON.parse(badJson.stdout)).toMatchObject({ code: 400, error_code: 'PUSH_ERR_INVALID_APP', fields: [{ field: 'clientEvents' }] });

    const missing = await runAppsCli(['show', 'nope'], env);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toBe('herald-apps: refused: 404 PUSH_ERR_APP_NOT_FOUND: No app with id nope\n');
    const conflict = await runAppsCli(['delete', 'shop', '--yes', '--if-match', '9'], env);
    expect(conflict.code).toBe(1);
    expect(conflict.stderr).toMatch(/409 PUSH_ERR_APP_VERSION_CONFLICT/);
    expect((await runAppsCli(['show', 'shop'], env)).code).toBe(0);
  });

  it('exits 1 for a wrong token without printing it, and when nothing answers', async () => {
    await using server = await startFakeAdminServer();
    const wrong = `wrong-${server.token}`;
    const run = await runAppsCli(['list', '--token', wrong], { HERALD_URL: server.url, PUSH_ADMIN_TOKEN: server.token });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/401 PUSH_ERR_ADMIN_UNAUTHORIZED/);
    expect(run.stdout + run.stderr).not.toContain(wrong);
    // --token wins over the environment: the server saw the flag's token.
    expect(server.requests[0]?.headers.authorization).toBe(`Bearer ${wrong}`);

    const url = server.url;
    await server[Symbol.asyncDispose]();
    const down = await runAppsCli(['list'], { HERALD_URL: url, PUSH_ADMIN_TOKEN: 'some-token-0123456789' });
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(/^herald-apps: GET \/admin\/v1\/apps failed: connect ECONNREFUSED/);
  });

  it('takes --url over HERALD_URL', async () => {
    await using server = await startFakeAdminServer();
    // Nothing listens on port 1: the request reaching the server shows that --url was used.
    const run = await runAppsCli(['list', '--url', server.url], { HERALD_URL: 'http://127.0.0.1:1', PUSH_ADMIN_TOKEN: server.token });
    expect(run.code).toBe(0);
    expect(server.requests).toHaveLength(1);
  });
});
