/**
 * The migration guides' code, run as written (docs/migrate-from-*.md).
 *
 * Every fenced ```js block of the three guides starts with `// tested: <id>`, and some other blocks
 * are preceded by `<!-- tested: <id> -->`. This test reads the blocks out of the Markdown, so the
 * guide text is the tested code and the two cannot drift. A block the test does not know, or a
 * known block gone from a guide, fails the first test.
 *
 * How a block is run:
 * - Node blocks run as ES modules (`node --input-type=module -e`, from the repository root, so
 *   `pusher`, `pusher-js` and `@herald/sdk` resolve). `APP_ID`, `APP_KEY` and `APP_SECRET` are
 *   defined before them. The documented ports are replaced with the live gateway's: 3131
 *   (WebSocket), 3232 (API), 8787 (the app server of a guide).
 * - The push.js block runs in headless Chromium, in a page that includes push.js with the guide's
 *   `<script src>` line.
 * - laravel-echo is not installed, so its `import` line is replaced by a stand-in that does what
 *   Echo's pusher connector does (defaults, `new Pusher(key, options)`, event-name formatting).
 * - JSON apps files go through Herald's own parser.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAppsJson } from '@herald/config';
import { DEFAULT_LIMITS } from '@herald/protocol';
import type { Browser } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { freePort, launchChromium, startAuthServer, startTestGateway, type TestGateway, watchPage } from '@herald/test-support';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const GUIDES = {
  webman: 'docs/migrate-from-webman-push.md',
  pusher: 'docs/migrate-from-pusher.md',
  soketi: 'docs/migrate-from-soketi.md',
} as const;
type Guide = keyof typeof GUIDES;

/** The tested blocks of each guide: `// tested: <id>` for js, `<!-- tested: <id> -->` before others. */
const EXPECTED: Record<Guide, Record<string, string>> = {
  webman: { 'apps-file': 'json', 'node-routes': 'js', 'push-js-include': 'html', 'push-js': 'js', 'herald-sdk': 'js' },
  pusher: { 'pusher-js': 'js', 'laravel-echo': 'js', 'pusher-node-trigger': 'js', 'pusher-node-app': 'js' },
  soketi: { 'apps-file': 'json', 'pusher-js': 'js', 'pusher-node': 'js' },
};

const POLL = { timeout: 15_000, interval: 50 };

// -----------------------------------------------------------------------------------------------
// Reading the guides
// -----------------------------------------------------------------------------------------------

interface Block {
  lang: string;
  code: string;
  id: string | undefined;
  line: number;
}

function readBlocks(file: string): Block[] {
  const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]!);
    if (!open) continue;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^```\s*$/.test(lines[j]!)) body.push(lines[j++]!);
    let id = /^\/\/ tested: ([\w-]+)\s*$/.exec(body[0] ?? '')?.[1];
    if (id === undefined) {
      let k = i - 1;
      while (k >= 0 && lines[k]!.trim() === '') k--;
      id = /^<!-- tested: ([\w-]+) -->$/.exec(lines[k]?.trim() ?? '')?.[1];
    }
    blocks.push({ lang: open[1]!, code: body.join('\n') + '\n', id, line: i + 1 });
    i = j;
  }
  return blocks;
}

function block(guide: Guide, id: string): string {
  const found = readBlocks(GUIDES[guide]).filter((b) => b.id === id);
  if (found.length !== 1) throw new Error(`${GUIDES[guide]}: expected one block tested as ${id}, found ${found.length}`);
  return found[0]!.code;
}

/**
 * The guides' apps files show placeholder secrets (`<app_secret>`, `app-secret`), which the
 * configuration loader refuses on purpose (test/deploy/placeholder-secrets.test.ts): a reader puts
 * in their own secret, and so does this test.
 */
function withOwnSecrets(json: string): string {
  expect(json).toMatch(/"secret":/);
  return json.replace(/"secret":\s*"[^"]*"/g, () => `"secret": "${randomBytes(16).toString('hex')}"`);
}

/** Replaces the documented ports (each must be present, or the block no longer shows what is tested). */
function withPorts(code: string, ports: Record<number, number>): string {
  let out = code;
  for (const [from, to] of Object.entries(ports)) {
    const re = new RegExp(`\\b${from}\\b`, 'g');
    if (!re.test(out)) throw new Error(`the block no longer mentions port ${from}:\n${code}`);
    out = out.replace(re, String(to));
  }
  return out;
}

// -----------------------------------------------------------------------------------------------
// Running Node blocks
// -----------------------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess;
  out(): string;
  exited: Promise<number | null>;
}

const procs: Proc[] = [];

function runNode(code: string, t: TestGateway, prelude = ''): Proc {
  const program = `const APP_ID = process.env.APP_ID, APP_KEY = process.env.APP_KEY, APP_SECRET = process.env.APP_SECRET;\n${prelude}\n${code}`;
  const env: NodeJS.ProcessEnv = { ...process.env, APP_ID: t.app.id, APP_KEY: t.app.key, APP_SECRET: t.app.secret };
  const child = spawn(process.execPath, ['--input-type=module', '-e', program], { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
  // 'close', not 'exit': the output is read after this, and 'exit' can come before its last chunk.
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve(c)));
  const p = { child, out: () => out, exited };
  procs.push(p);
  return p;
}

/** Waits for a block to exit; the deadline is a backstop for a hung block (a busy machine starts node slowly). */
async function exitCode(p: Proc, timeoutMs = 30_000): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the block did not finish in ${timeoutMs} ms:\n${p.out()}`)), timeoutMs);
  });
  try {
    return await Promise.race([p.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

const stopAll = async () => {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await p.exited;
  }
};

/** Waits until `port` answers HTTP (any status). */
async function listening(port: number, p: Proc): Promise<void> {
  await expect
    .poll(async () => {
      if (p.child.exitCode !== null) throw new Error(`the server block exited:\n${p.out()}`);
      return fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
    }, POLL)
    .toBe(true);
}

async function channelNames(t: TestGateway): Promise<string[]> {
  const res = await t.sdk.get({ path: '/channels' });
  return Object.keys(((await res.json()) as { channels: Record<string, unknown> }).channels).sort();
}

const readBody = (req: IncomingMessage) =>
  new Promise<string>((resolve) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => resolve(raw));
  });

afterEach(stopAll);

// -----------------------------------------------------------------------------------------------
// The guides themselves
// -----------------------------------------------------------------------------------------------

describe('migration guides', () => {
  it('mark every JavaScript block as tested, and hold exactly the blocks this test runs', () => {
    for (const [guide, file] of Object.entries(GUIDES) as [Guide, string][]) {
      const blocks = readBlocks(file);
      const untested = blocks.filter((b) => b.lang === 'js' && b.id === undefined).map((b) => `${file}:${b.line}`);
      expect(untested, 'js blocks without `// tested: <id>`').toEqual([]);
      const tested = Object.fromEntries(blocks.filter((b) => b.id !== undefined).map((b) => [b.id, b.lang]));
      expect(tested, file).toEqual(EXPECTED[guide]);
      expect(blocks.filter((b) => b.id !== undefined).length, `${file}: duplicate ids`).toBe(Object.keys(EXPECTED[guide]).length);
    }
  });

  it('name only environment variables Herald reads, and only limits apps have', () => {
    const configSource = readFileSync(join(REPO, 'packages/config/src/config.ts'), 'utf8');
    // a schema entry may continue on the next line (`PUSH_REDIS_PREFIX: z\n    .string()…`)
    const known = new Set([...configSource.matchAll(/^ {2}([A-Z][A-Z0-9_]+): z\s*\./gm)].map((m) => m[1]!));
    expect(known.has('PUSH_WS_PORT') && known.has('REDIS_URL')).toBe(true);
    for (const file of Object.values(GUIDES)) {
      const text = readFileSync(join(REPO, file), 'utf8');
      const named = new Set([...text.matchAll(/\b(?:PUSH|REDIS)_[A-Z0-9_]*/g)].map((m) => m[0]));
      const unknown = [...named].filter((v) => (v.endsWith('_') ? ![...known].some((k) => k.startsWith(v)) : !known.has(v)));
      expect(unknown, `${file} names variables Herald does not read`).toEqual([]);
      const limits = new Set([...text.matchAll(/`(max[A-Z][A-Za-z]*)`/g)].map((m) => m[1]!));
      const appKeys = [...limits].filter((k) => !(k in DEFAULT_LIMITS));
      expect(appKeys, `${file} names limits Herald's apps do not have`).toEqual([]);
    }
  });

  it('give apps files that Herald accepts, with every setting taking effect', () => {
    for (const guide of ['webman', 'soketi'] as const) {
      const text = withOwnSecrets(block(guide, 'apps-file'));
      const raw = JSON.parse(text) as Record<string, unknown>[];
      const apps = parseAppsJson(text, GUIDES[guide]);
      expect(apps).toHaveLength(raw.length);
      raw.forEach((entry, i) => {
        const app = apps[i]!;
        for (const [k, v] of Object.entries(entry)) {
          if (k in DEFAULT_LIMITS) expect(app.limits[k as keyof typeof DEFAULT_LIMITS], `${guide} ${k}`).toBe(v);
          else if (k === 'webhooks') expect(app.webhooks).toHaveLength((v as unknown[]).length);
          else expect((app as unknown as Record<string, unknown>)[k], `${guide} ${k}`).toEqual(v);
        }
      });
    }
    const [webman] = parseAppsJson(withOwnSecrets(block('webman', 'apps-file')));
    expect(webman!.webhooks).toEqual([
      { url: 'http://127.0.0.1:8787/plugin/webman/push/hook', format: 'webman', events: ['channel_occupied', 'channel_vacated'] },
    ]);
    const [soketi] = parseAppsJson(withOwnSecrets(block('soketi', 'apps-file')));
    expect(soketi!.webhooks).toEqual([
      {
        url: 'https://example.com/pusher/webhook',
        events: ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed'],
        channelPrefix: 'beta-',
        headers: { 'X-Webhook-Token': 'change-me' },
      },
    ]);
  });
});

// -----------------------------------------------------------------------------------------------
// docs/migrate-from-webman-push.md
// -----------------------------------------------------------------------------------------------

describe('migrate-from-webman-push.md against a live gateway', { timeout: 60_000 }, () => {
  let t: TestGateway;
  let browser: Browser;
  let web: Server;
  let routesPort: number;
  const authRequests: URLSearchParams[] = [];

  beforeAll(async () => {
    routesPort = await freePort();
    t = await startTestGateway({
      apps: [{ webhooks: [{ url: `http://127.0.0.1:${routesPort}/plugin/webman/push/hook`, format: 'webman' }] }],
      webhookDelayMs: 1000,
    });
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    await browser?.close();
    await new Promise<void>((r) => (web ? web.close(() => r()) : r()));
    await t?.close();
  });

  it('runs the push.js page, the Node auth and hook routes, and the SDK calls that replace the PHP Api', async () => {
    // The webman app's routes (auth + webhook receiver), on the port the webhooks go to.
    const routes = runNode(withPorts(block('webman', 'node-routes'), { 3232: t.apiPort, 8787: routesPort }), t);
    await listening(routesPort, routes);

    // The page's origin: serves the page and passes /plugin/webman/push/auth on to the routes block.
    const html = `<!doctype html>
<html><head><meta charset="utf-8"><title>webman page</title></head><body>
${withPorts(block('webman', 'push-js-include'), { 3232: t.apiPort })}
<script>var APP_KEY = ${JSON.stringify(t.app.key)};</script>
<script>
${withPorts(block('webman', 'push-js'), { 3131: t.wsPort })}
</script>
</body></html>`;
    web = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/') {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(html);
        return;
      }
      if (req.method === 'POST' && req.url === '/plugin/webman/push/auth') {
        void readBody(req).then(async (body) => {
          authRequests.push(new URLSearchParams(body));
          const r = await fetch(`http://127.0.0.1:${routesPort}/plugin/webman/push/auth`, {
            method: 'POST',
            headers: { 'Content-Type': req.headers['content-type'] ?? '' },
            body,
          });
          res.writeHead(r.status, { 'Content-Type': r.headers.get('content-type') ?? 'text/plain' }).end(await r.text());
        });
        return;
      }
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404).end();
    });
    await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;

    const context = await browser.newContext();
    const page = await context.newPage();
    const errors = watchPage(page);
    const logs = () => errors.console.filter((l) => l.startsWith('log: ')).map((l) => l.slice(5));
    await page.goto(origin);
    await expect.poll(logs, POLL).toEqual(expect.arrayContaining(['subscribed private-user-1', 'members 1 1']));
    expect(authRequests.map((r) => r.get('channel_name')).sort()).toEqual(['presence-room', 'private-user-1']);

    // The Herald SDK block: triggers to user-1, then queries.
    const sdk = runNode(withPorts(block('webman', 'herald-sdk'), { 3232: t.apiPort }), t);
    expect(await exitCode(sdk), sdk.out()).toBe(0);
    expect(sdk.out().trim().split('\n')).toEqual([
      'presence-room {"occupied":true,"user_count":1}',
      'users [{"id":"1"}]',
      'channels {"channels":{"user-1":{}}}',
    ]);
    await expect.poll(logs, POLL).toEqual(expect.arrayContaining(['message {"form_uid":2,"content":"你好"}', 'friendApply {"uid":3}']));

    // Webhooks in webman's names reach the routes block, signed.
    await expect.poll(() => routes.out(), POLL).toContain('online user-1\n');
    await context.close();
    await expect.poll(() => routes.out(), POLL).toContain('offline user-1\n');
    expect(errors.pageErrors).toEqual([]);
    expect(errors.console.filter((l) => l.startsWith('warning: ') || l.startsWith('error: '))).toEqual([]);
  });
});

// -----------------------------------------------------------------------------------------------
// docs/migrate-from-pusher.md
// -----------------------------------------------------------------------------------------------

/** Stands in for `import Echo from 'laravel-echo'`: what Echo's pusher connector does with the options. */
const ECHO_STAND_IN = `
class Echo {
  constructor(options) {
    // Echo's defaults, then the caller's options, handed to pusher-js as they are.
    this.options = { auth: { headers: {} }, authEndpoint: '/broadcasting/auth', userAuthentication: { endpoint: '/broadcasting/user-auth', headers: {} }, namespace: 'App.Events', ...options };
    const PusherClass = this.options.Pusher ?? globalThis.Pusher;
    this.connector = { pusher: this.options.client ?? new PusherClass(this.options.key, this.options) };
  }
  format(event) {
    if (event.startsWith('.') || event.startsWith('\\\\')) return event.slice(1);
    return (this.options.namespace ? this.options.namespace + '.' + event : event).replace(/\\./g, '\\\\');
  }
  channel(name) { return this.listenable(name); }
  private(name) { return this.listenable('private-' + name); }
  listenable(name) {
    const channel = this.connector.pusher.subscribe(name);
    const echo = this;
    return { listen(event, cb) { channel.bind(echo.format(event), cb); return this; } };
  }
}
`;

describe('migrate-from-pusher.md against a live gateway', { timeout: 60_000 }, () => {
  let t: TestGateway;
  let appPort: number;

  beforeAll(async () => {
    appPort = await freePort();
    t = await startTestGateway({ apps: [{ webhooks: [{ url: `http://127.0.0.1:${appPort}/pusher/webhook` }] }], webhookDelayMs: 1000 });
  });

  afterAll(async () => {
    await stopAll();
    await t?.close();
  });

  it('runs pusher-js and the `pusher` SDK: auth, sign-in, triggers, queries and webhooks', async () => {
    const app = runNode(withPorts(block('pusher', 'pusher-node-app'), { 3232: t.apiPort, 8787: appPort }), t);
    await listening(appPort, app);
    const client = runNode(withPorts(block('pusher', 'pusher-js'), { 3131: t.wsPort, 8787: appPort }), t);
    await expect.poll(() => channelNames(t), POLL).toEqual(['orders', 'private-user-1']);
    // The client signs in through the app's /pusher/user-auth; wait until a server-to-user event reaches it.
    await expect
      .poll(
        async () => {
          await t.sdk.sendToUser('1', 'notice', { text: 'ready?' });
          return client.out();
        },
        { timeout: 15_000, interval: 250 },
      )
      .toContain('user notice {"text":"ready?"}');

    const trigger = runNode(withPorts(block('pusher', 'pusher-node-trigger'), { 3232: t.apiPort }), t);
    expect(await exitCode(trigger), trigger.out()).toBe(0);
    expect(trigger.out()).toBe('channels {"channels":{"orders":{}}}\n');
    await expect.poll(() => client.out(), POLL).toContain('orders created {"id":42}\n');
    await expect.poll(() => client.out(), POLL).toContain('private-user-1 invoice {"total":9.5}\n');
    await expect.poll(() => client.out(), POLL).toContain('user notice {"text":"hello"}\n');
    // The webhook receiver validated Herald's webhooks with pusher.webhook().isValid().
    await expect.poll(() => app.out(), POLL).toContain('webhook channel_occupied orders\n');
    await expect.poll(() => app.out(), POLL).toContain('webhook channel_occupied private-user-1\n');
  });

  it('runs the Laravel Echo configuration (through pusher-js, as Echo does)', async () => {
    await using auth = await startAuthServer(t.sdk);
    const code = block('pusher', 'laravel-echo');
    expect(code).toContain("import Echo from 'laravel-echo';\n");
    const echo = runNode(
      withPorts(code, { 3131: t.wsPort, 8787: Number(new URL(auth.url).port) }).replace("import Echo from 'laravel-echo';\n", ''),
      t,
      `const window = globalThis;\n${ECHO_STAND_IN}`,
    );
    await expect.poll(() => channelNames(t), POLL).toContain('private-orders.1');
    expect(auth.requests.map((r) => r.get('channel_name'))).toContain('private-orders.1');
    await t.sdk.trigger('private-orders.1', 'App\\Events\\OrderShipmentStatusUpdated', { order: { id: 1, status: 'shipped' } });
    await expect.poll(() => echo.out(), POLL).toContain('OrderShipmentStatusUpdated {"order":{"id":1,"status":"shipped"}}\n');
  });
});

// -----------------------------------------------------------------------------------------------
// docs/migrate-from-soketi.md
// -----------------------------------------------------------------------------------------------

describe('migrate-from-soketi.md against a live gateway', { timeout: 60_000 }, () => {
  let t: TestGateway;

  beforeAll(async () => {
    t = await startTestGateway();
  });

  afterAll(async () => {
    await stopAll();
    await t?.close();
  });

  it('runs the client and server configuration with the new ports', async () => {
    const client = runNode(withPorts(block('soketi', 'pusher-js'), { 3131: t.wsPort }), t);
    await expect.poll(() => channelNames(t), POLL).toEqual(['my-channel']);
    const server = runNode(withPorts(block('soketi', 'pusher-node'), { 3232: t.apiPort }), t);
    expect(await exitCode(server), server.out()).toBe(0);
    expect(server.out()).toBe('my-channel {"occupied":true,"subscription_count":1}\n');
    await expect.poll(() => client.out(), POLL).toContain('my-event {"message":"hello"}\n');
  });
});
