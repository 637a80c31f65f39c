/**
 * The REST API port under random HTTP requests, against a live in-process gateway: random
 * methods, request targets, query strings, headers and bodies sent byte for byte over TCP, first
 * unsigned (stopped at routing or the signature check), then correctly signed with the app secret
 * (so that random bodies and parameters reach the handlers). No answer may be a 5xx, and a
 * subscriber of the same gateway must not see anything but what is triggered for it.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { signApiRequest } from '@herald/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { API_ERRORS } from '../../packages/gateway/src/api/errors.js';
import { RawClient, rawRequest, sendRawHttp, signedRequest, startTestGateway, type TestGateway } from '@herald/test-support';

const OBSERVED = 'observer-chan';
const OBSERVED_PRESENCE = 'presence-observer';

/** Statuses seen by a fuzz run, for the report. */
const tally = (statuses: number[]) => {
  const out: Record<string, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
};

/**
 * An error answer's body: the message, the numeric status and a string code the registry declares
 * with that status (HEAD answers have no body).
 */
function expectRegistryBody(method: string, res: { status: number; head?: string; body: string }, what: string) {
  if (res.status < 400 || method === 'HEAD') return;
  // The first answer only: a body the server took for a second request gets its own answer after it.
  const length = /\r\ncontent-length: *(\d+)/i.exec(res.head ?? '');
  const body = JSON.parse(length ? res.body.slice(0, Number(length[1])) : res.body) as { error_code?: string };
  expect(body, what).toEqual({
    error: expect.any(String),
    code: res.status,
    error_code: expect.any(String),
    ...('type' in body ? { type: body.error_code } : {}),
  });
  expect(Object.values(API_ERRORS).find((e) => e.code === body.error_code)?.status, what).toBe(res.status);
}

// ---------------------------------------------------------------------------------------------
// generators

const token = fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,15}$/);
const anyText = (max: number) => fc.string({ unit: 'binary', maxLength: max });
const asciiText = (max: number) => fc.string({ unit: 'binary-ascii', maxLength: max });

/** Percent-encodes every byte that may not appear raw in a request target, keeps the rest raw. */
const targetSafe = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) => (b > 0x20 && b < 0x7f && b !== 0x25 && b !== 0x3f && b !== 0x23 ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0').toUpperCase()}`))
    .join('');

const segment = (appId: string) =>
  fc.oneof(
    fc.constant(appId),
    fc.constantFrom('1', '0', '-1', '99999999999999999999', 'presence-x', 'private-x', '#server-to-user-1', '%ZZ', '%', '%00', '%E0%A4%A', '..', '.', ''),
    asciiText(30).map(targetSafe),
    anyText(20).map(encodeURIComponent),
    fc.nat({ max: 3000 }).map((n) => 'a'.repeat(n)),
  );

const pathOf = (appId: string) =>
  fc.oneof(
    fc
      .tuple(
        fc.constantFrom(
          '/apps/{a}/events',
          '/apps/{a}/batch_events',
          '/apps/{a}/channels',
          '/apps/{a}/channels/{b}',
          '/apps/{a}/channels/{b}/users',
          '/apps/{a}/users/{b}/terminate_connections',
          '/users/{b}/terminate_connections',
          '/apps/{a}',
          '/apps/{a}/{b}',
          '/ready',
          '/health',
          '/metrics',
          '/push.js',
          '/{a}/{b}',
        ),
        segment(appId),
        segment(appId),
      )
      .map(([tpl, a, b]) => tpl.replace('{a}', a).replace('{b}', b)),
    fc.webPath(),
    asciiText(60).map((s) => '/' + targetSafe(s)),
    fc.constantFrom('*', '/', '//apps//1//events', '/apps/1/events/', '/APPS/1/EVENTS', '/apps/1/events%2F', 'http://127.0.0.1/apps/1/events'),
  );

const queryKey = fc.oneof(
  fc.constantFrom('auth_key', 'auth_timestamp', 'auth_signature', 'auth_version', 'body_md5', 'info', 'filter_by_prefix', 'AUTH_KEY', 'info[]', ''),
  asciiText(8).map(targetSafe),
);
const queryValue = (app: { key: string }) =>
  fc.oneof(
    fc.constantFrom(
      app.key,
      '1.0',
      '2.0',
      String(Math.floor(Date.now() / 1000)),
      'user_count',
      'subscription_count,user_count',
      'presence-',
      'x'.repeat(64),
      '%',
      '%ZZ',
      '+',
      '',
    ),
    anyText(30).map(encodeURIComponent),
    asciiText(30).map(targetSafe),
  );
const queryOf = (app: { key: string }) =>
  fc
    .array(fc.tuple(queryKey, queryValue(app), fc.boolean()), { maxLength: 8 })
    .map((pairs) => pairs.map(([k, v, withEq]) => (withEq ? `${k}=${v}` : k)).join('&'));

/**
 * Deeply nested JSON values. Up to 1000 levels here: 10 000 levels (beyond JSON.stringify's
 * recursion) is a known 500, pinned by its own test below so that this fuzz can go on finding others.
 */
const deep = fc
  .constantFrom(10, 100, 1000)
  .chain((depth) => fc.constantFrom(`${'['.repeat(depth)}${']'.repeat(depth)}`, `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`));
const jsonish = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v) ?? 'null') },
  { weight: 1, arbitrary: deep },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '1e999999',
      '-0',
      '123456789012345678901234567890',
      '"\\ud800"',
      '"\\u0000"',
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{}}}',
    ),
  },
);

/** Bodies shaped like triggers, with every field of a random type. */
const triggerLike = (channels: fc.Arbitrary<string>) => {
  const valid = {
    name: fc.constantFrom('"ev"', '"client-x"', '"pusher:x"', JSON.stringify('e'.repeat(200)), JSON.stringify('e'.repeat(201))),
    data: fc.oneof(
      fc.constantFrom('"d"', '{"a":1}', '[]', 'null', '0'),
      fc.nat({ max: 11_000 }).map((n) => JSON.stringify('d'.repeat(n))),
      deep,
    ),
    channels: fc.array(channels, { minLength: 1, maxLength: 4 }).map((cs) => JSON.stringify(cs)),
    channel: channels.map((c) => JSON.stringify(c)),
    socket_id: fc.constantFrom('"1.1"', '"123.456"', '"1.1.1"', '"x"', '1.1', 'null'),
    info: fc.constantFrom('"user_count"', '"subscription_count"', '"user_count,subscription_count"', '""', '7', 'null'),
  };
  const field = fc.oneof(
    jsonish,
    channels.map((c) => JSON.stringify(c)),
    fc.array(channels, { maxLength: 120 }).map((cs) => JSON.stringify(cs)),
    anyText(40).map((s) => JSON.stringify(s)),
    fc.nat({ max: 12_000 }).map((n) => JSON.stringify('d'.repeat(n))),
  );
  const item = fc
    .record(
      {
        name: fc.oneof({ weight: 3, arbitrary: valid.name }, field),
        data: fc.oneof({ weight: 3, arbitrary: valid.data }, field),
        channels: fc.oneof({ weight: 3, arbitrary: valid.channels }, field),
        channel: fc.oneof({ weight: 1, arbitrary: valid.channel }, field),
        socket_id: fc.oneof({ weight: 2, arbitrary: valid.socket_id }, field),
        info: fc.oneof({ weight: 2, arbitrary: valid.info }, field),
      },
      { requiredKeys: [] },
    )
    .map(
      (r) =>
        `{${Object.entries(r)
          .map(([k, v]) => `${JSON.stringify(k)}:${v}`)
          .join(',')}}`,
    );
  const batch = fc.oneof(
    { weight: 4, arbitrary: fc.array(item, { maxLength: 12 }).map((items) => `{"batch":[${items.join(',')}]}`) },
    { weight: 1, arbitrary: fc.array(item, { maxLength: 3 }).map((items) => `{"batch":${items.join(',') || '7'}}`) },
  );
  return { item, batch, any: fc.oneof(item, batch) };
};

const bodyOf = (channels: fc.Arbitrary<string>) =>
  fc.oneof(
    fc.constant(Buffer.alloc(0)),
    jsonish.map((s) => Buffer.from(s)),
    triggerLike(channels).any.map((s) => Buffer.from(s)),
    fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
    fc.constantFrom(Buffer.from([0xff, 0xfe, 0x7b]), Buffer.from('{"name":"e","data":"\xff","channel":"c"}', 'latin1')),
  );

/** Header values: printable mostly, sometimes with control characters (refused by the HTTP parser). */
const headerValue = fc.oneof(
  { weight: 5, arbitrary: fc.stringMatching(/^[ -~]{0,40}$/) },
  { weight: 1, arbitrary: asciiText(30).map((s) => s.replace(/[\r\n]/g, ' ')) },
);
const headerSet = fc.array(
  fc.oneof(
    fc.tuple(
      fc.constant('Content-Type'),
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/octet-stream',
        '*/*',
        ';;;',
        'application/json; charset=latin1',
      ),
    ),
    fc.tuple(fc.constant('Content-Encoding'), fc.constantFrom('gzip', 'deflate', 'br', 'identity', 'x')),
    fc.tuple(fc.constantFrom('Accept', 'Accept-Encoding', 'Origin', 'X-Forwarded-For', 'Authorization', 'Expect', 'Cookie'), headerValue),
    fc.tuple(token, headerValue),
  ),
  { maxLength: 5 },
);

// ---------------------------------------------------------------------------------------------

describe('REST API under random requests (live gateway)', () => {
  let t: TestGateway;
  let observer: RawClient;
  let presenceObserver: RawClient;
  let markers = 0;

  beforeAll(async () => {
    t = await startTestGateway({ apps: [{}, {}] });
    observer = await RawClient.established(t);
    expect((await observer.subscribe(OBSERVED)).event).toBe('pusher_internal:subscription_succeeded');
    presenceObserver = await RawClient.established(t);
    const { auth, channel_data } = t.sdk.authorizeChannel(presenceObserver.socketId, OBSERVED_PRESENCE, { user_id: 'watcher' });
    expect((await presenceObserver.subscribe(OBSERVED_PRESENCE, { auth, channel_data })).event).toBe('pusher_internal:subscription_succeeded');
  });
  afterAll(async () => {
    await observer?.[Symbol.asyncDispose]();
    await presenceObserver?.[Symbol.asyncDispose]();
    await t?.close();
  });

  /** The observers got nothing but their own subscription and the markers, and are still subscribed. */
  async function expectObserversUndisturbed() {
    const name = `marker-${++markers}`;
    await t.sdk.trigger([OBSERVED, OBSERVED_PRESENCE], name, { n: markers });
    await observer.waitFor((f) => f.event === name);
    await presenceObserver.waitFor((f) => f.event === name);
    const unexpected = (c: RawClient) =>
      c.frames.filter((f) => !['pusher:connection_established', 'pusher_internal:subscription_succeeded'].includes(f.event) && !f.event.startsWith('marker-'));
    expect(unexpected(observer)).toEqual([]);
    expect(unexpected(presenceObserver)).toEqual([]);
    expect(observer.closeCode).toBeUndefined();
    expect(presenceObserver.closeCode).toBeUndefined();
    const info = await t.sdk.get({ path: `/channels/${OBSERVED_PRESENCE}/users` });
    expect(await info.json()).toEqual({ users: [{ id: 'watcher' }] });
    const chan = await t.sdk.get({ path: `/channels/${OBSERVED}`, params: { info: 'subscription_count' } });
    expect(await chan.json()).toEqual({ occupied: true, subscription_count: 1 });
  }

  const no5xx = async () => {
    const text = await (await fetch(`${t.apiUrl}/metrics`)).text();
    return text.split('\n').filter((l) => /^herald_api_requests_total\{[^}]*status="5\d\d"/.test(l));
  };

  it('random unsigned requests (methods, targets, queries, headers, bodies): never a 5xx, subscribers undisturbed', async () => {
    const statuses: number[] = [];
    const channels = fc.constantFrom('pub', 'private-x', 'presence-x', 'a b', '');
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD') },
          { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,10}$/) },
        ),
        pathOf(t.app.id),
        queryOf(t.app),
        headerSet,
        bodyOf(channels),
        fc.constantFrom<number | 'omit' | undefined>(undefined, undefined, undefined, 0, 1, 'omit'),
        async (method, path, query, headers, body, contentLength) => {
          const target = query === '' ? path : `${path}?${query}`;
          const cl = typeof contentLength === 'number' ? Math.min(contentLength, body.length) : contentLength;
          const res = await sendRawHttp(t.apiPort, { method, target, headers, body, ...(cl !== undefined ? { contentLength: cl } : {}) });
          statuses.push(...(res.statuses.length ? res.statuses : [res.status]));
          for (const s of res.statuses) expect(s, `${method} ${target.slice(0, 200)} → ${res.head.slice(0, 200)} ${res.body.slice(0, 300)}`).toBeLessThan(500);
          // Every request is answered (Node drops CONNECT without an answer when nothing handles it).
          if (method !== 'CONNECT') expect(res.status, `${method} ${target.slice(0, 200)}: no answer`).not.toBe(0);
          expectRegistryBody(method, res, `${method} ${target.slice(0, 200)} → ${res.body.slice(0, 300)}`);
        },
      ),
      { numRuns: 400 },
    );
    console.log('unsigned fuzz statuses', JSON.stringify(tally(statuses)));
    expect(await no5xx()).toEqual([]);
    await expectObserversUndisturbed();
  });

  it('random correctly signed requests reach the handlers: never a 5xx, subscribers undisturbed', async () => {
    const statuses: number[] = [];
    // Random channel names, never the observed ones.
    const channels = fc
      .oneof(
        fc.constantFrom('pub-1', 'private-1', 'presence-1', 'cache-1', 'private-encrypted-1', '#server-to-user-1', 'a b', '', 'x'.repeat(201), 'é'),
        fc.stringMatching(/^[-a-zA-Z0-9_=@,.;]{1,30}$/),
      )
      .filter((c) => c !== OBSERVED && c !== OBSERVED_PRESENCE);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<['GET' | 'POST', string]>(
          ['POST', '/apps/{a}/events'],
          ['POST', '/apps/{a}/events'],
          ['POST', '/apps/{a}/batch_events'],
          ['POST', '/apps/{a}/batch_events'],
          ['GET', '/apps/{a}/channels'],
          ['GET', '/apps/{a}/channels/{c}'],
          ['GET', '/apps/{a}/channels/{c}/users'],
          ['POST', '/apps/{a}/users/{u}/terminate_connections'],
          ['GET', '/apps/{a}/events'],
        ),
        channels,
        anyText(20),
        fc.dictionary(
          fc.constantFrom('info', 'filter_by_prefix', 'socket_id', 'x', 'limit'),
          fc.oneof(fc.constantFrom('user_count', 'subscription_count', 'cache', 'presence-', 'user_count,subscription_count,cache', ''), anyText(20)),
          { maxKeys: 3 },
        ),
        bodyOf(channels),
        triggerLike(channels).item,
        triggerLike(channels).batch,
        fc.nat({ max: 9 }),
        async ([method, tpl], channel, user, params, anyBody, item, batch, pick) => {
          // Mostly the body the route expects, sometimes anything.
          const body = pick < 7 && tpl.endsWith('/events') ? Buffer.from(item) : pick < 7 && tpl.endsWith('/batch_events') ? Buffer.from(batch) : anyBody;
          const path = tpl
            .replace('{a}', t.app.id)
            .replace('{c}', encodeURIComponent(channel))
            .replace('{u}', encodeURIComponent(user) || 'u');
          // body_md5 over the exact bytes (GET bodies are not read by the server: signed without
          // one, sent anyway).
          const signedParams = method === 'POST' && body.length > 0 ? { ...params, body_md5: createHash('md5').update(body).digest('hex') } : params;
          const q = signApiRequest({ key: t.app.key, secret: t.app.secret, method, path, params: signedParams });
          const res = await sendRawHttp(t.apiPort, { method, target: `${path}?${q}`, headers: [['Content-Type', 'application/json']], body });
          statuses.push(res.status);
          expect(res.status, `${method} ${path.slice(0, 200)} ${body.toString('utf8').slice(0, 300)} → ${res.body.slice(0, 300)}`).toBeLessThan(500);
          expect(res.status).not.toBe(0);
          expectRegistryBody(method, res, `${method} ${path.slice(0, 200)} → ${res.body.slice(0, 300)}`);
        },
      ),
      { numRuns: 400 },
    );
    console.log('signed fuzz statuses', JSON.stringify(tally(statuses)));
    // The fuzz reached the handlers: some requests were accepted, some refused by validation.
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(20);
    expect(statuses.filter((s) => s === 400 || s === 413).length).toBeGreaterThan(20);
    expect(await no5xx()).toEqual([]);
    await expectObserversUndisturbed();
  });

  it.each([
    ['data nested 10 000 deep', (d: string) => `{"name":"e","channel":"pub","data":${d}}`],
    ['a batch item with data nested 10 000 deep', (d: string) => `{"batch":[{"name":"e","channel":"pub","data":${d}}]}`],
    ['a channel name nested 10 000 deep', (d: string) => `{"name":"e","channels":[${d}],"data":"x"}`],
  ])('a signed trigger with %s is refused with a 4xx, not a 500', async (_name, make) => {
    const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    const body = make(nested);
    const path = body.includes('batch') ? `/apps/${t.app.id}/batch_events` : `/apps/${t.app.id}/events`;
    const res = await signedRequest(t.apiPort, t.app, { method: 'POST', path, body });
    expect(res.status, res.body).toBeGreaterThanOrEqual(400);
    expect(res.status, res.body).toBeLessThan(500);
    expectRegistryBody('POST', res, res.body);
    await expectObserversUndisturbed();
  });

  it('the parameters a handler reads are the signed ones: a tampered query that keeps the signature valid changes nothing', async () => {
    const extra = await RawClient.established(t);
    try {
      for (const ch of ['tamper-a', 'tamper-b']) expect((await extra.subscribe(ch)).event).toBe('pusher_internal:subscription_succeeded');
      // The signature check lower-cases keys, joins repeated keys with a comma and keeps `+` literal
      // (as Pusher signs); a handler must read its parameters the same way, or a captured request
      // can be altered without the secret and still verify.
      const cases: { what: string; path: string; params: Record<string, string>; mutate: (q: string) => string }[] = [
        {
          what: 'filter_by_prefix sent as FILTER_BY_PREFIX',
          path: `/apps/${t.app.id}/channels`,
          params: { filter_by_prefix: 'presence-' },
          mutate: (q) => q.replace('filter_by_prefix=', 'FILTER_BY_PREFIX='),
        },
        {
          what: 'info=a,b sent as info=a&info=b',
          path: `/apps/${t.app.id}/channels/${OBSERVED_PRESENCE}`,
          params: { info: 'user_count,subscription_count' },
          mutate: (q) => q.replace('info=user_count%2Csubscription_count', 'info=user_count&info=subscription_count'),
        },
      ];
      const outcomes = [];
      for (const c of cases) {
        const original = await signedRequest(t.apiPort, t.app, { method: 'GET', path: c.path, params: c.params });
        expect(original.status, original.body).toBe(200);
        const tampered = await signedRequest(t.apiPort, t.app, { method: 'GET', path: c.path, params: c.params, mutateQuery: c.mutate });
        outcomes.push({
          what: c.what,
          original: JSON.parse(original.body) as unknown,
          tampered: tampered.status === 401 ? 'refused' : (JSON.parse(tampered.body) as unknown),
        });
      }
      expect(outcomes[0]!.original).toEqual({ channels: { [OBSERVED_PRESENCE]: {} } });
      expect(outcomes[1]!.original).toEqual({ occupied: true, user_count: 1, subscription_count: 1 });
      // Either refused, or exactly the signed request's answer.
      for (const o of outcomes) expect(o).toEqual(o.tampered === 'refused' ? o : { ...o, tampered: o.original });
    } finally {
      await extra[Symbol.asyncDispose]();
    }
  });

  it('requests over the API port never reach the WebSocket subscribers of another app', async () => {
    // App 2 triggers on the observed channel names: app 1's observers get nothing.
    const other = t.gw.apps.apps[1]!;
    const res = await rawRequest(t.apiPort, { method: 'GET', path: '/ready' });
    expect(res.status).toBe(200);
    await t.sdkFor(other).trigger([OBSERVED, OBSERVED_PRESENCE], 'cross-app', {});
    await expectObserversUndisturbed();
  });
});
