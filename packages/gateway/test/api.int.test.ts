import type Pusher from 'pusher';
import { apiStringToSign, hmacSha256Hex, md5Hex, signApiRequest } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { API_ERRORS } from '../src/api/errors.js';
import { marker, RawClient, startTestGateway, type TestGateway } from '@herald/test-support';

/**
 * Integration tests for the HTTP REST API (docs/reference/rest-api.md): every endpoint through the official
 * `pusher` Node SDK, edge cases and rejections through raw signed requests, delivery checked on raw
 * WebSocket subscribers.
 */

const SUCCEEDED = 'pusher_internal:subscription_succeeded';

interface ApiResponse {
  status: number;
  type: string | null;
  text: string;
  json: any;
}

type Creds = { key: string; secret: string };

/** A signed request built with @herald/protocol's signApiRequest (values percent-encoded) and sent with fetch. */
async function call(
  t: TestGateway,
  method: 'GET' | 'POST',
  path: string,
  opts: {
    body?: string;
    /** The body the signature covers (defaults to `body`). */
    signedBody?: string;
    params?: Record<string, string>;
    creds?: Creds;
    timestamp?: number;
    /** Use this query string instead of signing. */
    query?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<ApiResponse> {
  const creds = opts.creds ?? t.app;
  const signedBody = opts.signedBody ?? opts.body;
  const query =
    opts.query ??
    signApiRequest({
      key: creds.key,
      secret: creds.secret,
      method,
      path,
      ...(signedBody !== undefined ? { body: signedBody } : {}),
      ...(opts.params ? { params: opts.params } : {}),
      ...(opts.timestamp !== undefined ? { timestamp: opts.timestamp } : {}),
    });
  const res = await fetch(`${t.apiUrl}${path}${query ? `?${query}` : ''}`, {
    method,
    ...(opts.body !== undefined ? { body: opts.body } : {}),
    headers: { ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}), ...opts.headers },
  });
  return toResponse(res);
}

async function toResponse(res: { status: number; headers: { get(n: string): string | null }; text(): Promise<string> }): Promise<ApiResponse> {
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, type: res.headers.get('content-type'), text, json };
}

const trigger = (t: TestGateway, body: unknown, opts: Parameters<typeof call>[3] = {}) =>
  call(t, 'POST', `/apps/${t.app.id}/events`, { body: typeof body === 'string' ? body : JSON.stringify(body), ...opts });

/** The SDK throws on >= 400; this returns the status and body either way. */
async function sdkCall(p: Promise<{ status: number; headers: { get(n: string): string | null }; text(): Promise<string> }>): Promise<ApiResponse> {
  try {
    return await toResponse(await p);
  } catch (err) {
    const e = err as { status?: number; body?: string; message: string };
    if (e.status === undefined) throw err;
    return { status: e.status, type: null, text: e.body ?? '', json: e.body ? JSON.parse(e.body) : undefined };
  }
}

/** The status the registry declares for a string code; undefined for a code it does not have. */
const registryStatus = (code: unknown) => Object.values(API_ERRORS).find((e) => e.code === code)?.status;

/**
 * A refusal: that status, a JSON content type and exactly `{"error": <text>, "code": status,
 * "error_code": <a registry code declared with that status>}`.
 */
function expectError(r: ApiResponse, status: number, contains?: string | RegExp) {
  expect(r.status, r.text).toBe(status);
  // (null: the SDK's RequestError carries no headers; raw requests always check the content type)
  if (r.type !== null) expect(r.type).toMatch(/^application\/json/);
  expect(r.json).toEqual({ error: expect.any(String), code: status, error_code: expect.stringMatching(/^PUSH_ERR_/) });
  expect(registryStatus(r.json.error_code), r.json.error_code).toBe(status);
  if (contains instanceof RegExp) expect(r.json.error).toMatch(contains);
  else if (contains !== undefined) expect(r.json.error).toContain(contains);
}

/** 200, JSON content type, and the body is exactly `text`. */
function expectOk(r: ApiResponse, text?: string) {
  expect(r.status, r.text).toBe(200);
  expect(r.type).toMatch(/^application\/json/);
  if (text !== undefined) expect(r.text).toBe(text);
}

async function client(t: Pick<TestGateway, 'wsPort'> & { app: { key: string } }, ...channels: string[]): Promise<RawClient> {
  const c = await RawClient.established(t);
  for (const ch of channels) expect((await c.subscribe(ch)).event).toBe(SUCCEEDED);
  return c;
}

async function presence(t: TestGateway, channel: string, userId: string, c?: RawClient, sdk: Pusher = t.sdk): Promise<RawClient> {
  c ??= await RawClient.established(t);
  const a = sdk.authorizeChannel(c.socketId, channel, { user_id: userId, user_info: { name: `user ${userId}` } });
  const f = await c.subscribe(channel, { auth: a.auth, channel_data: a.channel_data });
  expect(f.event, JSON.stringify(f)).toBe(SUCCEEDED);
  return c;
}

async function signIn(t: TestGateway, userId: string): Promise<RawClient> {
  const c = await RawClient.established(t);
  const a = t.sdk.authenticateUser(c.socketId, { id: userId });
  c.send({ event: 'pusher:signin', data: { auth: a.auth, user_data: a.user_data } });
  await c.waitFor((f) => f.event === 'pusher:signin_success' || f.event === 'pusher:error');
  expect(c.events('pusher:signin_success')).toHaveLength(1);
  return c;
}

const userEvents = (c: RawClient) => c.frames.filter((f) => !f.event.startsWith('pusher'));

async function closeAll(clients: RawClient[]) {
  await Promise.all(clients.map((c) => c[Symbol.asyncDispose]()));
}

const now = () => Math.floor(Date.now() / 1000);

// ---------------------------------------------------------------------------------------------

describe('POST /apps/:id/events', () => {
  it('delivers to every channel of a `channels` array (one frame per subscribed channel)', async () => {
    await using t = await startTestGateway();
    await using both = await client(t, 'ch-a', 'ch-b');
    await using onlyB = await client(t, 'ch-b');
    await using other = await client(t, 'ch-c');
    const r = await sdkCall(t.sdk.trigger(['ch-a', 'ch-b'], 'my-event', { x: 1 }));
    expectOk(r, '{}');
    await expect.poll(() => userEvents(both).length).toBe(2);
    await onlyB.waitFor((f) => f.event === 'my-event');
    expect(both.rawFrames).toContain('{"event":"my-event","channel":"ch-a","data":"{\\"x\\":1}"}');
    expect(both.rawFrames).toContain('{"event":"my-event","channel":"ch-b","data":"{\\"x\\":1}"}');
    await marker(t, 'ch-c', [other]);
    const m = await marker(t, 'ch-b', [onlyB]);
    expect(userEvents(onlyB).map((f) => [f.event, f.channel])).toEqual([
      ['my-event', 'ch-b'],
      [m, 'ch-b'],
    ]);
    expect(userEvents(other).filter((f) => f.event === 'my-event')).toEqual([]);
  });

  it('does not deliver to the connection named by socket_id', async () => {
    await using t = await startTestGateway();
    await using sender = await client(t, 'room', 'room-2');
    await using receiver = await client(t, 'room', 'room-2');
    const r = await sdkCall(t.sdk.trigger(['room', 'room-2'], 'said', 'hi', { socket_id: sender.socketId }));
    expectOk(r, '{}');
    await expect.poll(() => userEvents(receiver).length).toBe(2);
    const m = await marker(t, 'room', [sender, receiver]);
    expect(userEvents(sender).map((f) => f.event)).toEqual([m]);
  });

  it('answers info=user_count,subscription_count per channel (user_count only on presence channels)', async () => {
    await using t = await startTestGateway();
    const clients = [
      await presence(t, 'presence-room', '1'),
      await presence(t, 'presence-room', '1'),
      await presence(t, 'presence-room', '2'),
      await client(t, 'chan'),
    ];
    try {
      const r = await sdkCall(t.sdk.trigger(['presence-room', 'chan', 'empty-chan'], 'ev', 'x', { info: 'user_count,subscription_count' }));
      expectOk(r);
      expect(r.json).toEqual({
        channels: {
          'presence-room': { user_count: 2, subscription_count: 3 },
          chan: { subscription_count: 1 },
          'empty-chan': { subscription_count: 0 },
        },
      });
      const onlyUsers = await sdkCall(t.sdk.trigger(['presence-room', 'chan'], 'ev', 'x', { info: 'user_count' }));
      expectOk(onlyUsers);
      expect(onlyUsers.json).toEqual({ channels: { 'presence-room': { user_count: 2 }, chan: {} } });
    } finally {
      await closeAll(clients);
    }
  });

  it('answers exactly `{}` with 200 and application/json when no info is asked', async () => {
    await using t = await startTestGateway();
    const r = await trigger(t, { name: 'ev', data: 'x', channels: ['nobody-here'] });
    expectOk(r, '{}');
    expect(r.type).toMatch(/^application\/json/);
  });

  it('JSON-encodes a non-string data exactly once', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'objects');
    const data = { a: 1, b: [true, null], s: 'q"uote' };
    expectOk(await trigger(t, { name: 'obj', channels: ['objects'], data }), '{}');
    const f = await c.waitFor((x) => x.event === 'obj');
    expect(f.data).toBe(JSON.stringify(data));
    expect(JSON.parse(f.data as string)).toEqual(data);
  });

  it('accepts #server-to-user-<id> channels (the SDK sendToUser)', async () => {
    await using t = await startTestGateway();
    await using user = await signIn(t, '10');
    await using stranger = await signIn(t, '11');
    const r = await sdkCall(t.sdk.sendToUser('10', 'private-note', { hi: 'there' }));
    expectOk(r, '{}');
    const f = await user.waitFor((x) => x.event === 'private-note');
    expect(f).toEqual({ event: 'private-note', channel: '#server-to-user-10', data: '{"hi":"there"}' });
    await sdkCall(t.sdk.sendToUser('11', 'ping-11', 1));
    await stranger.waitFor((x) => x.event === 'ping-11');
    expect(stranger.events('private-note')).toEqual([]);
  });
});

describe('POST /apps/:id/batch_events', () => {
  it('delivers every item of the batch', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'b-1', 'b-2');
    const r = await sdkCall(
      t.sdk.triggerBatch([
        { channel: 'b-1', name: 'first', data: { n: 1 } },
        { channel: 'b-2', name: 'second', data: 'two' },
        { channel: 'b-1', name: 'third', data: 'three' },
      ]),
    );
    expectOk(r, '{}');
    await expect.poll(() => userEvents(c).length).toBe(3);
    expect(userEvents(c)).toEqual(
      expect.arrayContaining([
        { event: 'first', channel: 'b-1', data: '{"n":1}' },
        { event: 'second', channel: 'b-2', data: 'two' },
        { event: 'third', channel: 'b-1', data: 'three' },
      ]),
    );
  });

  it('answers {"batch":[...]} aligned with the items when any item has info', async () => {
    await using t = await startTestGateway();
    const clients = [await presence(t, 'presence-b', '7'), await presence(t, 'presence-b', '8'), await client(t, 'pub')];
    try {
      const r = await sdkCall(
        t.sdk.triggerBatch([
          { channel: 'presence-b', name: 'a', data: '1', info: 'user_count,subscription_count' },
          { channel: 'pub', name: 'b', data: '2' },
          { channel: 'pub', name: 'c', data: '3', info: 'subscription_count' },
          { channel: 'pub', name: 'd', data: '4', info: 'user_count' },
        ] as never),
      );
      expectOk(r);
      expect(r.json).toEqual({ batch: [{ user_count: 2, subscription_count: 2 }, {}, { subscription_count: 1 }, {}] });
    } finally {
      await closeAll(clients);
    }
  });

  it('refuses 11 items with 400 and delivers none of them', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'many');
    const batch = Array.from({ length: 11 }, (_, i) => ({ channel: 'many', name: `e${i}`, data: String(i) }));
    expectError(await call(t, 'POST', `/apps/${t.app.id}/batch_events`, { body: JSON.stringify({ batch }) }), 400);
    const ten = await call(t, 'POST', `/apps/${t.app.id}/batch_events`, { body: JSON.stringify({ batch: batch.slice(0, 10) }) });
    expectOk(ten, '{}');
    await expect.poll(() => userEvents(c).length).toBe(10);
  });

  it('refuses a batch with one invalid item (400) and delivers nothing from it', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'all-or-nothing');
    const good = { channel: 'all-or-nothing', name: 'good', data: 'x' };
    const r = await call(t, 'POST', `/apps/${t.app.id}/batch_events`, {
      body: JSON.stringify({ batch: [good, good, { channel: 'bad channel!', name: 'bad', data: 'x' }] }),
    });
    expectError(r, 400, 'channel');
    const tooBig = await call(t, 'POST', `/apps/${t.app.id}/batch_events`, {
      body: JSON.stringify({ batch: [good, { channel: 'all-or-nothing', name: 'big', data: 'x'.repeat(10241) }] }),
    });
    expectError(tooBig, 413);
    const m = await marker(t, 'all-or-nothing', [c]);
    expect(userEvents(c).map((f) => f.event)).toEqual([m]);
  });
});

describe('GET /apps/:id/channels', () => {
  it('lists only occupied channels', async () => {
    await using t = await startTestGateway();
    await using a = await client(t, 'occ-a', 'occ-b');
    const left = await client(t, 'occ-gone');
    await sdkCall(t.sdk.trigger('never-subscribed', 'ev', 'x'));
    await left[Symbol.asyncDispose]();
    await expect.poll(async () => (await sdkCall(t.sdk.get({ path: '/channels' }))).json).toEqual({ channels: { 'occ-a': {}, 'occ-b': {} } });
    const r = await sdkCall(t.sdk.get({ path: '/channels' }));
    expectOk(r, '{"channels":{"occ-a":{},"occ-b":{}}}');
  });

  it('filters by filter_by_prefix', async () => {
    await using t = await startTestGateway();
    await using a = await client(t, 'foo-1', 'foo-2', 'bar-1', 'xfoo-3');
    const r = await sdkCall(t.sdk.get({ path: '/channels', params: { filter_by_prefix: 'foo-' } }));
    expectOk(r);
    expect(r.json).toEqual({ channels: { 'foo-1': {}, 'foo-2': {} } });
  });

  it('gives user_count with filter_by_prefix=presence-, and 400 without that filter', async () => {
    await using t = await startTestGateway();
    const clients = [
      await presence(t, 'presence-a', '1'),
      await presence(t, 'presence-a', '2'),
      await presence(t, 'presence-a', '2'),
      await presence(t, 'presence-b', '3'),
      await client(t, 'public-1'),
    ];
    try {
      const r = await sdkCall(t.sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
      expectOk(r);
      expect(r.json).toEqual({ channels: { 'presence-a': { user_count: 2 }, 'presence-b': { user_count: 1 } } });
      expectError(await sdkCall(t.sdk.get({ path: '/channels', params: { info: 'user_count' } })), 400, 'user_count');
      expectError(await sdkCall(t.sdk.get({ path: '/channels', params: { filter_by_prefix: 'public-', info: 'user_count' } })), 400);
    } finally {
      await closeAll(clients);
    }
  });

  it('answers {"channels":{}} (an object) when nothing is occupied', async () => {
    await using t = await startTestGateway();
    const r = await sdkCall(t.sdk.get({ path: '/channels' }));
    expectOk(r, '{"channels":{}}');
    const filtered = await sdkCall(t.sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
    expectOk(filtered, '{"channels":{}}');
  });

  it('does not list #server-to-user- channels', async () => {
    await using t = await startTestGateway();
    await using user = await signIn(t, '10');
    await using pub = await client(t, 'visible');
    // The user channel exists: sendToUser reaches the signed-in socket.
    await sdkCall(t.sdk.sendToUser('10', 'hello-user', 'x'));
    await user.waitFor((f) => f.event === 'hello-user' && f.channel === '#server-to-user-10');
    const r = await sdkCall(t.sdk.get({ path: '/channels' }));
    expectOk(r, '{"channels":{"visible":{}}}');
    const withInfo = await sdkCall(t.sdk.get({ path: '/channels', params: { info: 'subscription_count' } }));
    expectOk(withInfo);
    expect(withInfo.json).toEqual({ channels: { visible: { subscription_count: 1 } } });
  });
});

describe('GET /apps/:id/channels/:name', () => {
  it('answers {"occupied":false} for an unknown channel', async () => {
    await using t = await startTestGateway();
    expectOk(await sdkCall(t.sdk.get({ path: '/channels/no-such-channel' })), '{"occupied":false}');
    const counted = await sdkCall(t.sdk.get({ path: '/channels/no-such-channel', params: { info: 'subscription_count' } }));
    expectOk(counted);
    expect(counted.json).toEqual({ occupied: false, subscription_count: 0 });
  });

  it('answers occupied and subscription_count', async () => {
    await using t = await startTestGateway();
    await using a = await client(t, 'counted');
    await using b = await client(t, 'counted');
    expectOk(await sdkCall(t.sdk.get({ path: '/channels/counted' })), '{"occupied":true}');
    const r = await sdkCall(t.sdk.get({ path: '/channels/counted', params: { info: 'subscription_count' } }));
    expectOk(r);
    expect(r.json).toEqual({ occupied: true, subscription_count: 2 });
  });

  it('answers user_count on a presence channel', async () => {
    await using t = await startTestGateway();
    const clients = [await presence(t, 'presence-x', 'u1'), await presence(t, 'presence-x', 'u1'), await presence(t, 'presence-x', 'u2')];
    try {
      const r = await sdkCall(t.sdk.get({ path: '/channels/presence-x', params: { info: 'user_count,subscription_count' } }));
      expectOk(r);
      expect(r.json).toEqual({ occupied: true, user_count: 2, subscription_count: 3 });
    } finally {
      await closeAll(clients);
    }
  });

  it('refuses user_count on a non-presence channel with 400', async () => {
    await using t = await startTestGateway();
    await using a = await client(t, 'plain');
    expectError(await sdkCall(t.sdk.get({ path: '/channels/plain', params: { info: 'user_count' } })), 400, 'presence');
  });

  it('shows the cached data and its ttl with info=cache after a trigger on a cache channel', async () => {
    await using t = await startTestGateway();
    const none = await sdkCall(t.sdk.get({ path: '/channels/cache-news', params: { info: 'cache' } }));
    expectOk(none);
    expect(none.json.occupied).toBe(false);
    expect(none.json.cache ?? null).toBeNull();
    expectOk(await sdkCall(t.sdk.trigger('cache-news', 'headline', { title: 'cached' })), '{}');
    const r = await sdkCall(t.sdk.get({ path: '/channels/cache-news', params: { info: 'cache' } }));
    expectOk(r);
    expect(r.json).toEqual({ occupied: false, cache: { data: '{"title":"cached"}', ttl: expect.any(Number) } });
    expect(r.json.cache.ttl).toBeGreaterThan(1700);
    expect(r.json.cache.ttl).toBeLessThanOrEqual(1800);
  });
});

describe('GET /apps/:id/channels/:name/users', () => {
  it('lists distinct users as {"users":[{"id":...}]}', async () => {
    await using t = await startTestGateway();
    const clients = [await presence(t, 'presence-u', '1'), await presence(t, 'presence-u', '1'), await presence(t, 'presence-u', '2')];
    try {
      const r = await sdkCall(t.sdk.get({ path: '/channels/presence-u/users' }));
      expectOk(r);
      expect(Object.keys(r.json)).toEqual(['users']);
      const users = [...(r.json.users as { id: string }[])].sort((x, y) => x.id.localeCompare(y.id));
      expect(users).toEqual([{ id: '1' }, { id: '2' }]);
      expectOk(await sdkCall(t.sdk.get({ path: '/channels/presence-empty/users' })), '{"users":[]}');
    } finally {
      await closeAll(clients);
    }
  });

  it('refuses a non-presence channel with 400', async () => {
    await using t = await startTestGateway();
    await using a = await client(t, 'not-presence');
    expectError(await sdkCall(t.sdk.get({ path: '/channels/not-presence/users' })), 400, 'presence');
    expectError(await sdkCall(t.sdk.get({ path: '/channels/private-x/users' })), 400);
  });
});

describe('POST /apps/:id/users/:user_id/terminate_connections', () => {
  it('closes every socket signed in as that user and answers 200 {}', async () => {
    await using t = await startTestGateway();
    await using a = await signIn(t, '10');
    await using b = await signIn(t, '10');
    await using other = await signIn(t, '11');
    // Joined a presence channel as user 10 but never signed in: not affected.
    await using presenceOnly = await presence(t, 'presence-t', '10');
    const r = await sdkCall(t.sdk.terminateUserConnections('10'));
    expectOk(r, '{}');
    expect(await a.closed).toBe(4009);
    expect(await b.closed).toBe(4009);
    expect(a.events('pusher:error').map((f) => (f.data as { code: number }).code)).toEqual([4009]);
    await sdkCall(t.sdk.sendToUser('11', 'still-there', 'x'));
    await other.waitFor((f) => f.event === 'still-there');
    await marker(t, 'presence-t', [presenceOnly]);
    expect(other.closeCode).toBeUndefined();
    expect(presenceOnly.closeCode).toBeUndefined();
  });

  it('answers 200 {} when the user has no connection', async () => {
    await using t = await startTestGateway();
    expectOk(await sdkCall(t.sdk.terminateUserConnections('nobody')), '{}');
  });
});

describe('rejections', () => {
  const body = (channel = 'rej') => JSON.stringify({ name: 'ev', data: 'x', channels: [channel] });

  it('unknown app id without auth_key → 404', async () => {
    await using t = await startTestGateway();
    expectError(await call(t, 'POST', '/apps/9999/events', { body: body(), query: '' }), 404);
    expectError(await call(t, 'GET', '/apps/9999/channels', { query: '' }), 404);
  });

  it('bad signature → 401 with the string to sign in the message, never the secret', async () => {
    await using t = await startTestGateway();
    const path = `/apps/${t.app.id}/events`;
    const b = body();
    const ts = now();
    const query = signApiRequest({ key: t.app.key, secret: 'not-the-secret', method: 'POST', path, body: b, timestamp: ts });
    const r = await call(t, 'POST', path, { body: b, query });
    expectError(r, 401, 'Invalid signature');
    const toSign = `POST\n${path}\nauth_key=${t.app.key}&auth_timestamp=${ts}&auth_version=1.0&body_md5=${md5Hex(b)}`;
    const shown = r.json.error.includes(toSign) || r.json.error.includes(JSON.stringify(toSign).slice(1, -1));
    expect(shown, r.json.error).toBe(true);
    expect(r.text).not.toContain(t.app.secret);
    // Upper-cased signature (vector B's negative check) is refused too.
    const good = signApiRequest({ key: t.app.key, secret: t.app.secret, method: 'POST', path, body: b, timestamp: ts });
    const upper = good.replace(/auth_signature=([0-9a-f]+)/, (_, s: string) => `auth_signature=${s.toUpperCase()}`);
    expectError(await call(t, 'POST', path, { body: b, query: upper }), 401);
    expectOk(await call(t, 'POST', path, { body: b, query: good }), '{}');
  });

  it('timestamp 601 s old → 401 Timestamp expired', async () => {
    await using t = await startTestGateway();
    const r = await trigger(t, body(), { timestamp: now() - 601 });
    expectError(r, 401, 'Timestamp expired');
    expect(r.text).not.toContain(t.app.secret);
    expectError(await trigger(t, body(), { timestamp: now() + 601 }), 401, 'Timestamp expired');
    expectOk(await trigger(t, body(), { timestamp: now() - 590 }), '{}');
  });

  it('body changed after signing → 401 (body_md5)', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'rej');
    const signed = body();
    const sent = signed.replace('"x"', '"y"');
    expect(sent).not.toBe(signed);
    expectError(await trigger(t, sent, { signedBody: signed }), 401, 'body_md5');
    const m = await marker(t, 'rej', [c]);
    expect(userEvents(c).map((f) => f.event)).toEqual([m]);
  });

  it('missing body_md5 on a POST with a body → 401', async () => {
    await using t = await startTestGateway();
    const path = `/apps/${t.app.id}/events`;
    const query = signApiRequest({ key: t.app.key, secret: t.app.secret, method: 'POST', path });
    expect(query).not.toContain('body_md5');
    expectError(await call(t, 'POST', path, { body: body(), query }), 401);
  });

  it('unknown auth_key → 400', async () => {
    await using t = await startTestGateway();
    const r = await trigger(t, body(), { creds: { key: 'no-such-key', secret: t.app.secret } });
    expectError(r, 400, 'Unknown auth_key');
    const get = await call(t, 'GET', `/apps/${t.app.id}/channels`, { creds: { key: 'no-such-key', secret: 'whatever-secret' } });
    expectError(get, 400, 'Unknown auth_key');
  });

  it('auth_version 2.0 → 401', async () => {
    await using t = await startTestGateway();
    const path = `/apps/${t.app.id}/events`;
    const b = body();
    const params = new Map<string, string>([
      ['auth_key', t.app.key],
      ['auth_timestamp', String(now())],
      ['auth_version', '2.0'],
      ['body_md5', md5Hex(b)],
    ]);
    const signature = hmacSha256Hex(t.app.secret, apiStringToSign('POST', path, params));
    const query = [...[...params].map(([k, v]) => `${k}=${v}`), `auth_signature=${signature}`].join('&');
    expectError(await call(t, 'POST', path, { body: b, query }), 401, 'auth_version');
  });

  it('invalid JSON body (correctly signed) → 400', async () => {
    await using t = await startTestGateway();
    expectError(await trigger(t, '{"name":"ev",'), 400, 'Invalid JSON');
    expectError(await trigger(t, 'not json at all'), 400, 'Invalid JSON');
    expectError(await call(t, 'POST', `/apps/${t.app.id}/batch_events`, { body: '{"batch":[' }), 400, 'Invalid JSON');
  });

  it.each([
    ['name', { data: 'x', channels: ['c'] }],
    ['data', { name: 'ev', channels: ['c'] }],
    ['channels', { name: 'ev', data: 'x' }],
  ])('missing %s → 400', async (field, b) => {
    await using t = await startTestGateway();
    expectError(await trigger(t, b), 400, `Missing required parameter: ${field}`);
  });

  it('101 channels → 400 (100 are fine)', async () => {
    await using t = await startTestGateway();
    const channels = Array.from({ length: 101 }, (_, i) => `c-${i}`);
    expectError(await trigger(t, { name: 'ev', data: 'x', channels }), 400, '100 channels');
    expectOk(await trigger(t, { name: 'ev', data: 'x', channels: channels.slice(0, 100) }), '{}');
  });

  it('invalid channel name → 400', async () => {
    await using t = await startTestGateway();
    expectError(await trigger(t, { name: 'ev', data: 'x', channels: ['ok', 'not ok'] }), 400, 'Invalid channel name');
    expectError(await trigger(t, { name: 'ev', data: 'x', channels: ['a'.repeat(201)] }), 400, 'Invalid channel name');
    expectError(await trigger(t, { name: 'ev', data: 'x', channel: 'bad/channel' }), 400, 'Invalid channel name');
    expectError(await trigger(t, { name: 'ev', data: 'x', channels: [''] }), 400);
  });

  it('event name over 200 chars → 400 (200 is fine)', async () => {
    await using t = await startTestGateway();
    expectError(await trigger(t, { name: 'e'.repeat(201), data: 'x', channels: ['c'] }), 400, 'event name');
    expectOk(await trigger(t, { name: 'e'.repeat(200), data: 'x', channels: ['c'] }), '{}');
  });

  it('invalid socket_id → 400', async () => {
    await using t = await startTestGateway();
    for (const socket_id of ['abc', '1.2.3', '1234', '.1', 12.5]) {
      expectError(await trigger(t, { name: 'ev', data: 'x', channels: ['c'], socket_id }), 400, 'socket_id');
    }
    expectOk(await trigger(t, { name: 'ev', data: 'x', channels: ['c'], socket_id: '1234.5678' }), '{}');
  });

  it('data of 10241 bytes → 413, 10240 bytes → 200 (bytes, not characters)', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'sized');
    expectError(await trigger(t, { name: 'big', data: 'x'.repeat(10241), channels: ['sized'] }), 413, '10240');
    // 5121 two-byte characters are 10242 bytes.
    expectError(await trigger(t, { name: 'big', data: 'é'.repeat(5121), channels: ['sized'] }), 413);
    expectOk(await trigger(t, { name: 'fits', data: 'x'.repeat(10240), channels: ['sized'] }), '{}');
    const f = await c.waitFor((x) => x.event === 'fits');
    expect((f.data as string).length).toBe(10240);
    expect(c.events('big')).toEqual([]);
  });

  it('a whole body over 256 KB → 413', async () => {
    await using t = await startTestGateway();
    const padding = 'p'.repeat(256 * 1024);
    const r = await trigger(t, { name: 'ev', data: 'x', channels: ['c'], padding });
    expectError(r, 413);
  });

  it("per-app maxEventPayloadBytes: 101 bytes → 413 when the app's limit is 100", async () => {
    await using t = await startTestGateway({ apps: [{ maxEventPayloadBytes: 100 }] });
    expectError(await trigger(t, { name: 'ev', data: 'x'.repeat(101), channels: ['c'] }), 413, '100');
    expectOk(await trigger(t, { name: 'ev', data: 'x'.repeat(100), channels: ['c'] }), '{}');
    const batch = await call(t, 'POST', `/apps/${t.app.id}/batch_events`, {
      body: JSON.stringify({ batch: [{ channel: 'c', name: 'ev', data: 'x'.repeat(101) }] }),
    });
    expectError(batch, 413);
  });

  it('disabled app → 403', async () => {
    await using t = await startTestGateway({ apps: [{ enabled: false }] });
    expectError(await trigger(t, body()), 403, 'disabled');
    expectError(await sdkCall(t.sdk.get({ path: '/channels' })), 403);
  });

  it('unknown route → 404 JSON', async () => {
    await using t = await startTestGateway();
    for (const path of ['/nope', `/apps/${t.app.id}/nope`, `/apps/${t.app.id}/channels/a/b/c`]) {
      const res = await fetch(`${t.apiUrl}${path}`);
      const r = await toResponse(res);
      expectError(r, 404);
    }
    expectError(await call(t, 'GET', `/apps/${t.app.id}/events`), 404);
  });

  it('a rejected request does not disturb a subscribed socket', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'calm');
    expectError(await trigger(t, body('calm'), { creds: { key: t.app.key, secret: 'wrong-secret' } }), 401);
    expectError(await trigger(t, '{broken'), 400);
    expectError(await trigger(t, { name: 'ev', data: 'x'.repeat(20000), channels: ['calm'] }), 413);
    expectError(await trigger(t, { name: 'ev', data: 'x', channels: ['calm'] }, { timestamp: 1 }), 401);
    expectOk(await trigger(t, { name: 'after', data: 'ok', channels: ['calm'] }), '{}');
    const f = await c.waitFor((x) => x.event === 'after');
    expect(f).toEqual({ event: 'after', channel: 'calm', data: 'ok' });
    expect(userEvents(c).map((x) => x.event)).toEqual(['after']);
    expect(c.closeCode).toBeUndefined();
  });
});

describe('operational endpoints', () => {
  it('/ready → 200 {"ready":true}', async () => {
    await using t = await startTestGateway();
    const r = await toResponse(await fetch(`${t.apiUrl}/ready`));
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ ready: true });
  });

  it('/health → 200', async () => {
    await using t = await startTestGateway();
    const r = await toResponse(await fetch(`${t.apiUrl}/health`));
    expect(r.status).toBe(200);
  });

  it('/metrics exposes connections, API statuses and the uWS flag, never the app secret', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, 'metered');
    expectOk(await sdkCall(t.sdk.trigger('metered', 'ev', 'x')), '{}');
    expectError(await trigger(t, body(), { creds: { key: t.app.key, secret: 'wrong-secret' } }), 401);
    await c.waitFor((f) => f.event === 'ev');
    let text = '';
    await expect
      .poll(async () => {
        text = await (await fetch(`${t.apiUrl}/metrics`)).text();
        return /herald_api_requests_total\{[^}]*status="401"[^}]*\} [1-9]/.test(text) && /herald_api_requests_total\{[^}]*status="200"[^}]*\} [1-9]/.test(text);
      })
      .toBe(true);
    expect(text).toMatch(/^herald_connections(\{[^}]*\})? 1$/m);
    expect(text).toMatch(/^herald_uws_native(\{[^}]*\})? 1$/m);
    expect(text).not.toContain(t.app.secret);
  });

  it('REST answers carry no Access-Control-Allow-Origin (servers call the API, not pages); /push.js does', async () => {
    await using t = await startTestGateway();
    const answers = [
      await fetch(`${t.apiUrl}/ready`),
      await fetch(`${t.apiUrl}/nope`),
      await fetch(`${t.apiUrl}/apps/${t.app.id}/channels`),
      // The trigger fast path (Content-Length) and fastify (chunked) both.
      await fetch(`${t.apiUrl}/apps/${t.app.id}/events`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }),
      await fetch(`${t.apiUrl}/apps/${t.app.id}/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode('{}')), c.close()) }),
        duplex: 'half',
      } as RequestInit),
    ];
    const signed = await sdkCall(t.sdk.trigger('lobby', 'ev', 'x'));
    expectOk(signed);
    expect(answers.map((r) => r.status)).toEqual([200, 404, 401, 401, 401]);
    for (const r of answers) expect(r.headers.get('access-control-allow-origin')).toBeNull();
    const signedRaw = await fetch(`${t.apiUrl}/ready`, { headers: { origin: 'https://evil.example' } });
    expect(signedRaw.headers.get('access-control-allow-origin')).toBeNull();
    const bundle = await fetch(`${t.apiUrl}/push.js`);
    if (bundle.status === 200) expect(bundle.headers.get('access-control-allow-origin')).toBe('*');
  });

  function body() {
    return JSON.stringify({ name: 'ev', data: 'x', channels: ['metered'] });
  }
});

describe('multiple apps', () => {
  it("app B's credentials cannot publish to app A", async () => {
    await using t = await startTestGateway({ apps: [{}, {}] });
    const [appA, appB] = t.gw.apps.apps;
    const b = JSON.stringify({ name: 'ev', data: 'x', channels: ['shared'] });
    await using subA = await client(t, 'shared');
    const path = `/apps/${appA!.id}/events`;
    // B's key and B's secret on A's path.
    const r1 = await call(t, 'POST', path, { body: b, creds: appB! });
    expect([400, 401]).toContain(r1.status);
    expectError(r1, r1.status);
    // A's key signed with B's secret.
    expectError(await call(t, 'POST', path, { body: b, creds: { key: appA!.key, secret: appB!.secret } }), 401);
    const m = await marker(t, 'shared', [subA]);
    expect(userEvents(subA).map((f) => f.event)).toEqual([m]);
  });

  it("a trigger on app A is not delivered to app B's subscriber of the same channel", async () => {
    await using t = await startTestGateway({ apps: [{}, {}] });
    const appB = t.gw.apps.apps[1]!;
    const sdkB = t.sdkFor(appB);
    await using subA = await client(t, 'same-name');
    await using subB = await client({ wsPort: t.wsPort, app: appB }, 'same-name');
    expectOk(await sdkCall(t.sdk.trigger('same-name', 'for-a', 'a')), '{}');
    await subA.waitFor((f) => f.event === 'for-a');
    expectOk(await sdkCall(sdkB.trigger('same-name', 'for-b', 'b')), '{}');
    await subB.waitFor((f) => f.event === 'for-b');
    expect(userEvents(subB).map((f) => f.event)).toEqual(['for-b']);
    await expect.poll(() => userEvents(subA).map((f) => f.event)).toEqual(['for-a']);
    // The channel lists are per app too.
    const listA = await sdkCall(t.sdk.get({ path: '/channels', params: { info: 'subscription_count' } }));
    expect(listA.json).toEqual({ channels: { 'same-name': { subscription_count: 1 } } });
  });
});

describe('channels named like Object.prototype members', () => {
  const names = ['__proto__', 'constructor', 'toString', 'hasOwnProperty'];
  const own = (o: object) => Object.getOwnPropertyNames(o).sort();

  it('are listed, counted and answered like any other channel', async () => {
    await using t = await startTestGateway();
    await using c = await client(t, ...names);
    await using p = await presence(t, 'presence-__proto__', 'u1');
    const list = await sdkCall(t.sdk.get({ path: '/channels', params: { info: 'subscription_count' } }));
    expectOk(list);
    // Parsed by JSON.parse, `__proto__` is an own property like the others.
    expect(own(list.json.channels)).toEqual([...names, 'presence-__proto__'].sort());
    for (const n of names) expect(Object.getOwnPropertyDescriptor(list.json.channels, n)?.value).toEqual({ subscription_count: 1 });
    expect(list.text).toContain('"__proto__":{"subscription_count":1}');

    const presenceList = await sdkCall(t.sdk.get({ path: '/channels', params: { filter_by_prefix: 'presence-', info: 'user_count' } }));
    expect(presenceList.text).toBe('{"channels":{"presence-__proto__":{"user_count":1}}}');

    const one = await sdkCall(t.sdk.get({ path: '/channels/__proto__', params: { info: 'subscription_count' } }));
    expect(one.json).toEqual({ occupied: true, subscription_count: 1 });

    const trig = await sdkCall(t.sdk.trigger(names, 'ev', 'x', { info: 'subscription_count' }));
    expectOk(trig);
    expect(own(trig.json.channels)).toEqual([...names].sort());
    expect(trig.text).toContain('"__proto__":{"subscription_count":1}');
    for (const n of names) await c.waitFor((f) => f.event === 'ev' && f.channel === n);
  });
});
