import { request } from 'node:http';
import { apiStringToSign, hmacSha256Hex, md5Hex } from '@herald/protocol';
import { describe, expect, it } from 'vitest';
import { RawClient, startTestGateway, type TestGateway } from '@herald/test-support';

/**
 * The requests each official server SDK sends, reproduced byte for byte (docs/reference/rest-api.md (#answers, #request-signing, #endpoints);
 * docs/reference/rest-api.md#request-signing (webman/push's `Api`: path `/apps/1024`, no `auth_version`)): body bytes, query order and escaping, signed path, headers. Each must be
 * accepted with 200 and a JSON object body, and what it publishes must be delivered unchanged.
 */

const SUCCEEDED = 'pusher_internal:subscription_succeeded';

interface Sent {
  status: number;
  type: string | undefined;
  text: string;
  json: any;
}

/** Sends exactly this request line and body with node:http (no URL normalisation). */
function send(t: TestGateway, method: 'GET' | 'POST', pathAndQuery: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Sent> {
  const bytes = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: t.apiPort,
        method,
        path: pathAndQuery,
        headers: { ...headers, ...(bytes !== undefined ? { 'Content-Length': String(bytes.length) } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'], text, json });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (bytes !== undefined) req.write(bytes);
    req.end();
  });
}

/** What every SDK requires of a success: exactly 200, a JSON content type, a JSON object body. */
function expectAccepted(r: Sent, text?: string) {
  expect(r.status, r.text).toBe(200);
  expect(r.type).toMatch(/^application\/json/);
  expect(r.json !== null && typeof r.json === 'object' && !Array.isArray(r.json), r.text).toBe(true);
  if (text !== undefined) expect(r.text).toBe(text);
}

/** HMAC over `METHOD\nPATH\n<sorted k=v, raw values>` — the same string every SDK builds. */
const sign = (secret: string, method: string, path: string, params: Record<string, string>) =>
  hmacSha256Hex(secret, apiStringToSign(method, path, new Map(Object.entries(params))));

const now = () => String(Math.floor(Date.now() / 1000));

/** `k=v&...` in the given order, values as given (already escaped or raw). */
const join = (pairs: [string, string][]) => pairs.map(([k, v]) => `${k}=${v}`).join('&');

/** PHP json_encode with default flags: escapes `/` and non-ASCII (\uXXXX). */
function phpJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/\//g, '\\/')
    .replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Python json.dumps defaults: `, ` and `: ` separators, ensure_ascii. */
function pyJson(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `[${v.map(pyJson).join(', ')}]`;
  if (typeof v === 'object')
    return `{${Object.entries(v)
      .map(([k, x]) => `${pyJson(k)}: ${pyJson(x)}`)
      .join(', ')}}`;
  return JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go encoding/json: HTML-safe escapes for < > & (and U+2028/2029); map keys come sorted. */
const goJson = (v: unknown) =>
  JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');

async function subscriber(t: Pick<TestGateway, 'wsPort'> & { app: { key: string } }, ...channels: string[]) {
  const c = await RawClient.established(t);
  for (const ch of channels) expect((await c.subscribe(ch)).event).toBe(SUCCEEDED);
  return c;
}

async function presenceMember(t: TestGateway, channel: string, userId: string) {
  const c = await RawClient.established(t);
  const a = t.sdk.authorizeChannel(c.socketId, channel, { user_id: userId, user_info: { name: `user ${userId}` } });
  expect((await c.subscribe(channel, { auth: a.auth, channel_data: a.channel_data })).event).toBe(SUCCEEDED);
  return c;
}

async function signedIn(t: TestGateway, userId: string) {
  const c = await RawClient.established(t);
  const a = t.sdk.authenticateUser(c.socketId, { id: userId });
  c.send({ event: 'pusher:signin', data: { auth: a.auth, user_data: a.user_data } });
  await c.waitFor((f) => f.event === 'pusher:signin_success');
  return c;
}

const userEvents = (c: RawClient) => c.frames.filter((f) => !f.event.startsWith('pusher'));

// ---------------------------------------------------------------------------------------------

describe('pusher-http-php 7.2.6 (Guzzle)', () => {
  const headers = { 'Content-Type': 'application/json', 'X-Pusher-Library': 'pusher-http-php 7.2.6' };

  /** build_auth_query_params: ksort(auth_key, auth_timestamp, auth_version, ...params), then auth_signature appended; Guzzle RFC 3986-encodes values. */
  function phpQuery(t: TestGateway, method: string, path: string, params: Record<string, string>) {
    const all: Record<string, string> = { auth_key: t.app.key, auth_timestamp: now(), auth_version: '1.0', ...params };
    const sorted = Object.keys(all)
      .sort()
      .map((k) => [k, all[k]!] as [string, string]);
    const signature = sign(t.app.secret, method, path, all);
    const pairs: [string, string][] = [...sorted, ['auth_signature', signature]];
    return join(pairs.map(([k, v]) => [k, encodeURIComponent(v)]));
  }

  it('trigger to one channel sends `channel` (not `channels`), PHP-escaped JSON; delivered byte for byte', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'php-channel');
    const data = phpJson({ message: 'a/b ünïcode' });
    expect(data).toBe('{"message":"a\\/b \\u00fcn\\u00efcode"}');
    const body = phpJson({ name: 'php-event', data, channel: 'php-channel' });
    const path = `/apps/${t.app.id}/events`;
    const r = await send(t, 'POST', `${path}?${phpQuery(t, 'POST', path, { body_md5: md5Hex(body) })}`, body, headers);
    expectAccepted(r, '{}');
    const f = await c.waitFor((x) => x.event === 'php-event');
    expect(f).toEqual({ event: 'php-event', channel: 'php-channel', data });
  });

  it('trigger with info and socket_id (array_merge order: name, data, channel, info, socket_id)', async () => {
    await using t = await startTestGateway();
    await using me = await subscriber(t, 'php-info');
    await using other = await subscriber(t, 'php-info');
    const data = phpJson({ n: 1 });
    const body = phpJson({ name: 'php-ev', data, channel: 'php-info', info: 'subscription_count', socket_id: me.socketId });
    const path = `/apps/${t.app.id}/events`;
    const r = await send(t, 'POST', `${path}?${phpQuery(t, 'POST', path, { body_md5: md5Hex(body) })}`, body, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ channels: { 'php-info': { subscription_count: 2 } } });
    await other.waitFor((x) => x.event === 'php-ev');
    const r2 = await send(
      t,
      'POST',
      `${path}?${phpQuery(t, 'POST', path, { body_md5: md5Hex(phpJson({ name: 'after', data: '1', channel: 'php-info' })) })}`,
      phpJson({ name: 'after', data: '1', channel: 'php-info' }),
      headers,
    );
    expectAccepted(r2, '{}');
    await me.waitFor((x) => x.event === 'after');
    expect(userEvents(me).map((f) => f.event)).toEqual(['after']);
  });

  it('getChannelInfo with info=user_count%2Csubscription_count verifies like the raw comma', async () => {
    await using t = await startTestGateway();
    await using a = await presenceMember(t, 'presence-php', '1');
    await using b = await presenceMember(t, 'presence-php', '2');
    const path = `/apps/${t.app.id}/channels/presence-php`;
    const query = phpQuery(t, 'GET', path, { info: 'user_count,subscription_count' });
    expect(query).toContain('info=user_count%2Csubscription_count');
    const r = await send(t, 'GET', `${path}?${query}`, undefined, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ occupied: true, user_count: 2, subscription_count: 2 });
  });

  it('getChannels: `channels` is a JSON object, {} when empty (get_object_vars needs an object)', async () => {
    await using t = await startTestGateway();
    const path = `/apps/${t.app.id}/channels`;
    const empty = await send(t, 'GET', `${path}?${phpQuery(t, 'GET', path, {})}`, undefined, headers);
    expectAccepted(empty, '{"channels":{}}');
    await using c = await presenceMember(t, 'presence-list', '5');
    const q = phpQuery(t, 'GET', path, { filter_by_prefix: 'presence-', info: 'user_count' });
    const r = await send(t, 'GET', `${path}?${q}`, undefined, headers);
    expectAccepted(r, '{"channels":{"presence-list":{"user_count":1}}}');
    const none = await send(t, 'GET', `${path}?${phpQuery(t, 'GET', path, { filter_by_prefix: 'nothing-' })}`, undefined, headers);
    expectAccepted(none, '{"channels":{}}');
  });

  it('getPresenceUsers answers {"users":[...]}', async () => {
    await using t = await startTestGateway();
    await using a = await presenceMember(t, 'presence-pu', '42');
    const path = `/apps/${t.app.id}/channels/presence-pu/users`;
    const r = await send(t, 'GET', `${path}?${phpQuery(t, 'GET', path, {})}`, undefined, headers);
    expectAccepted(r, '{"users":[{"id":"42"}]}');
  });

  it('terminateUserConnections posts the literal body `{}` and gets exactly 200 with a JSON object', async () => {
    await using t = await startTestGateway();
    await using c = await signedIn(t, '77');
    const body = '{}';
    const path = `/apps/${t.app.id}/users/77/terminate_connections`;
    const r = await send(t, 'POST', `${path}?${phpQuery(t, 'POST', path, { body_md5: md5Hex(body) })}`, body, headers);
    expectAccepted(r, '{}');
    expect(await c.closed).toBe(4009);
  });

  it('triggerBatch sends PHP-escaped items with `channel`', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'php-b1', 'php-b2');
    const batch = [
      { channel: 'php-b1', name: 'x', data: phpJson({ url: 'http://a/b' }) },
      { channel: 'php-b2', name: 'y', data: phpJson('plain') },
    ];
    const body = phpJson({ batch });
    const path = `/apps/${t.app.id}/batch_events`;
    const r = await send(t, 'POST', `${path}?${phpQuery(t, 'POST', path, { body_md5: md5Hex(body) })}`, body, headers);
    expectAccepted(r, '{}');
    await expect.poll(() => userEvents(c).length).toBe(2);
    expect(c.events('x')[0]!.data).toBe('{"url":"http:\\/\\/a\\/b"}');
    expect(c.events('y')[0]!.data).toBe('"plain"');
  });
});

describe('pusher-http-python 3.3.3', () => {
  /** make_query_string: every param (auth_signature included) sorted by key, raw values. */
  function pyQuery(t: TestGateway, method: string, path: string, params: Record<string, string>, body: string) {
    const all: Record<string, string> = { ...params, auth_key: t.app.key, body_md5: md5Hex(body), auth_version: '1.0', auth_timestamp: now() };
    all.auth_signature = sign(t.app.secret, method, path, all);
    return join(
      Object.keys(all)
        .sort()
        .map((k) => [k, all[k]!]),
    );
  }
  const postHeaders = { 'Content-Type': 'application/json' };

  it('trigger: json.dumps body with spaces and \\u escapes; data delivered as the SDK encoded it', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'py-a', 'py-b');
    // data_to_string: json.dumps(data, ensure_ascii=False); the body: json.dumps(params) (ensure_ascii=True).
    const data = '{"message": "héllo"}';
    const body = pyJson({ name: 'py-event', channels: ['py-a', 'py-b'], data });
    expect(body).toBe('{"name": "py-event", "channels": ["py-a", "py-b"], "data": "{\\"message\\": \\"h\\u00e9llo\\"}"}');
    const path = `/apps/${t.app.id}/events`;
    const query = pyQuery(t, 'POST', path, {}, body);
    expect(query.indexOf('auth_signature=')).toBeLessThan(query.indexOf('auth_timestamp='));
    const r = await send(t, 'POST', `${path}?${query}`, body, postHeaders);
    expectAccepted(r, '{}');
    await expect.poll(() => userEvents(c).length).toBe(2);
    expect(userEvents(c).map((f) => f.data)).toEqual([data, data]);
  });

  it('channel_info GET carries body_md5 of the empty body and a raw comma in info', async () => {
    await using t = await startTestGateway();
    await using a = await subscriber(t, 'py-info');
    const path = `/apps/${t.app.id}/channels/py-info`;
    const query = pyQuery(t, 'GET', path, { info: 'subscription_count' }, '');
    expect(query).toContain('body_md5=d41d8cd98f00b204e9800998ecf8427e');
    const r = await send(t, 'GET', `${path}?${query}`);
    expectAccepted(r);
    expect(r.json).toEqual({ occupied: true, subscription_count: 1 });

    await using p = await presenceMember(t, 'presence-py', '3');
    const ppath = `/apps/${t.app.id}/channels/presence-py`;
    const pq = pyQuery(t, 'GET', ppath, { info: 'user_count,subscription_count' }, '');
    expect(pq).toContain('info=user_count,subscription_count');
    const pr = await send(t, 'GET', `${ppath}?${pq}`);
    expectAccepted(pr);
    expect(pr.json).toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
  });

  it('channels_info and users_info GETs with body_md5', async () => {
    await using t = await startTestGateway();
    await using p = await presenceMember(t, 'presence-pyl', 'x1');
    const path = `/apps/${t.app.id}/channels`;
    const r = await send(t, 'GET', `${path}?${pyQuery(t, 'GET', path, { info: 'user_count', filter_by_prefix: 'presence-' }, '')}`);
    expectAccepted(r, '{"channels":{"presence-pyl":{"user_count":1}}}');
    const upath = `/apps/${t.app.id}/channels/presence-pyl/users`;
    const u = await send(t, 'GET', `${upath}?${pyQuery(t, 'GET', upath, {}, '')}`);
    expectAccepted(u, '{"users":[{"id":"x1"}]}');
  });

  it('terminate_user_connections at /users/{id}/terminate_connections (no /apps/{id}), signed over that path', async () => {
    await using t = await startTestGateway();
    await using c = await signedIn(t, '10');
    const body = pyJson({});
    expect(body).toBe('{}');
    const path = '/users/10/terminate_connections';
    const r = await send(t, 'POST', `${path}?${pyQuery(t, 'POST', path, {}, body)}`, body, postHeaders);
    expectAccepted(r, '{}');
    expect(await c.closed).toBe(4009);
  });
});

describe('pusher-http-go 5.1.1', () => {
  /** url.Values.Encode() (sorted, auth_signature included) then QueryUnescape: raw values. */
  function goQuery(t: TestGateway, method: string, path: string, params: Record<string, string>, body?: string) {
    const all: Record<string, string> = { auth_key: t.app.key, auth_timestamp: now(), auth_version: '1.0', ...params };
    if (body !== undefined) all.body_md5 = md5Hex(body);
    all.auth_signature = sign(t.app.secret, method, path, all);
    return join(
      Object.keys(all)
        .sort()
        .map((k) => [k, all[k]!]),
    );
  }
  const headers = { 'Content-Type': 'application/json' };

  it('trigger: body with \\u003c \\u003e \\u0026 escapes (md5 over raw bytes), data delivered as the exact string', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'go-a');
    await using excluded = await subscriber(t, 'go-a');
    const data = '<b>Tom & Jerry</b>';
    // map[string]interface{} keys are marshalled sorted: channels, data, info, name, socket_id.
    const body = goJson({ channels: ['go-a'], data, info: 'subscription_count', name: 'go-event', socket_id: excluded.socketId });
    expect(body).toContain('"data":"\\u003cb\\u003eTom \\u0026 Jerry\\u003c/b\\u003e"');
    expect(md5Hex(body)).not.toBe(md5Hex(JSON.stringify(JSON.parse(body))));
    const path = `/apps/${t.app.id}/events`;
    const r = await send(t, 'POST', `${path}?${goQuery(t, 'POST', path, {}, body)}`, body, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ channels: { 'go-a': { subscription_count: 2 } } });
    const f = await c.waitFor((x) => x.event === 'go-event');
    expect(f.data).toBe(data);
    // Object data: json.Marshal escapes inside the data string too, and that string is delivered as is.
    const objData = goJson({ html: '<i>' });
    const body2 = goJson({ channels: ['go-a'], data: objData, name: 'go-obj' });
    const r2 = await send(t, 'POST', `${path}?${goQuery(t, 'POST', path, {}, body2)}`, body2, headers);
    expectAccepted(r2, '{}');
    const f2 = await excluded.waitFor((x) => x.event === 'go-obj');
    expect(f2.data).toBe('{"html":"\\u003ci\\u003e"}');
    expect(excluded.events('go-event')).toEqual([]);
  });

  it('GET channel with info=user_count,subscription_count (raw comma, no body_md5)', async () => {
    await using t = await startTestGateway();
    await using p = await presenceMember(t, 'presence-go', 'g');
    const path = `/apps/${t.app.id}/channels/presence-go`;
    const query = goQuery(t, 'GET', path, { info: 'user_count,subscription_count' });
    expect(query).not.toContain('body_md5');
    const r = await send(t, 'GET', `${path}?${query}`, undefined, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
  });

  it('TriggerBatch: struct field order channel, name, data, socket_id, info', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'go-b');
    const body = goJson({
      batch: [
        { channel: 'go-b', name: 'one', data: '1 & 2' },
        { channel: 'go-b', name: 'two', data: '<2>', info: 'subscription_count' },
      ],
    });
    const path = `/apps/${t.app.id}/batch_events`;
    const r = await send(t, 'POST', `${path}?${goQuery(t, 'POST', path, {}, body)}`, body, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ batch: [{}, { subscription_count: 1 }] });
    await expect.poll(() => userEvents(c).map((f) => f.data)).toEqual(['1 & 2', '<2>']);
  });
});

describe('pusher-http-ruby 2.1.0', () => {
  /** signed_params = query.merge(auth_version, auth_key, auth_timestamp, auth_signature), escaped (`,` → %2C); signed over sorted raw values. */
  function rbQuery(t: TestGateway, method: string, path: string, params: Record<string, string>) {
    const auth: Record<string, string> = { auth_version: '1.0', auth_key: t.app.key, auth_timestamp: now() };
    const signature = sign(t.app.secret, method, path, { ...params, ...auth });
    const escape = (s: string) => s.replace(/[^a-zA-Z0-9_.-]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`);
    return join(Object.entries({ ...params, ...auth, auth_signature: signature }).map(([k, v]) => [escape(k), escape(v)]));
  }
  const headers = { 'Content-Type': 'application/json' };

  it('trigger: params merged first (socket_id, name, channels, data), UTF-8 body, unsorted query', async () => {
    await using t = await startTestGateway();
    await using me = await subscriber(t, 'rb-a', 'rb-b');
    await using other = await subscriber(t, 'rb-a', 'rb-b');
    const data = JSON.stringify({ message: 'héllo ✓' });
    const body = JSON.stringify({ socket_id: me.socketId, name: 'rb-event', channels: ['rb-a', 'rb-b'], data });
    const path = `/apps/${t.app.id}/events`;
    const query = rbQuery(t, 'POST', path, { body_md5: md5Hex(body) });
    expect(query.startsWith('body_md5=')).toBe(true);
    const r = await send(t, 'POST', `${path}?${query}`, body, headers);
    expectAccepted(r, '{}');
    await expect.poll(() => userEvents(other).length).toBe(2);
    expect(userEvents(other).map((f) => f.data)).toEqual([data, data]);
    expect(userEvents(me)).toEqual([]);
  });

  it('channel_info GET: info first and %2C-escaped', async () => {
    await using t = await startTestGateway();
    await using p = await presenceMember(t, 'presence-rb', 'r');
    const path = `/apps/${t.app.id}/channels/presence-rb`;
    const query = rbQuery(t, 'GET', path, { info: 'user_count,subscription_count' });
    expect(query.startsWith('info=user_count%2Csubscription_count&auth_version=1.0&auth_key=')).toBe(true);
    const r = await send(t, 'GET', `${path}?${query}`, undefined, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
  });
});

describe('pusher-http-java 1.3', () => {
  const headers = { 'Content-Type': 'application/json' };
  /** HashMap iteration order (not sorted) through URIBuilder (`,` → %2C). */
  function javaQuery(t: TestGateway, method: string, path: string, params: Record<string, string>) {
    const all: Record<string, string> = { ...params, auth_key: t.app.key, auth_version: '1.0', auth_timestamp: now() };
    all.auth_signature = sign(t.app.secret, method, path, all);
    const order = ['auth_version', 'body_md5', 'info', 'auth_signature', 'auth_key', 'auth_timestamp'].filter((k) => k in all);
    return join(order.map((k) => [k, encodeURIComponent(all[k]!)]));
  }

  it('trigger: Gson field order channels, name, data, socket_id; data marshalled even when a string', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'java-a', 'java-b');
    const data = JSON.stringify('hello');
    const body = JSON.stringify({ channels: ['java-a', 'java-b'], name: 'java-event', data, socket_id: '1234.5678' });
    const path = `/apps/${t.app.id}/events`;
    const r = await send(t, 'POST', `${path}?${javaQuery(t, 'POST', path, { body_md5: md5Hex(body) })}`, body, headers);
    expectAccepted(r, '{}');
    await expect
      .poll(() => userEvents(c).map((f) => [f.channel, f.data]))
      .toEqual([
        ['java-a', '"hello"'],
        ['java-b', '"hello"'],
      ]);
  });

  it('GET channel with info (%2C)', async () => {
    await using t = await startTestGateway();
    await using p = await presenceMember(t, 'presence-java', 'j');
    const path = `/apps/${t.app.id}/channels/presence-java`;
    const r = await send(t, 'GET', `${path}?${javaQuery(t, 'GET', path, { info: 'user_count,subscription_count' })}`, undefined, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
  });
});

describe('PusherServer (.NET) 5.x', () => {
  const headers = { 'Content-Type': 'application/json; charset=utf-8', Accept: 'application/json' };
  /** `auth_key=..&auth_timestamp=..&auth_version=1.0&body_md5=..` then `&auth_signature=`. */
  function netQuery(t: TestGateway, path: string, body: string) {
    const all = { auth_key: t.app.key, auth_timestamp: now(), auth_version: '1.0', body_md5: md5Hex(body) };
    return `${join(Object.entries(all))}&auth_signature=${sign(t.app.secret, 'POST', path, all)}`;
  }

  it('trigger with socket_id and info (raw commas in the body)', async () => {
    await using t = await startTestGateway();
    await using me = await subscriber(t, 'net-a', 'net-b');
    await using other = await subscriber(t, 'net-a');
    // TriggerBody {name, data, channels, socket_id, info} through JsonConvert.SerializeObject; data serialised even for strings.
    const data = JSON.stringify('hello');
    const body = JSON.stringify({ name: 'net-event', data, channels: ['net-a', 'net-b'], socket_id: me.socketId, info: 'user_count,subscription_count' });
    const path = `/apps/${t.app.id}/events`;
    const r = await send(t, 'POST', `${path}?${netQuery(t, path, body)}`, body, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ channels: { 'net-a': { subscription_count: 2 }, 'net-b': { subscription_count: 1 } } });
    const f = await other.waitFor((x) => x.event === 'net-event');
    expect(f.data).toBe('"hello"');
  });

  it('trigger without options: Newtonsoft writes "socket_id":null and "info":null', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'net-plain');
    const data = JSON.stringify({ message: 'hi' });
    const body = JSON.stringify({ name: 'net-plain-event', data, channels: ['net-plain'], socket_id: null, info: null });
    expect(body).toBe('{"name":"net-plain-event","data":"{\\"message\\":\\"hi\\"}","channels":["net-plain"],"socket_id":null,"info":null}');
    const path = `/apps/${t.app.id}/events`;
    const r = await send(t, 'POST', `${path}?${netQuery(t, path, body)}`, body, headers);
    expectAccepted(r, '{}');
    const f = await c.waitFor((x) => x.event === 'net-plain-event');
    expect(f.data).toBe(data);
  });

  it('TriggerAsync(Event[]): batch items {name, data, channel, socket_id:null}', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'net-batch');
    const body = JSON.stringify({
      batch: [
        { name: 'one', data: JSON.stringify({ n: 1 }), channel: 'net-batch', socket_id: null },
        { name: 'two', data: JSON.stringify('two'), channel: 'net-batch', socket_id: null },
      ],
    });
    const path = `/apps/${t.app.id}/batch_events`;
    const r = await send(t, 'POST', `${path}?${netQuery(t, path, body)}`, body, headers);
    expectAccepted(r, '{}');
    await expect.poll(() => userEvents(c).map((f) => f.data)).toEqual(['{"n":1}', '"two"']);
  });
});

describe('webman/push PHP Api', () => {
  const headers = { 'Content-Type': 'application/json' };
  /** buildAuthQueryString: auth_key, auth_timestamp (no auth_version) + params, ksort, sign, append auth_signature; raw values. */
  function wmQuery(t: TestGateway, method: string, path: string, params: Record<string, string>) {
    const all: Record<string, string> = { auth_key: t.app.key, auth_timestamp: now(), ...params };
    const sorted = Object.keys(all)
      .sort()
      .map((k) => [k, all[k]!] as [string, string]);
    return `${join(sorted)}&auth_signature=${sign(t.app.secret, method, path, all)}`;
  }

  it('trigger at /apps/1024 (not the app id), no auth_version, data always json_encoded', async () => {
    await using t = await startTestGateway();
    expect(t.app.id).not.toBe('1024');
    await using c = await subscriber(t, 'wm-channel');
    const path = '/apps/1024/events';
    const strBody = phpJson({ name: 'wm-string', data: phpJson('hello'), channels: ['wm-channel'] });
    expect(strBody).toBe('{"name":"wm-string","data":"\\"hello\\"","channels":["wm-channel"]}');
    const q = wmQuery(t, 'POST', path, { body_md5: md5Hex(strBody) });
    expect(q).not.toContain('auth_version');
    const r = await send(t, 'POST', `${path}?${q}`, strBody, headers);
    expectAccepted(r, '{}');
    const f = await c.waitFor((x) => x.event === 'wm-string');
    expect(f.data).toBe('"hello"');
    expect(c.rawFrames).toContain('{"event":"wm-string","channel":"wm-channel","data":"\\"hello\\""}');

    const objBody = phpJson({ name: 'wm-object', data: phpJson({ url: 'a/b' }), channels: ['wm-channel'], socket_id: '1.1' });
    const r2 = await send(t, 'POST', `${path}?${wmQuery(t, 'POST', path, { body_md5: md5Hex(objBody) })}`, objBody, headers);
    expectAccepted(r2, '{}');
    const f2 = await c.waitFor((x) => x.event === 'wm-object');
    expect(f2.data).toBe('{"url":"a\\/b"}');
  });

  it('getChannelInfo and getChannels at /apps/1024 with raw info values', async () => {
    await using t = await startTestGateway();
    await using c = await subscriber(t, 'wm-info');
    const path = '/apps/1024/channels/wm-info';
    const r = await send(t, 'GET', `${path}?${wmQuery(t, 'GET', path, { info: 'subscription_count' })}`, undefined, headers);
    expectAccepted(r);
    expect(r.json).toEqual({ occupied: true, subscription_count: 1 });
    const lpath = '/apps/1024/channels';
    const l = await send(t, 'GET', `${lpath}?${wmQuery(t, 'GET', lpath, {})}`, undefined, headers);
    expectAccepted(l, '{"channels":{"wm-info":{}}}');
  });
});

describe('docs/reference/rest-api.md worked examples', () => {
  const key = '278d425bdf160c739803';
  const secret = '7ad3773142a6692b25b8';
  const vectorApp = { id: '3', key, secret };

  it('Vector A (Pusher docs): same bytes verify with a current timestamp; the 2012 timestamp is expired', async () => {
    await using t = await startTestGateway({ apps: [vectorApp] });
    const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
    expect(md5Hex(body)).toBe('ec365a775a4cd0599faeb73354201b6f');
    const at = (ts: string) => ({ auth_key: key, auth_timestamp: ts, auth_version: '1.0', body_md5: md5Hex(body) });
    expect(sign(secret, 'POST', '/apps/3/events', at('1353088179'))).toBe('da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c');
    await using c = await subscriber(t, 'project-3');
    const old = at('1353088179');
    const rOld = await send(
      t,
      'POST',
      `/apps/3/events?${join(Object.entries(old))}&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c`,
      body,
      { 'Content-Type': 'application/json' },
    );
    expect(rOld.status).toBe(401);
    expect(rOld.json.error).toContain('Timestamp expired');
    const cur = at(now());
    const r = await send(t, 'POST', `/apps/3/events?${join(Object.entries(cur))}&auth_signature=${sign(secret, 'POST', '/apps/3/events', cur)}`, body, {
      'Content-Type': 'application/json',
    });
    expectAccepted(r, '{}');
    const f = await c.waitFor((x) => x.event === 'foo');
    expect(f).toEqual({ event: 'foo', channel: 'project-3', data: '{"some":"data"}' });
  });

  it('Vector B: socket_id exclusion and info, exact response', async () => {
    await using t = await startTestGateway({ apps: [vectorApp] });
    const path = '/apps/3/events';
    const bodyFor = (socketId: string) =>
      `{"name":"my-event","data":"{\\"message\\":\\"hello world\\"}","channels":["my-channel","presence-foobar"],"socket_id":"${socketId}","info":"user_count,subscription_count"}`;
    // The documented bytes and signature, reproduced.
    const docBody = bodyFor('1234.1234');
    expect(md5Hex(docBody)).toBe('e8cf0fa12cd6e76e50ceff2647985a3d');
    const docParams = { auth_key: key, auth_timestamp: '1700000000', auth_version: '1.0', body_md5: md5Hex(docBody) };
    expect(apiStringToSign('POST', path, new Map(Object.entries(docParams)))).toBe(
      'POST\n/apps/3/events\nauth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=e8cf0fa12cd6e76e50ceff2647985a3d',
    );
    expect(sign(secret, 'POST', path, docParams)).toBe('c22d60e2ce62fa102003f0d16069bc71010d193e2e84b7523015e68fdfd61fa3');

    // One subscriber of presence-foobar as user 10; its own socket is the excluded one.
    const member = await RawClient.established(t);
    try {
      const a = t.sdk.authorizeChannel(member.socketId, 'presence-foobar', { user_id: '10', user_info: { name: 'Mr. Pusher' } });
      expect((await member.subscribe('presence-foobar', { auth: a.auth, channel_data: a.channel_data })).event).toBe(SUCCEEDED);
      const body = bodyFor(member.socketId);
      const params = { auth_key: key, auth_timestamp: now(), auth_version: '1.0', body_md5: md5Hex(body) };
      const query = `${join(Object.entries(params))}&auth_signature=${sign(secret, 'POST', path, params)}`;

      // Negative checks first: a changed byte, an upper-cased signature.
      const changed = await send(t, 'POST', `${path}?${query}`, body.replace('hello world', 'hello World'), { 'Content-Type': 'application/json' });
      expect(changed.status).toBe(401);
      const upper = query.replace(/auth_signature=([0-9a-f]+)$/, (_, s: string) => `auth_signature=${s.toUpperCase()}`);
      expect((await send(t, 'POST', `${path}?${upper}`, body, { 'Content-Type': 'application/json' })).status).toBe(401);

      const r = await send(t, 'POST', `${path}?${query}`, body, { 'Content-Type': 'application/json' });
      expectAccepted(r, '{"channels":{"my-channel":{"subscription_count":0},"presence-foobar":{"user_count":1,"subscription_count":1}}}');
      // No frame for the excluded socket: a later event is the first it gets.
      await t.sdk.trigger('presence-foobar', 'later', 'x');
      await member.waitFor((f) => f.event === 'later');
      expect(userEvents(member).map((f) => f.event)).toEqual(['later']);
    } finally {
      await member[Symbol.asyncDispose]();
    }
  });
});
