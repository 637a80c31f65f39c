import { createRequire } from 'node:module';
import Pusher from 'pusher';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { API_TIMESTAMP_WINDOW_S, apiStringToSign, parseQueryString, signApiRequest, verifyApiRequest, type ApiAuthResult } from './api-signature.js';
import { hmacSha256Hex, md5Hex } from './signature.js';

const KEY = '278d425bdf160c739803';
const SECRET = '7ad3773142a6692b25b8';
const APP = { key: KEY, secret: SECRET };
const TS = 1700000000;

/** Verifies a raw query string the way the HTTP layer does: parse, then check against the given paths. */
function verify(opts: {
  method: string;
  path: string | string[];
  query: string;
  body?: string | Buffer;
  nowS?: number;
  app?: { key: string; secret: string };
}): ApiAuthResult {
  const body = opts.body === undefined ? undefined : Buffer.isBuffer(opts.body) ? opts.body : Buffer.from(opts.body);
  return verifyApiRequest({
    app: opts.app ?? APP,
    method: opts.method,
    paths: Array.isArray(opts.path) ? opts.path : [opts.path],
    params: parseQueryString(opts.query),
    rawBody: body,
    nowMs: (opts.nowS ?? TS) * 1000,
  });
}

describe('parseQueryString', () => {
  it('percent-decodes keys and values, lower-cases keys, strips a leading ?', () => {
    const m = parseQueryString('?Auth_Key=abc&info=user_count%2Csubscription_count&filter_by_prefix=presence-');
    expect([...m]).toEqual([
      ['auth_key', 'abc'],
      ['info', 'user_count,subscription_count'],
      ['filter_by_prefix', 'presence-'],
    ]);
  });

  it('treats + literally, keeps bare keys as empty values, skips empty parts', () => {
    const m = parseQueryString('a=1+2&&flag&b=');
    expect(m.get('a')).toBe('1+2');
    expect(m.get('flag')).toBe('');
    expect(m.get('b')).toBe('');
    expect(m.size).toBe(3);
  });

  it('splits on the first = only', () => {
    expect(parseQueryString('a=b=c').get('a')).toBe('b=c');
  });

  it('joins repeated keys (PHP array syntax) with commas', () => {
    const m = parseQueryString('info%5B%5D=user_count&info[]=subscription_count');
    expect(m.get('info[]')).toBe('user_count,subscription_count');
  });

  it('keeps malformed percent-escapes as they are', () => {
    expect(parseQueryString('a=%zz&b=100%').get('a')).toBe('%zz');
    expect(parseQueryString('a=%zz&b=100%').get('b')).toBe('100%');
  });

  it('empty input gives an empty map', () => {
    expect(parseQueryString('').size).toBe(0);
    expect(parseQueryString('?').size).toBe(0);
  });
});

describe('apiStringToSign', () => {
  it('upper-cases the method, sorts keys, excludes auth_signature, does not escape', () => {
    const params = new Map([
      ['info', 'a,b'],
      ['auth_signature', 'xxx'],
      ['auth_key', 'k'],
      ['filter_by_prefix', 'presence-'],
    ]);
    expect(apiStringToSign('get', '/apps/3/channels', params)).toBe('GET\n/apps/3/channels\nauth_key=k&filter_by_prefix=presence-&info=a,b');
  });
});

describe('docs/reference/rest-api.md worked examples', () => {
  it('Vector A: Pusher documented example', () => {
    const body = '{"name":"foo","channels":["project-3"],"data":"{\\"some\\":\\"data\\"}"}';
    expect(md5Hex(body)).toBe('ec365a775a4cd0599faeb73354201b6f');
    const query = 'auth_key=278d425bdf160c739803&auth_timestamp=1353088179&auth_version=1.0&body_md5=ec365a775a4cd0599faeb73354201b6f';
    const toSign = apiStringToSign('POST', '/apps/3/events', parseQueryString(query));
    expect(toSign).toBe(`POST\n/apps/3/events\n${query}`);
    expect(hmacSha256Hex(SECRET, toSign)).toBe('da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c');
    const signed = signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/events', body, timestamp: 1353088179 });
    expect(signed).toBe(`${query}&auth_signature=da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c`);
    expect(verify({ method: 'POST', path: '/apps/3/events', query: signed, body, nowS: 1353088179 })).toEqual({ ok: true });
  });

  describe('Vector B: POST /events (main vector)', () => {
    const body =
      '{"name":"my-event","data":"{\\"message\\":\\"hello world\\"}","channels":["my-channel","presence-foobar"],"socket_id":"1234.1234","info":"user_count,subscription_count"}';
    const unsigned = 'auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=e8cf0fa12cd6e76e50ceff2647985a3d';
    const sig = 'c22d60e2ce62fa102003f0d16069bc71010d193e2e84b7523015e68fdfd61fa3';
    const query = `${unsigned}&auth_signature=${sig}`;

    it('body_md5, string to sign, signature and request line', () => {
      expect(md5Hex(body)).toBe('e8cf0fa12cd6e76e50ceff2647985a3d');
      const toSign = apiStringToSign('POST', '/apps/3/events', parseQueryString(unsigned));
      expect(toSign).toBe(`POST\n/apps/3/events\n${unsigned}`);
      expect(hmacSha256Hex(SECRET, toSign)).toBe(sig);
      const signed = signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/events', body, timestamp: TS });
      expect(`POST /apps/3/events?${signed}`).toBe(
        'POST /apps/3/events?auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=e8cf0fa12cd6e76e50ceff2647985a3d&auth_signature=c22d60e2ce62fa102003f0d16069bc71010d193e2e84b7523015e68fdfd61fa3',
      );
    });

    it('verifies, also at the edges of the ±600 s window', () => {
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body })).toEqual({ ok: true });
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body, nowS: TS + 600 })).toEqual({ ok: true });
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body, nowS: TS - 600 })).toEqual({ ok: true });
      expect(API_TIMESTAMP_WINDOW_S).toBe(600);
    });

    it('negative: server clock 1700000601 → 401 timestamp expired', () => {
      const r = verify({ method: 'POST', path: '/apps/3/events', query, body, nowS: 1700000601 });
      expect(r).toEqual({
        ok: false,
        status: 401,
        message: 'Timestamp expired: Given timestamp (2023-11-14T22:13:20.000Z) not within 600s of server time (2023-11-14T22:23:21.000Z)',
      });
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body, nowS: TS - 601 })).toMatchObject({ ok: false, status: 401 });
    });

    it('negative: any body byte changed → 401', () => {
      const changed = body.replace('hello world', 'hello worle');
      expect(changed).not.toBe(body);
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body: changed })).toEqual({
        ok: false,
        status: 401,
        message: 'Invalid body_md5',
      });
      // Flipping one byte in a Buffer body is detected too.
      const buf = Buffer.from(body);
      buf.writeUInt8(buf.readUInt8(buf.length - 2) ^ 1, buf.length - 2);
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body: buf })).toMatchObject({ ok: false, status: 401 });
    });

    it('negative: upper-cased auth_signature → 401', () => {
      const upper = `${unsigned}&auth_signature=${sig.toUpperCase()}`;
      const r = verify({ method: 'POST', path: '/apps/3/events', query: upper, body });
      expect(r.ok).toBe(false);
      expect(!r.ok && r.status).toBe(401);
      expect(!r.ok && r.message).toBe(
        `Invalid signature: you should have sent HmacSHA256Hex(${JSON.stringify(`POST\n/apps/3/events\n${unsigned}`)}, your_secret_key), but you sent "${sig.toUpperCase()}"`,
      );
    });

    it('negative: another path, method or secret → 401', () => {
      expect(verify({ method: 'POST', path: '/apps/4/events', query, body })).toMatchObject({ ok: false, status: 401 });
      expect(verify({ method: 'PUT', path: '/apps/3/events', query, body })).toMatchObject({ ok: false, status: 401 });
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body, app: { key: KEY, secret: 'x' } })).toMatchObject({
        ok: false,
        status: 401,
      });
    });

    it('negative: an added query param is inside the signature → 401', () => {
      expect(verify({ method: 'POST', path: '/apps/3/events', query: `${query}&extra=1`, body })).toMatchObject({ ok: false, status: 401 });
    });
  });

  it('Vector C: GET /channels with filter_by_prefix and info', () => {
    const sorted = 'auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&filter_by_prefix=presence-&info=user_count';
    const toSign = apiStringToSign('GET', '/apps/3/channels', parseQueryString(sorted));
    expect(toSign).toBe(`GET\n/apps/3/channels\n${sorted}`);
    const sig = '5142c71a4248ef5f3ec45e8793d8997773f1d19ce69ee6f6b1d75131d8aa0a6a';
    expect(hmacSha256Hex(SECRET, toSign)).toBe(sig);
    const signed = signApiRequest({
      key: KEY,
      secret: SECRET,
      method: 'GET',
      path: '/apps/3/channels',
      params: { info: 'user_count', filter_by_prefix: 'presence-' },
      timestamp: TS,
    });
    expect(signed).toBe(`${sorted}&auth_signature=${sig}`);
    expect(verify({ method: 'GET', path: '/apps/3/channels', query: signed })).toEqual({ ok: true });
    // Param order in the received query does not matter.
    expect(
      verify({
        method: 'GET',
        path: '/apps/3/channels',
        query: `info=user_count&auth_signature=${sig}&filter_by_prefix=presence-&auth_version=1.0&auth_timestamp=1700000000&auth_key=${KEY}`,
      }),
    ).toEqual({ ok: true });
  });

  describe('Vector D: GET one channel, python-style body_md5 on GET, comma in value', () => {
    const sorted =
      'auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=d41d8cd98f00b204e9800998ecf8427e&info=user_count,subscription_count';
    const sig = '90c33e972fdf98ec23be33ef7110d02fdeed66a6572832d3af2eaeb57d2e9cd1';
    const path = '/apps/3/channels/presence-foobar';

    it('string to sign and signature', () => {
      const toSign = apiStringToSign('GET', path, parseQueryString(sorted));
      expect(toSign).toBe(`GET\n${path}\n${sorted}`);
      expect(hmacSha256Hex(SECRET, toSign)).toBe(sig);
    });

    it('raw comma (Node/Go/Python) verifies, with or without an empty body', () => {
      expect(verify({ method: 'GET', path, query: `${sorted}&auth_signature=${sig}` })).toEqual({ ok: true });
      expect(verify({ method: 'GET', path, query: `${sorted}&auth_signature=${sig}`, body: '' })).toEqual({ ok: true });
    });

    it('PHP-encoded %2C verifies to the same signature', () => {
      const php = `${sorted.replace('user_count,subscription_count', 'user_count%2Csubscription_count')}&auth_signature=${sig}`;
      expect(php).toContain('info=user_count%2Csubscription_count');
      expect(verify({ method: 'GET', path, query: php })).toEqual({ ok: true });
      // lower-case escape too
      expect(verify({ method: 'GET', path, query: php.replace('%2C', '%2c') })).toEqual({ ok: true });
    });

    it('a body_md5 that is not md5("") on an empty body → 401', () => {
      const q = `${sorted.replace('d41d8cd98f00b204e9800998ecf8427e', '99914b932bd37a50b983c5e7c90ae93b')}&auth_signature=${sig}`;
      expect(verify({ method: 'GET', path, query: q })).toEqual({ ok: false, status: 401, message: 'Invalid body_md5' });
    });
  });

  it('Vector E: terminate connections with body {}', () => {
    const body = '{}';
    expect(md5Hex(body)).toBe('99914b932bd37a50b983c5e7c90ae93b');
    const path = '/apps/3/users/10/terminate_connections';
    const unsigned = 'auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=99914b932bd37a50b983c5e7c90ae93b';
    const toSign = apiStringToSign('POST', path, parseQueryString(unsigned));
    expect(toSign).toBe(`POST\n${path}\n${unsigned}`);
    const sig = '0949f16377da57e45fb7669618c0a018f76db96d7b5774fc83889463853512c0';
    expect(hmacSha256Hex(SECRET, toSign)).toBe(sig);
    const signed = signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path, body, timestamp: TS });
    expect(signed).toBe(`${unsigned}&auth_signature=${sig}`);
    expect(verify({ method: 'POST', path, query: signed, body })).toEqual({ ok: true });
  });

  it('Vector F: batch_events', () => {
    const body =
      '{"batch":[{"channel":"my-channel","name":"a","data":"{\\"x\\":1}"},{"channel":"presence-foobar","name":"b","data":"{\\"x\\":2}","info":"user_count"}]}';
    expect(md5Hex(body)).toBe('42cf6b407a3c5b9e05cba7aa0bd8fc22');
    const unsigned = 'auth_key=278d425bdf160c739803&auth_timestamp=1700000000&auth_version=1.0&body_md5=42cf6b407a3c5b9e05cba7aa0bd8fc22';
    const toSign = apiStringToSign('POST', '/apps/3/batch_events', parseQueryString(unsigned));
    expect(toSign).toBe(`POST\n/apps/3/batch_events\n${unsigned}`);
    const sig = '3783a4695c801aede0f201ca541ffc37c40a6acdd160bf54bdb2499cce603b85';
    expect(hmacSha256Hex(SECRET, toSign)).toBe(sig);
    const signed = signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/batch_events', body, timestamp: TS });
    expect(signed).toBe(`${unsigned}&auth_signature=${sig}`);
    expect(verify({ method: 'POST', path: '/apps/3/batch_events', query: signed, body })).toEqual({ ok: true });
  });
});

describe('verifyApiRequest: other checks (docs/reference/rest-api.md#request-signing)', () => {
  const body = '{"name":"e","channel":"c","data":"d"}';
  const signed = (over: Partial<Parameters<typeof signApiRequest>[0]> = {}) =>
    signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/events', body, timestamp: TS, ...over });

  it('missing auth params → 401', () => {
    const q = signed();
    for (const drop of ['auth_key', 'auth_timestamp', 'auth_signature']) {
      const query = q
        .split('&')
        .filter((p) => !p.startsWith(`${drop}=`))
        .join('&');
      expect(verify({ method: 'POST', path: '/apps/3/events', query, body })).toEqual({
        ok: false,
        status: 401,
        message: 'Missing auth params: auth_key, auth_timestamp and auth_signature are required',
      });
    }
  });

  it('unknown auth_key → 400', () => {
    const q = signApiRequest({ key: 'otherkey', secret: SECRET, method: 'POST', path: '/apps/3/events', body, timestamp: TS });
    expect(verify({ method: 'POST', path: '/apps/3/events', query: q, body })).toEqual({ ok: false, status: 400, message: 'Unknown auth_key' });
  });

  it('auth_version other than 1.0 → 401; absent (webman) is accepted', () => {
    const params = parseQueryString(signed());
    params.set('auth_version', '2.0');
    expect(verifyApiRequest({ app: APP, method: 'POST', paths: ['/apps/3/events'], params, rawBody: Buffer.from(body), nowMs: TS * 1000 })).toMatchObject({
      ok: false,
      status: 401,
      message: 'Unsupported auth_version: 2.0',
    });

    // webman/push signs without auth_version.
    const noVersion = new Map([
      ['auth_key', KEY],
      ['auth_timestamp', String(TS)],
      ['body_md5', md5Hex(body)],
    ]);
    noVersion.set('auth_signature', hmacSha256Hex(SECRET, apiStringToSign('POST', '/apps/3/events', noVersion)));
    expect(verifyApiRequest({ app: APP, method: 'POST', paths: ['/apps/3/events'], params: noVersion, rawBody: Buffer.from(body), nowMs: TS * 1000 })).toEqual({
      ok: true,
    });
  });

  it('non-numeric timestamps → 401', () => {
    for (const ts of ['abc', '', '1700000000.5', '-1700000000', '1e9', '1234567890123']) {
      const params = parseQueryString(signed());
      params.set('auth_timestamp', ts);
      params.set('auth_signature', hmacSha256Hex(SECRET, apiStringToSign('POST', '/apps/3/events', params)));
      const r = verifyApiRequest({ app: APP, method: 'POST', paths: ['/apps/3/events'], params, rawBody: Buffer.from(body), nowMs: TS * 1000 });
      expect(r.ok, ts).toBe(false);
      expect(!r.ok && r.status).toBe(401);
      expect(!r.ok && r.message).toMatch(/^Timestamp expired/);
    }
  });

  it('a body without body_md5 → 401', () => {
    const q = signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/events', timestamp: TS });
    expect(q).not.toContain('body_md5');
    expect(verify({ method: 'POST', path: '/apps/3/events', query: q, body })).toEqual({
      ok: false,
      status: 401,
      message: 'Missing body_md5 for a request with a body',
    });
  });

  it('tries each candidate path in order (as received, then decoded)', () => {
    const decoded = '/apps/3/channels/presence-a,b;c@d=e';
    const encoded = '/apps/3/channels/presence-a%2Cb%3Bc%40d%3De';
    const q = signApiRequest({ key: KEY, secret: SECRET, method: 'GET', path: decoded, timestamp: TS });
    expect(verify({ method: 'GET', path: [encoded, decodeURIComponent(encoded)], query: q })).toEqual({ ok: true });
    expect(verify({ method: 'GET', path: [encoded], query: q })).toMatchObject({ ok: false, status: 401 });
    const q2 = signApiRequest({ key: KEY, secret: SECRET, method: 'GET', path: encoded, timestamp: TS });
    expect(verify({ method: 'GET', path: [encoded, decoded], query: q2 })).toEqual({ ok: true });
  });

  it('the failure message names the first candidate path', () => {
    const q = signApiRequest({ key: KEY, secret: SECRET, method: 'GET', path: '/x', timestamp: TS });
    const r = verify({ method: 'GET', path: ['/a', '/b'], query: q });
    expect(!r.ok && r.message).toContain(JSON.stringify(`GET\n/a\n`).slice(0, -1));
  });

  it('lower-case method is signed and verified as upper case', () => {
    const q = signApiRequest({ key: KEY, secret: SECRET, method: 'get', path: '/apps/3/channels', timestamp: TS });
    expect(verify({ method: 'GET', path: '/apps/3/channels', query: q })).toEqual({ ok: true });
    expect(verify({ method: 'get', path: '/apps/3/channels', query: q })).toEqual({ ok: true });
  });

  it('signApiRequest percent-encodes values and the result round-trips through verification', () => {
    const q = signApiRequest({
      key: KEY,
      secret: SECRET,
      method: 'GET',
      path: '/apps/3/channels',
      params: { info: 'user_count,subscription_count', filter_by_prefix: 'presence-a&b=c' },
      timestamp: TS,
    });
    expect(q).toContain('info=user_count%2Csubscription_count');
    expect(q).toContain('filter_by_prefix=presence-a%26b%3Dc');
    expect(parseQueryString(q).get('filter_by_prefix')).toBe('presence-a&b=c');
    expect(verify({ method: 'GET', path: '/apps/3/channels', query: q })).toEqual({ ok: true });
  });

  it('signApiRequest defaults the timestamp to now', () => {
    const q = signApiRequest({ key: KEY, secret: SECRET, method: 'GET', path: '/apps/3/channels' });
    const ts = Number(parseQueryString(q).get('auth_timestamp'));
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(5);
    expect(verifyApiRequest({ app: APP, method: 'GET', paths: ['/apps/3/channels'], params: parseQueryString(q), rawBody: undefined })).toEqual({
      ok: true,
    });
  });
});

describe('cross-check with the official pusher npm package (pusher-http-node 5.3.4)', () => {
  const require = createRequire(import.meta.url);
  const requests = require('pusher/lib/requests.js') as {
    createSignedQueryString(token: unknown, req: { method: string; path: string; params?: Record<string, string>; body?: string }): string;
  };
  const pusher = new Pusher({ appId: '3', key: KEY, secret: SECRET, cluster: 'mt1' }) as unknown as { config: { token: unknown } };

  afterEach(() => {
    vi.useRealTimers();
  });

  it('Vector B signed by pusher-http-node is byte-identical to signApiRequest and verifies', () => {
    vi.useFakeTimers();
    vi.setSystemTime(TS * 1000);
    const body =
      '{"name":"my-event","data":"{\\"message\\":\\"hello world\\"}","channels":["my-channel","presence-foobar"],"socket_id":"1234.1234","info":"user_count,subscription_count"}';
    const theirs = requests.createSignedQueryString(pusher.config.token, { method: 'POST', path: '/apps/3/events', body });
    const ours = signApiRequest({ key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/events', body, timestamp: TS });
    expect(theirs).toBe(ours);
    expect(verify({ method: 'POST', path: '/apps/3/events', query: theirs, body })).toEqual({ ok: true });
  });

  it('GET with a comma in info: their raw comma and our %2C verify to the same signature', () => {
    vi.useFakeTimers();
    vi.setSystemTime(TS * 1000);
    const params = { info: 'user_count,subscription_count' };
    const path = '/apps/3/channels/presence-foobar';
    const theirs = requests.createSignedQueryString(pusher.config.token, { method: 'GET', path, params });
    const ours = signApiRequest({ key: KEY, secret: SECRET, method: 'GET', path, params, timestamp: TS });
    expect(theirs).toContain('info=user_count,subscription_count');
    expect(ours).toContain('info=user_count%2Csubscription_count');
    expect(parseQueryString(theirs)).toEqual(parseQueryString(ours));
    expect(verify({ method: 'GET', path, query: theirs })).toEqual({ ok: true });
    expect(verify({ method: 'GET', path, query: ours })).toEqual({ ok: true });
  });

  it('a request signed by signApiRequest is accepted by verifyApiRequest (several shapes)', () => {
    const cases: Array<Parameters<typeof signApiRequest>[0]> = [
      { key: KEY, secret: SECRET, method: 'POST', path: '/apps/3/events', body: '{"name":"x","channel":"#server-to-user-10","data":"é"}', timestamp: TS },
      { key: KEY, secret: SECRET, method: 'GET', path: '/apps/3/channels/presence-foobar/users', timestamp: TS },
      {
        key: KEY,
        secret: SECRET,
        method: 'GET',
        path: '/apps/3/channels',
        params: { filter_by_prefix: 'private-', info: 'subscription_count' },
        timestamp: TS,
      },
    ];
    for (const c of cases) {
      const q = signApiRequest(c);
      expect(verify({ method: c.method, path: c.path, query: q, ...(c.body === undefined ? {} : { body: c.body }) })).toEqual({ ok: true });
      // ...and tampering with the body is caught.
      if (c.body !== undefined) {
        expect(verify({ method: c.method, path: c.path, query: q, body: `${c.body} ` })).toMatchObject({ ok: false, status: 401 });
      }
    }
  });
});
