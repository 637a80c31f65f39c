/**
 * The chat example (examples/chat) end to end: a real gateway whose webhooks point at the example's
 * webman-path hook route, the example app itself, and two users in headless Chromium.
 *
 * `UPDATE_SCREENSHOT=1 npx vitest run test/e2e/example-chat.e2e.test.ts` rewrites
 * examples/chat/screenshot.png (Alice's page while Bob types); otherwise nothing is written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, GATEWAY_MAIN, launchChromium, RawClient, startTestGateway, type TestGateway, watchPage } from '@herald/test-support';
// The example is plain JavaScript (no build step); it is started in this process.
import { chatChannel, loadConfig, mayJoin, startChat } from '../../examples/chat/server.mjs';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE = join(REPO, 'examples/chat/server.mjs');
const SCREENSHOT = join(REPO, 'examples/chat/screenshot.png');
const DELAY = 1000; // the gateway's webhook debounce
const WAIT = { timeout: 15_000 };
const POLL = { timeout: 15_000, interval: 50 };
/** A spawned process writing its start-up lines: a backstop, a busy machine starts node slowly. */
const STARTED = { timeout: 30_000, interval: 50 };

interface PresenceEntry {
  at: number;
  status: 'online' | 'offline';
  uid: string;
  name: string | null;
  event: string;
  channel: string;
}

interface Chat {
  url: string;
  close(): Promise<void>;
}

type ChatWindow = Window & {
  chat: {
    state: {
      peer: string | null;
      events: { channel: string; event: string; data: Record<string, unknown> }[];
      chats: Record<string, { subscribed: boolean }>;
    };
    push: { connection: { state: string } };
  };
  CHAT: { me: { uid: string; name: string } };
};

describe('examples/chat', { timeout: 90_000 }, () => {
  let t: TestGateway;
  let chat: Chat;
  let browser: Browser;
  const lines: string[] = [];
  type Name = 'Alice' | 'Bob';
  interface User {
    page: Page;
    context: BrowserContext;
    uid: string;
    errors: ReturnType<typeof watchPage>;
  }
  const users: Partial<Record<Name, User>> = {};
  /** The signed-in user `name`: the first test signs both in, and the later tests use them. */
  function user(name: Name): User {
    const u = users[name];
    if (!u) throw new Error(`${name} is not signed in (the first test signs in Alice and Bob)`);
    return u;
  }

  beforeAll(async () => {
    const port = await freePort();
    const hook = `http://127.0.0.1:${port}/plugin/webman/push/hook`;
    // Two webhooks to the same route: Pusher's names (what PUSH_WEBHOOK_URL sends), and webman/push's
    // names for the `user-` channels, as a migrated webman app would configure it.
    t = await startTestGateway({
      apps: [{ webhooks: [{ url: hook }, { url: hook, format: 'webman', channel_prefix: 'user-', events: ['channel_occupied', 'channel_vacated'] }] }],
      webhookDelayMs: DELAY,
    });
    chat = await startChat(
      {
        host: '127.0.0.1',
        port,
        apiUrl: t.apiUrl,
        wsUrl: `ws://127.0.0.1:${t.wsPort}`,
        app: { id: t.app.id, key: t.app.key, secret: t.app.secret, source: 'test' },
        sessionSecret: 'test-session-secret',
      },
      { log: (line: string) => lines.push(line) },
    );
    browser = await launchChromium();
  }, 60_000);

  afterAll(async () => {
    for (const u of Object.values(users)) expect(u.errors.pageErrors, u.errors.console.join('\n')).toEqual([]);
    await browser?.close();
    await chat?.close();
    await t?.close();
  });

  async function signIn(name: Name): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const page = await context.newPage();
    const errors = watchPage(page);
    await page.goto(chat.url);
    await page.fill('#name', name);
    await Promise.all([page.waitForURL(`${chat.url}/`), page.click('#signin-form button[type=submit]')]);
    await page.waitForFunction(() => (window as unknown as ChatWindow).chat?.push.connection.state === 'connected', null, WAIT);
    const uid = await page.evaluate(() => (window as unknown as ChatWindow).CHAT.me.uid);
    users[name] = { page, context, uid, errors };
    return page;
  }

  const onlineList = (page: Page) => page.$$eval('#online li', (els) => els.map((e) => e.textContent));
  const texts = (page: Page, selector: string) => page.$$eval(selector, (els) => els.map((e) => e.querySelector('.text')?.textContent ?? e.textContent));
  const events = (page: Page) => page.evaluate(() => (window as unknown as ChatWindow).chat.state.events);
  const presenceLog = async (): Promise<PresenceEntry[]> => ((await (await fetch(`${chat.url}/api/presence-log`)).json()) as { log: PresenceEntry[] }).log;

  it('shows both users in each other’s presence list', async () => {
    const alice = await signIn('Alice');
    const bob = await signIn('Bob');
    expect([user('Alice').uid, user('Bob').uid]).toEqual(['1', '2']);
    await expect.poll(() => onlineList(alice), POLL).toEqual(['Alice (you)', 'Bob']);
    await expect.poll(() => onlineList(bob), POLL).toEqual(['Alice', 'Bob (you)']);
  });

  it('delivers a server-triggered `message` and `friendApply` to the right user only', async () => {
    const [a, b] = [user('Alice'), user('Bob')];
    const channel = chatChannel(a.uid, b.uid);
    // Alice opens the conversation: she subscribes to the shared private channel, and the server
    // tells Bob on private-user-2 (chat-open), so that his page subscribes to it as well.
    await a.page.click(`#online li[data-uid="${b.uid}"]`);
    for (const { page } of [a, b]) {
      await page.waitForFunction((name) => (window as unknown as ChatWindow).chat.state.chats[name]?.subscribed === true, channel, WAIT);
    }
    expect(await b.page.evaluate(() => (window as unknown as ChatWindow).chat.state.peer)).toBe(a.uid);

    await a.page.fill('#direct-input', 'Hi Bob! Lunch at noon?');
    await a.page.click('#send-btn');
    await expect.poll(() => texts(b.page, '#direct-messages li'), POLL).toEqual(['Hi Bob! Lunch at noon?']);
    // Alice's page shows it once: from the POST answer, and `sent` (sendToUser to her sign-in) is de-duplicated.
    await expect.poll(async () => (await events(a.page)).filter((e) => e.event === 'sent').length, POLL).toBe(1);
    expect(await texts(a.page, '#direct-messages li')).toEqual(['Hi Bob! Lunch at noon?']);

    await b.page.fill('#direct-input', 'Sure, see you there');
    await b.page.click('#send-btn');
    await expect.poll(() => texts(a.page, '#direct-messages li'), POLL).toEqual(['Hi Bob! Lunch at noon?', 'Sure, see you there']);

    await a.page.click('#friend-btn');
    await expect
      .poll(() => b.page.$$eval('#notices .notice', (els) => els.map((e) => e.firstChild?.textContent)), POLL)
      .toEqual(['Alice wants to be your friend ']);

    const onUserChannel = (list: Awaited<ReturnType<typeof events>>, uid: string) =>
      list.filter((e) => e.channel === `user-${uid}`).map((e) => [e.event, e.data.from_uid ?? e.data.uid, e.data.content ?? null]);
    expect(onUserChannel(await events(b.page), b.uid)).toEqual([
      ['message', a.uid, 'Hi Bob! Lunch at noon?'],
      ['friendApply', a.uid, null],
    ]);
    expect(onUserChannel(await events(a.page), a.uid)).toEqual([['message', b.uid, 'Sure, see you there']]);
  });

  it('delivers a group message to both users', async () => {
    const [a, b] = [user('Alice'), user('Bob')];
    await b.page.fill('#group-input', 'Hello everyone');
    await b.page.press('#group-input', 'Enter');
    await a.page.fill('#group-input', 'Morning!');
    await a.page.press('#group-input', 'Enter');
    for (const { page } of [a, b]) {
      await expect.poll(() => texts(page, '#group-messages li'), POLL).toEqual(['Hello everyone', 'Morning!']);
    }
  });

  it('relays client events on the shared private channel to the other user, never back to the sender', async () => {
    const [a, b] = [user('Alice'), user('Bob')];
    await a.page.type('#direct-input', 'psst', { delay: 20 });
    await expect.poll(() => b.page.textContent('#typing'), POLL).toBe('Alice is typing…');
    await a.page.click('#whisper-btn');
    await expect.poll(() => texts(b.page, '#direct-messages li.note'), POLL).toEqual(['psst']);

    await b.page.fill('#direct-input', 'bring the slides');
    await b.page.click('#whisper-btn');
    await expect.poll(() => texts(a.page, '#direct-messages li.note'), POLL).toEqual(['psst', 'bring the slides']);

    // Every client event a page received came from the other user on the shared channel: none is an echo.
    // The chat page's client events carry the sender's uid and, for notes, the text.
    const clientEvents = async (page: Page) =>
      (await events(page))
        .filter((e) => e.event.startsWith('client-'))
        .map((e): [channel: string, event: string, from: string, text: string | null] => {
          const data = e.data as { from_uid: string; text?: string };
          return [e.channel, e.event, data.from_uid, data.text ?? null];
        });
    const channel = chatChannel(a.uid, b.uid);
    const toBob = await clientEvents(b.page);
    const toAlice = await clientEvents(a.page);
    expect(new Set(toBob.map(([ch, , from]) => `${ch} ${from}`))).toEqual(new Set([`${channel} ${a.uid}`]));
    expect(new Set(toAlice.map(([ch, , from]) => `${ch} ${from}`))).toEqual(new Set([`${channel} ${b.uid}`]));
    expect(toBob).toContainEqual([channel, 'client-typing', a.uid, null]);
    expect(toBob.filter(([, e]) => e === 'client-note')).toEqual([[channel, 'client-note', a.uid, 'psst']]);
    expect(toAlice.filter(([, e]) => e === 'client-note')).toEqual([[channel, 'client-note', b.uid, 'bring the slides']]);
  });

  it('authorises private channels for their users only, and presence with the user’s name', async () => {
    const a = user('Alice');
    const auth = (channel: string) =>
      a.page.evaluate(async (name) => {
        const r = await fetch('/plugin/webman/push/auth', {
          method: 'POST',
          headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
          body: `socket_id=123.456&channel_name=${encodeURIComponent(name)}`,
        });
        return { status: r.status, body: (await r.json()) as { auth?: string; channel_data?: string } };
      }, channel);
    expect((await auth('private-user-1')).status).toBe(200);
    expect((await auth('private-user-2')).status).toBe(403);
    expect((await auth('private-chat-1-2')).status).toBe(200);
    expect((await auth('private-chat-2-3')).status).toBe(403);
    expect((await auth('private-chat-2-1')).status).toBe(403); // only the canonical name
    const presence = await auth('presence-online');
    expect(presence.status).toBe(200);
    expect(JSON.parse(presence.body.channel_data!)).toEqual({ user_id: '1', user_info: { name: 'Alice' } });
    const expected = createHmac('sha256', t.app.secret).update(`123.456:presence-online:${presence.body.channel_data}`).digest('hex');
    expect(presence.body.auth).toBe(`${t.app.key}:${expected}`);
    // Without the session cookie: refused.
    const anon = await fetch(`${chat.url}/plugin/webman/push/auth`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'socket_id=123.456&channel_name=presence-online',
    });
    expect(anon.status).toBe(403);
    expect(mayJoin({ uid: '10', name: 'x' }, 'private-chat-2-10')).toBe(true); // numeric order, not string order
    expect(chatChannel('10', '2')).toBe('private-chat-2-10');
  });

  it('receives signed webhooks and logs both users online', async () => {
    const [a, b] = [user('Alice'), user('Bob')];
    const seen = async () =>
      (await presenceLog())
        .filter((e) => e.status === 'online')
        .map((e) => `${e.name} ${e.event} ${e.channel}`)
        .sort();
    await expect.poll(seen, POLL).toEqual(
      [
        `Alice member_added presence-online`,
        `Alice channel_occupied user-${a.uid}`,
        `Alice channel_added user-${a.uid}`, // the webman-format webhook
        `Bob member_added presence-online`,
        `Bob channel_occupied user-${b.uid}`,
        `Bob channel_added user-${b.uid}`,
      ].sort(),
    );
    expect(lines.some((l) => /online +Alice \(uid 1\) +<- member_added presence-online/.test(l))).toBe(true);
    // A forged webhook is refused.
    const forged = await fetch(`${chat.url}/plugin/webman/push/hook`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-Pusher-Key': t.app.key, 'X-Pusher-Signature': 'f'.repeat(64) },
      body: JSON.stringify({ time_ms: Date.now(), events: [{ name: 'member_removed', channel: 'presence-online', user_id: '1' }] }),
    });
    expect(forged.status).toBe(401);
  });

  it('screenshot: two users chatting (written only with UPDATE_SCREENSHOT=1)', async () => {
    const [a, b] = [user('Alice'), user('Bob')];
    await b.page.type('#direct-input', 'On my way', { delay: 20 });
    await expect.poll(() => a.page.textContent('#typing'), POLL).toBe('Bob is typing…');
    const png = await a.page.screenshot({ ...(process.env.UPDATE_SCREENSHOT === '1' ? { path: SCREENSHOT } : {}) });
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    await b.page.fill('#direct-input', '');
  });

  it('logs a closed page offline once the webhook debounce has passed', async () => {
    const [a, b] = [user('Alice'), user('Bob')];
    const closedAt = Date.now();
    await b.context.close();
    await expect.poll(() => onlineList(a.page), POLL).toEqual(['Alice (you)']); // member_removed reaches Alice at once
    let offline: PresenceEntry | undefined;
    await expect
      .poll(async () => (offline = (await presenceLog()).find((e) => e.status === 'offline' && e.uid === b.uid && e.event === 'member_removed')), POLL)
      .toBeDefined();
    expect(offline!.at - closedAt).toBeGreaterThanOrEqual(DELAY - 50);
    // at least the debounce delay (strict); the upper bound is generous, for a busy machine
    expect(offline!.at - closedAt).toBeLessThan(DELAY + 10_000);
    await expect
      .poll(
        async () =>
          (await presenceLog())
            .filter((e) => e.status === 'offline' && e.uid === b.uid)
            .map((e) => e.event)
            .sort(),
        POLL,
      )
      .toEqual(['channel_removed', 'channel_vacated', 'member_removed']);
    expect((await presenceLog()).some((e) => e.status === 'offline' && e.uid === a.uid)).toBe(false);
    delete users.Bob;
  });
});

describe('examples/chat next to `npm start` (two commands)', { timeout: 60_000 }, () => {
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];

  afterAll(() => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  function run(args: string[], cwd: string, env: Record<string, string>) {
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PUSH_') && !k.startsWith('HERALD_') && k !== 'PORT') base[k] = v;
    const child = spawn(process.execPath, args, { cwd, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(child);
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (out += s));
    return { child, output: () => out };
  }

  it('reads the credentials `npm start` generated, triggers through Herald, and receives PUSH_WEBHOOK_URL webhooks', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'herald-chat-'));
    dirs.push(dir);
    const [wsPort, apiPort, chatPort] = [await freePort(), await freePort(), await freePort()];
    // Terminal 1: `npm start` (the same entry point), nothing configured but ports and the webhook URL.
    const herald = run([GATEWAY_MAIN], dir, {
      PUSH_HOST: '127.0.0.1',
      PUSH_WS_PORT: String(wsPort),
      PUSH_API_PORT: String(apiPort),
      PUSH_WEBHOOK_URL: `http://127.0.0.1:${chatPort}/plugin/webman/push/hook`,
      PUSH_WEBHOOK_DELAY_MS: '1000',
      LOG_LEVEL: 'warn',
    });
    await expect.poll(() => herald.output(), STARTED).toContain('credentials generated and saved');
    const creds = JSON.parse(readFileSync(join(dir, '.herald/credentials.json'), 'utf8')) as { id: string; key: string; secret: string };
    expect(loadConfig({}, dir).app).toMatchObject(creds);

    // Terminal 2: `node examples/chat/server.mjs` (URLs given only because the ports are not the defaults).
    const example = run([EXAMPLE], dir, {
      PORT: String(chatPort),
      HERALD_API_URL: `http://127.0.0.1:${apiPort}`,
      HERALD_WS_URL: `ws://127.0.0.1:${wsPort}`,
    });
    await expect.poll(() => example.output(), STARTED).toContain(`open:        http://127.0.0.1:${chatPort}`);
    expect(example.output()).toContain(`credentials from ${join(dir, '.herald/credentials.json')}`);
    const base = `http://127.0.0.1:${chatPort}`;

    const signIn = async (name: string) => {
      const r = await fetch(`${base}/signin`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: `name=${name}`,
        redirect: 'manual',
      });
      expect(r.status).toBe(303);
      return r.headers.get('set-cookie')!.split(';')[0]!;
    };
    const carol = await signIn('Carol');
    await signIn('Dave'); // uid 2

    // The page loads push.js from Herald and connects to its WebSocket with the generated key.
    const page = await (await fetch(base, { headers: { cookie: carol } })).text();
    expect(page).toContain(`<script src="http://127.0.0.1:${apiPort}/push.js"></script>`);
    expect(page).toContain(`"appKey":"${creds.key}"`);

    // Auth is signed with the generated secret.
    const auth = (await (
      await fetch(`${base}/plugin/webman/push/auth`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded', cookie: carol },
        body: 'socket_id=1.1&channel_name=private-user-1',
      })
    ).json()) as { auth: string };
    expect(auth.auth).toBe(`${creds.key}:${createHmac('sha256', creds.secret).update('1.1:private-user-1').digest('hex')}`);

    // A subscriber of Dave's channel receives Carol's message, triggered by the example through the SDK;
    // the channel becoming occupied reaches the example's hook route as a signed webhook.
    await using dave = await RawClient.established({ wsPort, app: { key: creds.key } });
    await dave.subscribe('user-2');
    const sent = await fetch(`${base}/api/messages`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', cookie: carol },
      body: JSON.stringify({ to: '2', content: 'hello from the example' }),
    });
    expect(sent.status).toBe(200);
    const frame = await dave.waitFor((f) => f.event === 'message');
    expect(JSON.parse(frame.data as string)).toMatchObject({ from_uid: '1', from_name: 'Carol', content: 'hello from the example' });
    await expect.poll(() => example.output(), POLL).toMatch(/online +Dave \(uid 2\) +<- channel_occupied user-2/);
  });
});
