/**
 * The dashboard's API on one embedded gateway: sessions, CSRF, what each page reads, the event
 * creator and the debug stream. The pages themselves are tested in Chromium (test/e2e/dashboard.e2e.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, startTestGateway, type TestGateway } from '@herald/test-support';

const TOKEN = randomBytes(16).toString('hex');
let t: TestGateway;
let cookie: string;
let csrf: string;

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(path: string, init: { method?: string; body?: unknown; csrf?: string | null; cookie?: string | null } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  const c = init.cookie === undefined ? cookie : init.cookie;
  if (c !== null) headers.cookie = c;
  const x = init.csrf === undefined ? csrf : init.csrf;
  if (x !== null && init.method !== undefined && init.method !== 'GET') headers['x-herald-csrf'] = x;
  if (init.body !== undefined) headers['content-type'] = 'application/json';
  const r = await fetch(`${t.apiUrl}${path}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await r.text();
  return { status: r.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>), headers: r.headers };
}

beforeAll(async () => {
  t = await startTestGateway({ adminToken: TOKEN, apps: [{}, { id: 'second' }] });
  const r = await fetch(`${t.apiUrl}/dashboard/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: TOKEN }),
  });
  expect(r.status).toBe(200);
  const setCookie = r.headers.get('set-cookie') ?? '';
  cookie = setCookie.split(';')[0]!;
  csrf = ((await r.json()) as { csrf: string }).csrf;
});

afterAll(async () => {
  await t?.close();
});

describe('without PUSH_ADMIN_TOKEN', () => {
  it('has no dashboard at all', async () => {
    await using off = await startTestGateway();
    for (const path of ['/dashboard', '/dashboard/', '/dashboard/api/overview', '/dashboard/api/session']) {
      const r = await fetch(`${off.apiUrl}${path}`);
      await r.arrayBuffer();
      expect(r.status, path).toBe(404);
    }
  });
});

describe('sessions', () => {
  it('issues an HttpOnly, SameSite=Strict cookie scoped to /dashboard, holding no token', async () => {
    const r = await fetch(`${t.apiUrl}/dashboard/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TOKEN }),
    });
    const set = r.headers.get('set-cookie') ?? '';
    expect(set).toMatch(/^herald_dashboard=v1\./);
    expect(set).toContain('HttpOnly');
    expect(set).toContain('SameSite=Strict');
    expect(set).toContain('Path=/dashboard');
    expect(set).not.toContain(TOKEN);
    expect(r.headers.get('cache-control')).toBe('no-store');
    await r.arrayBuffer();
    // Over HTTPS at the balancer, the cookie is Secure.
    const https = await fetch(`${t.apiUrl}/dashboard/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' },
      body: JSON.stringify({ token: TOKEN }),
    });
    expect(https.headers.get('set-cookie')).toContain('; Secure');
    await https.arrayBuffer();
  });

  it('refuses a wrong, missing or malformed token with the admin error', async () => {
    for (const body of [{ token: 'x'.repeat(32) }, {}, { token: 42 }, { token: `${TOKEN} ` }]) {
      const r = await call('/dashboard/api/session', { method: 'POST', body, cookie: null, csrf: null });
      expect(r.status).toBe(401);
      expect(r.body.error_code).toBe('PUSH_ERR_ADMIN_UNAUTHORIZED');
    }
    const garbage = await fetch(`${t.apiUrl}/dashboard/api/session`, { method: 'POST', body: '{nope' });
    expect(garbage.status).toBe(400);
    await garbage.arrayBuffer();
  });

  it('needs the cookie for the API, and the CSRF header for changes', async () => {
    const out = await call('/dashboard/api/overview', { cookie: null });
    expect(out.status).toBe(401);
    expect(out.body.error_code).toBe('PUSH_ERR_DASHBOARD_SIGNED_OUT');
    const tampered = await call('/dashboard/api/overview', { cookie: `${cookie.slice(0, -2)}xx` });
    expect(tampered.status).toBe(401);
    const noCsrf = await call(`/dashboard/api/apps/${t.app.id}/events`, { method: 'POST', body: { channels: ['c'], name: 'e', data: '1' }, csrf: null });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.body.error_code).toBe('PUSH_ERR_DASHBOARD_CSRF');
    const wrongCsrf = await call(`/dashboard/api/apps/${t.app.id}/events`, {
      method: 'POST',
      body: { channels: ['c'], name: 'e', data: '1' },
      csrf: 'x'.repeat(43),
    });
    expect(wrongCsrf.status).toBe(403);
    const again = await call('/dashboard/api/session');
    expect(again.status).toBe(200);
    expect(again.body.csrf).toBe(csrf);
  });

  it('signs out by clearing the cookie', async () => {
    const r = await call('/dashboard/api/session', { method: 'DELETE' });
    expect(r.status).toBe(200);
    expect(r.headers.get('set-cookie')).toMatch(/^herald_dashboard=; .*Max-Age=0/);
  });
});

describe('pages', () => {
  it('serves the built pages with a strict content security policy, and nothing outside them', async () => {
    const redirect = await fetch(`${t.apiUrl}/dashboard`, { redirect: 'manual' });
    await redirect.arrayBuffer();
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/dashboard/');
    const r = await fetch(`${t.apiUrl}/dashboard/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/html');
    expect(r.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(r.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(r.headers.get('x-frame-options')).toBe('DENY');
    const html = await r.text();
    const script = /src="(\/dashboard\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const js = await fetch(`${t.apiUrl}${script}`);
    expect(js.status).toBe(200);
    expect(js.headers.get('cache-control')).toContain('immutable');
    expect((await js.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/%2e%2e/package.json', '/dashboard/assets/nope.js', '/dashboard/api/nope']) {
      const x = await fetch(`${t.apiUrl}${path}`);
      await x.arrayBuffer();
      expect([401, 404], path).toContain(x.status);
    }
  });
});

describe('data', () => {
  it('shows the one node of embedded mode', async () => {
    const r = await call('/dashboard/api/overview');
    expect(r.status).toBe(200);
    expect(r.body.mode).toBe('embedded');
    const nodes = r.body.nodes as { id: string; role: string; connections: number }[];
    expect(nodes.map((n) => [n.id, n.role])).toEqual([['test-node', 'gateway']]);
    expect(r.body.apps).toBe(2);
  });

  it('lists apps without their secrets, and shows one on demand', async () => {
    const list = await call('/dashboard/api/apps');
    expect(JSON.stringify(list.body)).not.toContain(t.app.secret);
    const one = await call(`/dashboard/api/apps/${t.app.id}`);
    expect(one.status).toBe(200);
    expect(JSON.stringify(one.body)).not.toContain(t.app.secret);
    const secret = await call(`/dashboard/api/apps/${t.app.id}/secret`);
    expect(secret.body).toEqual({ secret: t.app.secret });
    expect((await call('/dashboard/api/apps/nope/secret')).status).toBe(404);
  });

  it('sends the event creator’s event, with the REST API’s checks', async () => {
    await using c = await RawClient.established(t);
    await c.subscribe('public-news');
    const r = await call(`/dashboard/api/apps/${t.app.id}/events`, { method: 'POST', body: { channels: ['public-news'], name: 'made-here', data: '{"a":1}' } });
    expect(r.status).toBe(200);
    const f = await c.waitFor((x) => x.event === 'made-here');
    expect(f.data).toBe('{"a":1}');
    const bad = await call(`/dashboard/api/apps/${t.app.id}/events`, { method: 'POST', body: { channels: ['bad channel'], name: 'e', data: '1' } });
    expect(bad.status).toBe(400);
    const unknown = await call('/dashboard/api/apps/nope/events', { method: 'POST', body: { channels: ['c'], name: 'e', data: '1' } });
    expect(unknown.status).toBe(404);
  });

  it('lists channels by prefix, with presence members and the cached event', async () => {
    await using a = await RawClient.established(t);
    await a.subscribe('public-a');
    await a.subscribe('cache-b');
    const presence = t.sdk.authorizeChannel(a.socketId, 'presence-c', { user_id: 'ada', user_info: { name: 'Ada' } });
    await a.subscribe('presence-c', { auth: presence.auth, channel_data: presence.channel_data });
    await t.sdk.trigger('cache-b', 'price', { eur: 42 });
    await a.waitFor((x) => x.event === 'price');

    const all = await call(`/dashboard/api/apps/${t.app.id}/channels`);
    const names = (all.body.channels as { name: string }[]).map((c) => c.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(['public-a', 'cache-b', 'presence-c']));
    const pre = await call(`/dashboard/api/apps/${t.app.id}/channels?prefix=presence-`);
    expect(pre.body.channels).toEqual([{ name: 'presence-c', subscriptionCount: 1, userCount: 1 }]);
    const limited = await call(`/dashboard/api/apps/${t.app.id}/channels?limit=1`);
    expect(limited.body.truncated).toBe(true);
    expect((await call(`/dashboard/api/apps/${t.app.id}/channels?limit=0`)).status).toBe(400);

    const detail = await call(`/dashboard/api/apps/${t.app.id}/channels/presence-c`);
    expect(detail.body).toMatchObject({
      name: 'presence-c',
      occupied: true,
      subscriptionCount: 1,
      userCount: 1,
      members: [{ id: 'ada', info: { name: 'Ada' } }],
    });
    const cached = await call(`/dashboard/api/apps/${t.app.id}/channels/cache-b`);
    expect(cached.body.cached).toEqual({ event: 'price', data: '{"eur":42}' });
    // Another app's channels are its own.
    const other = await call('/dashboard/api/apps/second/channels');
    expect(other.body.channels).toEqual([]);
  });
});

describe('debug stream', () => {
  it('streams the app’s records, and only that app’s, with no secret in them', async () => {
    const ac = new AbortController();
    const r = await fetch(`${t.apiUrl}/dashboard/api/apps/${t.app.id}/debug`, { headers: { cookie }, signal: ac.signal });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/event-stream');
    const reader = r.body!.getReader();
    let text = '';
    const messages: { type: string; record?: Record<string, unknown> }[] = [];
    const until = async (pred: () => boolean) => {
      while (!pred()) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended; got ${JSON.stringify(messages)}`);
        text += Buffer.from(value).toString();
        let i: number;
        while ((i = text.indexOf('\n\n')) >= 0) {
          const block = text.slice(0, i);
          text = text.slice(i + 2);
          for (const line of block.split('\n')) if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)) as never);
        }
      }
    };
    await until(() => messages.some((m) => m.type === 'hello'));
    // The flag reaches the recording side at once in embedded mode; a record made now is streamed.
    await using c = await RawClient.established(t);
    await c.subscribe('public-watch');
    const signed = t.sdk.authorizeChannel(c.socketId, 'private-x');
    c.send({ event: 'pusher:subscribe', data: { channel: 'private-x', auth: `${t.app.key}:${'0'.repeat(64)}` } });
    await t.sdk.trigger('public-watch', 'seen', { n: 1 });
    await t.sdkFor(t.gw.apps.byId('second')!).trigger('public-watch', 'other-app', {});
    await until(() => messages.some((m) => m.record?.kind === 'api_event' && m.record.event === 'seen'));
    await until(() => messages.some((m) => m.record?.kind === 'subscription_failed'));
    const kinds = messages.filter((m) => m.type === 'record').map((m) => m.record!.kind);
    expect(kinds).toEqual(expect.arrayContaining(['connection_opened', 'subscribed', 'subscription_failed', 'api_event']));
    expect(messages.some((m) => m.record?.event === 'other-app')).toBe(false);
    const all = JSON.stringify(messages);
    expect(all).not.toContain(t.app.secret);
    expect(all).not.toContain('0'.repeat(64));
    expect(all).not.toContain(signed.auth.split(':')[1]!);
    ac.abort();
  });

  it('sends a console at most 200 records a second and says how many it skipped', async () => {
    const ac = new AbortController();
    const r = await fetch(`${t.apiUrl}/dashboard/api/apps/${t.app.id}/debug`, { headers: { cookie }, signal: ac.signal });
    const reader = r.body!.getReader();
    let text = '';
    let records = 0;
    let skipped = 0;
    let first: number | undefined;
    const read = async () => {
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      text += Buffer.from(value).toString();
      let i: number;
      while ((i = text.indexOf('\n\n')) >= 0) {
        const line = text.slice(0, i);
        text = text.slice(i + 2);
        if (!line.startsWith('data: ')) continue;
        const m = JSON.parse(line.slice(6)) as { type: string; count?: number };
        if (m.type === 'hello') first = Date.now();
        if (m.type === 'record') records++;
        if (m.type === 'skipped') skipped += m.count!;
      }
    };
    while (first === undefined) await read();
    // 450 events in 45 batch requests: one record each, as fast as the API takes them.
    const started = Date.now();
    for (let b = 0; b < 45; b++) {
      await t.sdk.triggerBatch(Array.from({ length: 10 }, (_, i) => ({ channel: 'public-flood', name: `e${b * 10 + i}`, data: '{}' })));
    }
    while (records + skipped < 450) await read();
    const seconds = (Date.now() - started) / 1000;
    expect(skipped).toBeGreaterThan(0);
    // The bucket holds 200 and refills at 200 a second.
    expect(records).toBeLessThanOrEqual(200 + Math.ceil(seconds * 200) + 1);
    expect(records + skipped).toBe(450);
    ac.abort();
  });

  it('does not hold the gateway’s shutdown open', async () => {
    await using g = await startTestGateway({ adminToken: TOKEN });
    const s = await fetch(`${g.apiUrl}/dashboard/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: TOKEN }),
    });
    const c = (s.headers.get('set-cookie') ?? '').split(';')[0]!;
    const r = await fetch(`${g.apiUrl}/dashboard/api/apps/${g.app.id}/debug`, { headers: { cookie: c } });
    const reader = r.body!.getReader();
    await reader.read();
    await g.close();
    // The stream ends with the gateway rather than keeping it alive.
    for (;;) if ((await reader.read()).done) break;
  });
});
