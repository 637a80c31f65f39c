/**
 * `npm start` as a new user tries it: the compiled entry point (`packages/gateway/dist/main.js`, built by
 * `npm test` / `npm install` before vitest runs) in a fresh directory, no Redis, no configuration.
 *
 * Every spawned process is killed in afterEach, whatever happens in the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import Pusher from 'pusher';
import { afterEach, describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  freePort,
  type PusherClient,
  RawClient,
  startAuthServer,
  startWebhookReceiver,
  subscribeAndWait,
  waitForState,
} from '@herald/test-support';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO, 'packages/gateway/dist/main.js');

/**
 * The longest debounce delay Herald accepts (PUSH_WEBHOOK_DELAY_MS): the page reload below must fit in
 * it on a busy machine, and checks that it did.
 */
const DELAY = 3000;
const EARLY_SLACK = 15;
/** Leave → vacated: at least the delay (strict), at most this (generous: a busy machine delivers late). */
const LATE_BOUND = DELAY + 10_000;
/** expect.poll's default timeout (15 s) is the backstop; only the interval is tighter. */
const POLL = { interval: 20 } as const;

// ---------------------------------------------------------------------------------------------------------------
// Process handling
// ---------------------------------------------------------------------------------------------------------------

interface Herald {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<Herald>();
const tmpDirs: string[] = [];

/** The environment of a new user: nothing Herald-specific inherited from the test runner. */
function userEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k.startsWith('PUSH_') || k === 'REDIS_URL' || k === 'LOG_LEVEL') continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

function startHerald(cwd: string, env: Record<string, string>, args: string[] = []): Herald {
  const child = spawn(process.execPath, [MAIN, ...args], { cwd, env: userEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  const h: Herald = { child, stdout: () => out, stderr: () => err, exited };
  running.add(h);
  void exited.then(() => running.delete(h));
  return h;
}

async function stopHard(h: Herald): Promise<void> {
  if (h.child.exitCode === null && h.child.signalCode === null) h.child.kill('SIGKILL');
  await h.exited;
}

function freshDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'herald-e2e-'));
  tmpDirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all([...running].map(stopHard));
  running.clear();
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const describeProcess = (h: Herald) => `stdout:\n${h.stdout()}\nstderr:\n${h.stderr()}`;

// ---------------------------------------------------------------------------------------------------------------
// Banner and readiness
// ---------------------------------------------------------------------------------------------------------------

interface Banner {
  id: string;
  key: string;
  /** Printed only by the start that generated it (3d10f9a): undefined when loaded again. */
  secret: string | undefined;
  wsUrl: string;
  apiUrl: string;
  readyUrl: string;
}

function parseBanner(stdout: string): Banner | undefined {
  const get = (label: string) => new RegExp(`^\\s*${label}\\s+(\\S+)\\s*$`, 'm').exec(stdout)?.[1];
  const b = {
    id: get('app id:'),
    key: get('app key:'),
    secret: get('app secret:'),
    wsUrl: get('WebSocket:'),
    apiUrl: get('HTTP API:'),
    readyUrl: get('readiness:'),
  };
  const { secret, ...required } = b;
  return Object.values(required).every((v) => v !== undefined) ? ({ ...b, secret } as Banner) : undefined;
}

async function readyStatus(apiPort: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${apiPort}/ready`);
    await res.body?.cancel();
    return res.status;
  } catch {
    return 0; // not listening yet
  }
}

/** Polls /ready (never sleeps a fixed time), then reads the banner. */
async function waitUp(h: Herald, apiPort: number): Promise<Banner> {
  await expect
    .poll(
      async () => {
        if (h.child.exitCode !== null) throw new Error(`herald exited with ${h.child.exitCode}\n${describeProcess(h)}`);
        return readyStatus(apiPort);
      },
      { timeout: 30_000, interval: 50 },
    )
    .toBe(200);
  // /ready answers before main() writes the banner
  await expect.poll(() => parseBanner(h.stdout()), POLL).toBeDefined();
  return parseBanner(h.stdout())!;
}

async function ports() {
  const wsPort = await freePort();
  let apiPort = await freePort();
  while (apiPort === wsPort) apiPort = await freePort();
  return { wsPort, apiPort };
}

// ---------------------------------------------------------------------------------------------------------------

describe('npm start on a fresh clone (embedded single node, no Redis, no config)', () => {
  it(
    'generates credentials, prints them with both URLs, saves them; after a restart loads the same ones and prints them without the secret',
    { timeout: 60_000 },
    async () => {
      const dir = freshDir();
      const p1 = await ports();
      const first = startHerald(dir, { PUSH_WS_PORT: String(p1.wsPort), PUSH_API_PORT: String(p1.apiPort) });
      const b1 = await waitUp(first, p1.apiPort);

      expect(b1.id).toMatch(/^\S+$/);
      expect(b1.key).toMatch(/^\S{8,}$/);
      expect(b1.secret).toMatch(/^\S{16,}$/);
      expect(b1.wsUrl).toBe(`ws://127.0.0.1:${p1.wsPort}/app/${b1.key}`);
      expect(b1.apiUrl).toBe(`http://127.0.0.1:${p1.apiPort}/apps/${b1.id}/events`);
      expect(b1.readyUrl).toBe(`http://127.0.0.1:${p1.apiPort}/ready`);
      expect(first.stdout()).toMatch(/generated and saved/);

      const file = join(dir, '.herald', 'credentials.json');
      expect(existsSync(file)).toBe(true);
      const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
      expect(saved).toMatchObject({ id: b1.id, key: b1.key, secret: b1.secret });
      expect(statSync(file).mode & 0o077).toBe(0); // the secret is not world-readable

      // the printed credentials work against the REST API
      const sdk = new Pusher({ appId: b1.id, key: b1.key, secret: b1.secret!, host: '127.0.0.1', port: String(p1.apiPort), useTLS: false });
      const res = await sdk.get({ path: '/channels' });
      expect(res.status).toBe(200);

      first.child.kill('SIGTERM');
      expect(await first.exited).toEqual({ code: 0, signal: null });

      // restart in the same directory (other ports, to be independent of port reuse timing)
      const p2 = await ports();
      const second = startHerald(dir, { PUSH_WS_PORT: String(p2.wsPort), PUSH_API_PORT: String(p2.apiPort) });
      const b2 = await waitUp(second, p2.apiPort);
      expect({ id: b2.id, key: b2.key }).toEqual({ id: b1.id, key: b1.key });
      // the secret is printed only when just generated; a loaded one stays out of the output
      expect(b2.secret).toBeUndefined();
      expect(second.stdout()).not.toContain(b1.secret!);
      expect(second.stdout()).toMatch(/loaded/);
      // the loaded secret is the saved one: the API accepts requests signed with it
      const sdk2 = new Pusher({ appId: b1.id, key: b1.key, secret: b1.secret!, host: '127.0.0.1', port: String(p2.apiPort), useTLS: false });
      expect((await sdk2.get({ path: '/channels' })).status).toBe(200);
      expect(JSON.parse(readFileSync(file, 'utf8'))).toMatchObject({ id: b1.id, key: b1.key, secret: b1.secret });
      // SIGINT (Ctrl-C in a terminal) stops cleanly too
      second.child.kill('SIGINT');
      expect(await second.exited).toEqual({ code: 0, signal: null });
    },
  );

  it('serves pusher-js and the pusher SDK, presence, debounced webhooks, and stops cleanly on SIGTERM', { timeout: 90_000 }, async () => {
    const dir = freshDir();
    const { wsPort, apiPort } = await ports();

    // The receiver validates with an SDK built from the credentials the server prints (known only
    // after start): `sdk` below, which exists before the first webhook can arrive.
    await using rx = await startWebhookReceiver({ webhook: (req) => sdk.webhook(req) });

    const h = startHerald(dir, {
      PUSH_WS_PORT: String(wsPort),
      PUSH_API_PORT: String(apiPort),
      PUSH_WEBHOOK_URL: rx.url,
      PUSH_WEBHOOK_DELAY_MS: String(DELAY),
    });
    const b = await waitUp(h, apiPort);
    const sdk = new Pusher({ appId: b.id, key: b.key, secret: b.secret!, host: '127.0.0.1', port: String(apiPort), useTLS: false });
    expect(JSON.parse(readFileSync(join(dir, '.herald', 'credentials.json'), 'utf8'))).toMatchObject({ id: b.id, key: b.key, secret: b.secret });

    await using auth = await startAuthServer(sdk);
    const target = { wsPort, app: { key: b.key } };
    const clients: PusherClient[] = [];
    const client = (): PusherClient => {
      const c = connectPusherJs(target, { authEndpoint: auth.authEndpoint });
      clients.push(c);
      return c;
    };
    const ofChannel = (channel: string) => rx.events().filter((e) => e.channel === channel);
    const count = (name: string, channel: string) => rx.events().filter((e) => e.name === name && e.channel === channel).length;

    try {
      // --- public + private channel, SDK trigger --------------------------------------------------------------
      const c1 = client();
      const errorCodes: number[] = [];
      c1.connection.bind('error', (e: { data?: { code?: number }; error?: { data?: { code?: number } } }) => {
        const code = e?.data?.code ?? e?.error?.data?.code;
        if (typeof code === 'number') errorCodes.push(code);
      });
      await waitForState(c1, 'connected');
      const pub = await subscribeAndWait(c1, 'user-1');
      const priv = await subscribeAndWait(c1, 'private-user-1');
      const got: unknown[] = [];
      pub.bind('message', (d: unknown) => got.push(['user-1', d]));
      priv.bind('message', (d: unknown) => got.push(['private-user-1', d]));
      await sdk.trigger(['user-1', 'private-user-1'], 'message', { text: 'hello' });
      await expect.poll(() => got.length, POLL).toBe(2);
      expect(got).toContainEqual(['user-1', { text: 'hello' }]);
      expect(got).toContainEqual(['private-user-1', { text: 'hello' }]);

      // The page reloaded below opens its channel now: its channel_occupied comes (after the delay) while
      // the presence webhooks below are awaited.
      const room = 'room-42';
      const tab = client();
      await waitForState(tab, 'connected');
      await subscribeAndWait(tab, room);

      // --- presence: two clients see each other -----------------------------------------------------------------
      const c2 = client();
      await waitForState(c2, 'connected');
      const lobby1 = (await subscribeAndWait(c1, 'presence-lobby')) as unknown as { members: { count: number; each(f: (m: { id: string }) => void): void } };
      const lobby2 = (await subscribeAndWait(c2, 'presence-lobby')) as unknown as typeof lobby1;
      const ids = (ch: typeof lobby1) => {
        const out: string[] = [];
        ch.members.each((m) => out.push(m.id));
        return out.sort();
      };
      const expectedIds = [`u-${c1.connection.socket_id}`, `u-${c2.connection.socket_id}`].sort();
      expect(lobby2.members.count).toBe(2);
      expect(ids(lobby2)).toEqual(expectedIds);
      await expect.poll(() => lobby1.members.count, POLL).toBe(2);
      expect(ids(lobby1)).toEqual(expectedIds);
      await expect.poll(() => rx.events().filter((e) => e.name === 'member_added' && e.channel === 'presence-lobby').length, POLL).toBe(2);

      // --- page reload: leave and come back within the delay → no webhook ---------------------------------------
      await expect.poll(() => count('channel_occupied', room), POLL).toBe(1);
      const reloadAt = Date.now();
      tab.disconnect();
      const reloaded = client();
      await waitForState(reloaded, 'connected');
      await subscribeAndWait(reloaded, room);
      expect(Date.now() - reloadAt, 'the reload took longer than the delay: this run proves nothing').toBeLessThan(DELAY);
      // marker: a channel occupied after the reload; anything the reload caused would be due before it
      await subscribeAndWait(c2, 'e2e-marker');
      await expect.poll(() => count('channel_occupied', 'e2e-marker'), POLL).toBe(1);
      await sleep(500); // not a timer: two POSTs sent one after the other may arrive in either order
      expect(ofChannel(room)).toEqual([{ name: 'channel_occupied', channel: room }]);

      // --- a real leave → channel_vacated once the delay has passed ---------------------------------------------
      const leftAt = Date.now();
      reloaded.disconnect();
      await expect.poll(() => count('channel_vacated', room), POLL).toBe(1);
      const vacatedAt = rx.delivered().find((r) => r.body.events.some((e) => e.name === 'channel_vacated' && e.channel === room))!.at;
      expect(vacatedAt - leftAt).toBeGreaterThanOrEqual(DELAY - EARLY_SLACK);
      expect(vacatedAt - leftAt).toBeLessThanOrEqual(LATE_BOUND);
      expect(rx.delivered().length).toBeGreaterThan(0);
      expect(
        rx.delivered().every((r) => r.valid),
        'every webhook passes the SDK validator with the printed credentials',
      ).toBe(true);
      expect(rx.delivered().every((r) => r.headers['x-pusher-key'] === b.key && r.headers['content-type'] === 'application/json')).toBe(true);

      // --- SIGTERM: clients told to reconnect (4200), pending webhooks flushed, exit 0 --------------------------
      const raw = await RawClient.established(target);
      await raw.subscribe('raw-watch');
      h.child.kill('SIGTERM');
      // backstops only, so that a hang fails with the process output rather than a bare test timeout
      const exit = await Promise.race([h.exited, sleep(30_000).then(() => 'timeout' as const)]);
      expect(exit, describeProcess(h)).toEqual({ code: 0, signal: null });
      expect(await Promise.race([raw.closed, sleep(15_000).then(() => -1)])).toBe(4200);
      expect(raw.events('pusher:error').map((f) => (f.data as { code?: number }).code)).toContain(4200);
      await expect.poll(() => errorCodes).toContain(4200);
      // the channels still occupied at shutdown got their (flushed) channel_vacated before the exit
      for (const ch of ['user-1', 'private-user-1', 'presence-lobby']) expect(count('channel_vacated', ch), ch).toBe(1);
      expect(rx.delivered().every((r) => r.valid)).toBe(true);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('`--role=gateway` without REDIS_URL exits 1 and says REDIS_URL is needed', async () => {
    const dir = freshDir();
    const { wsPort, apiPort } = await ports();
    const h = startHerald(dir, { PUSH_WS_PORT: String(wsPort), PUSH_API_PORT: String(apiPort) }, ['--role=gateway']);
    const exit = await h.exited;
    expect(exit, describeProcess(h)).toEqual({ code: 1, signal: null });
    expect(h.stderr() + h.stdout()).toMatch(/REDIS_URL/);
    expect(await readyStatus(apiPort)).toBe(0); // never listened
  });

  it('a refused `--role=gateway` start leaves no generated embedded credentials behind', async () => {
    // Clustered nodes need configured credentials (ops contract); generating and saving a random secret on
    // the way to refusing to start is a side effect the user did not ask for.
    const dir = freshDir();
    const { wsPort, apiPort } = await ports();
    const h = startHerald(dir, { PUSH_WS_PORT: String(wsPort), PUSH_API_PORT: String(apiPort) }, ['--role=gateway']);
    expect((await h.exited).code).toBe(1);
    expect(existsSync(join(dir, '.herald', 'credentials.json'))).toBe(false);
  });

  it('a PUSH_APPS_FILE that is not JSON exits 1 naming the file and the problem', async () => {
    const dir = freshDir();
    const file = join(dir, 'apps.json');
    writeFileSync(file, '[{ "id": "1", "key": "k", "secret": "0123456789abcdef", }');
    const { wsPort, apiPort } = await ports();
    const h = startHerald(dir, { PUSH_WS_PORT: String(wsPort), PUSH_API_PORT: String(apiPort), PUSH_APPS_FILE: file });
    const exit = await h.exited;
    expect(exit, describeProcess(h)).toEqual({ code: 1, signal: null });
    const msg = h.stderr() + h.stdout();
    expect(msg).toContain(file);
    expect(msg).toMatch(/not valid JSON/i);
    expect(msg).not.toMatch(/fatal|at .*\.js:\d+/); // a message, not a stack trace
    expect(existsSync(join(dir, '.herald'))).toBe(false); // no credentials generated when a file is configured
  });

  it('a PUSH_APPS_FILE app without a secret exits 1 naming the missing field', async () => {
    const dir = freshDir();
    const file = join(dir, 'apps.json');
    writeFileSync(file, JSON.stringify([{ id: '1', key: 'app-key', webhooks: [] }]));
    const { wsPort, apiPort } = await ports();
    const h = startHerald(dir, { PUSH_WS_PORT: String(wsPort), PUSH_API_PORT: String(apiPort), PUSH_APPS_FILE: file });
    const exit = await h.exited;
    expect(exit, describeProcess(h)).toEqual({ code: 1, signal: null });
    const msg = h.stderr() + h.stdout();
    expect(msg).toContain(file);
    expect(msg).toMatch(/secret/);
    expect(msg).not.toMatch(/fatal|at .*\.js:\d+/);
  });
});
