/**
 * Property-based fuzzing (fast-check) of the protocol package's pure functions: the client frame
 * decoder, channel/event/socket-id validation, presence and sign-in data parsing, and the REST API
 * signature check. Every property runs a few thousand generated cases; a failure prints the
 * shrunk counterexample and the seed to replay it (`fc.assert(..., { seed, path })`).
 */
import { createHash, createHmac } from 'node:crypto';
import fc from 'fast-check';
import {
  API_TIMESTAMP_WINDOW_S,
  PusherError,
  channelKind,
  isValidChannelName,
  isValidEventName,
  isValidSocketId,
  parseClientFrame,
  parsePresenceData,
  parseQueryString,
  parseUserData,
  signApiRequest,
  verifyApiRequest,
  type ClientFrame,
} from '@herald/protocol';
import { describe, expect, it } from 'vitest';

const RUNS = 2000;
/** Parsing 100 000-level JSON costs ~30 ms a case: the data parsers get fewer runs. */
const DATA_RUNS = 600;

/** Runs `fn`; returns the thrown value, or undefined. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err ?? new Error('threw a nullish value');
  }
}

// ---------------------------------------------------------------------------------------------
// arbitraries

const KNOWN_EVENTS = [
  'pusher:ping',
  'pusher:pong',
  'pusher:subscribe',
  'pusher:unsubscribe',
  'pusher:signin',
  'pusher:foo',
  'pusher:',
  'pusher_internal:subscription_succeeded',
  'pusher_internal:',
  'client-',
  'client-x',
  'Client-x',
  'pusher',
  'x',
  '',
];

/** Any text: every code point, graphemes, and JSON punctuation mixed with lone surrogates and NUL. */
const text = (max = 200) =>
  fc.oneof(
    fc.string({ unit: 'binary', maxLength: max }),
    fc.string({ unit: 'grapheme', maxLength: max }),
    fc.string({ maxLength: max }),
    fc.string({
      unit: fc.oneof(
        fc.constantFrom('\ud800', '\udc00', '\udfff', '\u0000', '"', '\\', '{', '}', '[', ']', ':', ','),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
      ),
      maxLength: max,
    }),
  );

const nested = fc.tuple(fc.constantFrom(1, 10, 1000, 100_000), fc.constantFrom('[', '{"a":', '{"event":"client-x","data":')).map(([depth, open]) => {
  const close = open === '[' ? ']' : '}';
  return open.repeat(depth) + (open === '[' ? '' : '1') + close.repeat(depth);
});

const hugeNumbers = fc.constantFrom('1e999999', '-1e999999', '123456789012345678901234567890123456789', '0.0000000000000000000000000001', '-0', '1E+400');

const jsonValue = fc.jsonValue({ maxDepth: 5 });

/** Objects shaped like client frames, every field of a random type. */
const frameObject = fc.record(
  {
    event: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...KNOWN_EVENTS) }, text(30), jsonValue),
    data: fc
      .oneof(
        jsonValue,
        fc.record(
          {
            channel: fc.oneof(text(30), jsonValue),
            auth: fc.oneof(text(80), jsonValue),
            channel_data: fc.oneof(text(80), jsonValue),
            user_data: fc.oneof(text(80), jsonValue),
          },
          { requiredKeys: [] },
        ),
      )
      .chain((d) => fc.constantFrom(d, JSON.stringify(d))),
    channel: fc.oneof(text(30), jsonValue),
  },
  { requiredKeys: [] },
);

const frameText = fc.oneof(
  text(300),
  jsonValue.map((v) => JSON.stringify(v)),
  frameObject.map((o) => JSON.stringify(o)),
  // truncated valid frames
  fc
    .tuple(
      frameObject.map((o) => JSON.stringify(o)),
      fc.nat(),
    )
    .map(([s, n]) => s.slice(0, n % (s.length + 1))),
  nested,
  hugeNumbers,
  hugeNumbers.map((n) => `{"event":"pusher:subscribe","data":{"channel":${n}}}`),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('utf8')),
  fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b).toString('latin1')),
  fc.constantFrom(
    '{"__proto__":{"event":"pusher:ping"}}',
    '{"event":"pusher:ping","__proto__":null}',
    '{"event":"client-x","constructor":{"prototype":{"polluted":1}}}',
  ),
);

/** The kind a frame with this (string) `event` must decode to; 'error' for a PusherError. */
function expectedKind(event: string): ClientFrame['kind'] | 'error' {
  switch (event) {
    case 'pusher:ping':
      return 'ping';
    case 'pusher:pong':
      return 'pong';
    case 'pusher:subscribe':
      return 'subscribe';
    case 'pusher:unsubscribe':
      return 'unsubscribe';
    case 'pusher:signin':
      return 'signin';
  }
  if (event.startsWith('client-')) return 'client-event';
  if (event.startsWith('pusher_internal:')) return 'error';
  if (event.startsWith('pusher:')) return 'ignored';
  return 'error';
}

// ---------------------------------------------------------------------------------------------

describe('parseClientFrame', () => {
  it('never throws anything but a PusherError (code null, connection kept), whatever the text', () => {
    fc.assert(
      fc.property(frameText, (s) => {
        const err = thrown(() => parseClientFrame(s));
        if (err === undefined) return;
        expect(err).toBeInstanceOf(PusherError);
        expect((err as PusherError).code).toBeNull();
        expect((err as PusherError).closeConnection).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('decodes exactly by the event name: kind follows the documented rules, nothing else is accepted', () => {
    fc.assert(
      fc.property(frameObject, (o) => {
        const s = JSON.stringify(o);
        const event = (o as { event?: unknown }).event;
        const want = typeof event === 'string' ? expectedKind(event) : 'error';
        const err = thrown(() => parseClientFrame(s));
        if (want === 'error') {
          expect(err).toBeInstanceOf(PusherError);
          return;
        }
        expect(err).toBeUndefined();
        const f = parseClientFrame(s);
        expect(f.kind).toBe(want);
        if (f.kind === 'client-event') expect(f.event).toBe(event);
      }),
      { numRuns: RUNS },
    );
  });

  it('text that is not a JSON object with a string event is "Received invalid JSON"', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          text(100),
          jsonValue.filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)).map((v) => JSON.stringify(v)),
        ),
        (s) => {
          let parsed: unknown;
          try {
            parsed = JSON.parse(s);
          } catch {
            parsed = undefined;
          }
          fc.pre(!(typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && typeof (parsed as { event?: unknown }).event === 'string'));
          const err = thrown(() => parseClientFrame(s));
          expect(err).toBeInstanceOf(PusherError);
          expect((err as Error).message).toBe('Received invalid JSON');
        },
      ),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------

const ALLOWED = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=@,.;';
const DISALLOWED = [
  ' ',
  ':',
  '/',
  '#',
  '?',
  '&',
  '%',
  '+',
  '!',
  '*',
  '\t',
  '\n',
  '\u0000',
  '\u007f',
  'é',
  '😀',
  '\u200b',
  'ß',
  '\ud800',
  '"',
  "'",
  '\\',
  '<',
  '>',
  '|',
  '~',
  '`',
  '$',
  '(',
  ')',
  '[',
  ']',
  '{',
  '}',
];
const USER_PREFIX = '#server-to-user-';
const PREFIXES = ['private-encrypted-cache-', 'private-encrypted-', 'private-cache-', 'private-', 'presence-cache-', 'presence-', 'cache-', USER_PREFIX];

/** Channel-name candidates: mostly legal characters, some illegal ones, sometimes a known prefix. */
const channelCandidate = fc
  .tuple(
    fc.oneof({ weight: 3, arbitrary: fc.constant('') }, fc.constantFrom(...PREFIXES, 'Private-', 'xprivate-', 'presence', '#server-to-user')),
    fc.string({
      unit: fc.oneof({ weight: 12, arbitrary: fc.constantFrom(...ALLOWED.split('')) }, { weight: 1, arbitrary: fc.constantFrom(...DISALLOWED) }),
      maxLength: 220,
    }),
  )
  .map(([p, s]) => p + s);

/** The rules of docs/errors.md and the Pusher docs, written without the implementation's regexes. */
function channelOracle(name: string, max: number): boolean {
  if (name.length === 0) return false;
  if (name.startsWith(USER_PREFIX)) {
    const id = name.slice(USER_PREFIX.length);
    if (id.length === 0 || id.length > max) return false;
    for (const ch of id) {
      const c = ch.codePointAt(0)!;
      if (c < 0x20 || c === 0x7f) return false;
    }
    return true;
  }
  if (name.length > max) return false;
  for (const ch of name) if (!ALLOWED.includes(ch)) return false;
  return true;
}

function kindOracle(name: string) {
  const p = PREFIXES.find((x) => name.startsWith(x));
  return {
    authorized: p !== undefined && (p.startsWith('private-') || p.startsWith('presence-')),
    presence: p !== undefined && p.startsWith('presence-'),
    encrypted: p !== undefined && p.startsWith('private-encrypted-'),
    cache: p !== undefined && p.includes('cache-'),
    user: p === USER_PREFIX,
  };
}

describe('channel, event and socket id validation', () => {
  it('isValidChannelName agrees with the character-set and length rules (and the #server-to-user- rule)', () => {
    fc.assert(
      fc.property(channelCandidate, fc.integer({ min: 1, max: 250 }), (name, max) => {
        expect(isValidChannelName(name, max)).toBe(channelOracle(name, max));
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('isValidChannelName refuses every non-string', () => {
    fc.assert(
      fc.property(
        fc.anything().filter((v) => typeof v !== 'string'),
        (v) => {
          expect(isValidChannelName(v)).toBe(false);
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('channelKind is decided by the anchored prefix only: private/presence/encrypted/cache never leak to look-alikes', () => {
    fc.assert(
      fc.property(channelCandidate, (name) => {
        const k = channelKind(name);
        const want = kindOracle(name);
        expect({ authorized: k.authorized, presence: k.presence, encrypted: k.encrypted, cache: k.cache, user: k.user }).toEqual(want);
        // Client events only where a subscriber was authorized and the server can tell a payload is
        // genuine: private and presence channels, never public or private-encrypted ones.
        expect(k.clientEvents).toBe(want.authorized && !want.encrypted);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('isValidEventName: a non-empty string of at most maxLength characters, nothing else', () => {
    fc.assert(
      fc.property(fc.oneof(text(260), fc.anything()), fc.integer({ min: 1, max: 260 }), (v, max) => {
        expect(isValidEventName(v, max)).toBe(typeof v === 'string' && v.length > 0 && v.length <= max);
      }),
      { numRuns: RUNS },
    );
  });

  it('isValidSocketId: digits "." digits exactly', () => {
    const idLike = fc.oneof(
      fc.tuple(fc.nat(), fc.nat()).map(([a, b]) => `${a}.${b}`),
      fc.string({ unit: fc.constantFrom('0', '1', '9', '.', '-', ' ', 'a', '\n', '٣'), maxLength: 12 }),
      fc.anything(),
    );
    fc.assert(
      fc.property(idLike, (v) => {
        const want = typeof v === 'string' && /^[0-9]+\.[0-9]+$/.test(v) && !v.endsWith('\n');
        expect(isValidSocketId(v)).toBe(want);
      }),
      { numRuns: RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------

const LIMITS = { maxPresenceUserIdLength: 128, maxPresenceUserInfoBytes: 1024 };

const presenceLike = fc.oneof(
  text(200),
  nested,
  hugeNumbers,
  jsonValue.map((v) => JSON.stringify(v)),
  fc
    .record(
      {
        user_id: fc.oneof(text(140), fc.double(), fc.integer(), jsonValue, fc.constantFrom('', 'x'.repeat(128), 'x'.repeat(129))),
        user_info: fc.oneof(
          jsonValue,
          fc.nat({ max: 1100 }).map((n) => 'i'.repeat(n)),
          nested.map((s) => JSON.parse(s.length < 50_000 ? s : '[]') as unknown),
        ),
        id: fc.oneof(text(210), jsonValue, fc.constantFrom('', 'a\u0000b', 'x'.repeat(200), 'x'.repeat(201))),
        watchlist: fc.oneof(fc.array(fc.oneof(text(10), fc.integer(), jsonValue), { maxLength: 130 }), jsonValue),
      },
      { requiredKeys: [] },
    )
    .map((o) => JSON.stringify(o)),
  fc.constantFrom(
    '{"user_id":1e999}',
    '{"user_id":"1","user_info":' + '['.repeat(100_000) + ']'.repeat(100_000) + '}',
    '{"id":"x","watchlist":' + '['.repeat(50_000) + ']'.repeat(50_000) + '}',
  ),
);

describe('presence channel_data and sign-in user_data', () => {
  it('parsePresenceData never throws; an accepted member respects the limits', () => {
    fc.assert(
      fc.property(presenceLike, (s) => {
        const err = thrown(() => parsePresenceData(s, LIMITS));
        expect(err).toBeUndefined();
        const r = parsePresenceData(s, LIMITS);
        if (!r.ok) {
          expect(typeof r.reason).toBe('string');
          return;
        }
        expect(typeof r.member.userId).toBe('string');
        expect(r.member.userId.length).toBeGreaterThan(0);
        expect(r.member.userId.length).toBeLessThanOrEqual(LIMITS.maxPresenceUserIdLength);
        const info = r.member.userInfo === undefined ? 0 : Buffer.byteLength(JSON.stringify(r.member.userInfo));
        expect(info).toBeLessThanOrEqual(LIMITS.maxPresenceUserInfoBytes);
      }),
      { numRuns: DATA_RUNS },
    );
  });

  it('parseUserData never throws; an accepted user has a printable id of 1-200 characters and at most 100 distinct watchlist ids', () => {
    fc.assert(
      fc.property(presenceLike, (s) => {
        const err = thrown(() => parseUserData(s));
        expect(err).toBeUndefined();
        const r = parseUserData(s);
        if (!r.ok) return;
        expect(r.user.id.length).toBeGreaterThan(0);
        expect(r.user.id.length).toBeLessThanOrEqual(200);
        // eslint-disable-next-line no-control-regex -- the check is that the id holds no control character
        expect(/[\u0000-\u001f\u007f]/.test(r.user.id)).toBe(false);
        expect(r.user.watchlist.length).toBeLessThanOrEqual(100);
        expect(new Set(r.user.watchlist).size).toBe(r.user.watchlist.length);
        for (const id of r.user.watchlist) expect(typeof id).toBe('string');
      }),
      { numRuns: DATA_RUNS },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// REST API signatures

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: n, maxLength: n });
const secretArb = fc.oneof(hex(32), fc.string({ minLength: 8, maxLength: 40 }));
const keyArb = fc.stringMatching(/^[a-zA-Z0-9_-]{1,24}$/);
const appArb = fc.record({ key: keyArb, secret: secretArb });
const NOW_S = 1_750_000_000;
/** Param names the SDKs send (lower-case, URL-safe), never the auth ones. */
const paramKey = fc.stringMatching(/^[a-z][a-z0-9_]{0,11}$/).filter((k) => !k.startsWith('auth_') && k !== 'body_md5');
const paramsArb = fc.dictionary(paramKey, fc.oneof(text(30), fc.constantFrom('user_count,subscription_count', 'presence-', '', 'a&b=c', '%41', '+')), {
  maxKeys: 4,
});
const pathArb = fc.oneof(
  fc.constantFrom('/apps/1/events', '/apps/1/batch_events', '/apps/1/channels', '/apps/1/channels/presence-x/users', '/users/u1/terminate_connections'),
  fc.webPath().map((p) => p || '/'),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((p) => '/apps/1/channels/' + p),
);
const bodyArb = fc.option(
  fc.oneof(
    text(200),
    jsonValue.map((v) => JSON.stringify(v)),
  ),
  { nil: undefined },
);
const methodArb = fc.constantFrom('GET', 'POST');

/** Only well-formed surrogates: signApiRequest percent-encodes values (a lone surrogate cannot be). */
const wellFormed = (s: string) => (s as string & { isWellFormed(): boolean }).isWellFormed();

interface Signed {
  app: { key: string; secret: string };
  method: string;
  path: string;
  body: string | undefined;
  query: string;
  nowMs: number;
}

const signedArb = fc
  .record({
    app: appArb,
    method: methodArb,
    path: pathArb,
    params: paramsArb,
    body: bodyArb,
    skew: fc.integer({ min: -API_TIMESTAMP_WINDOW_S, max: API_TIMESTAMP_WINDOW_S }),
  })
  .filter((r) => Object.values(r.params).every(wellFormed) && (r.body === undefined || wellFormed(r.body)))
  .map((r): Signed => ({
    app: r.app,
    method: r.method,
    path: r.path,
    body: r.body,
    nowMs: NOW_S * 1000,
    query: signApiRequest({
      key: r.app.key,
      secret: r.app.secret,
      method: r.method,
      path: r.path,
      params: r.params,
      ...(r.body !== undefined ? { body: r.body } : {}),
      timestamp: NOW_S + r.skew,
    }),
  }));

const verify = (s: Signed, over: Partial<Signed> & { rawBody?: Buffer | undefined } = {}) => {
  const x = { ...s, ...over };
  return verifyApiRequest({
    app: x.app,
    method: x.method,
    paths: [x.path],
    params: parseQueryString(x.query),
    rawBody: 'rawBody' in over ? over.rawBody : x.body === undefined ? undefined : Buffer.from(x.body),
    nowMs: x.nowMs,
  });
};

/** Query strings as [key, raw value] pairs, to mutate them one at a time. */
const pairs = (q: string) =>
  q.split('&').map((p) => {
    const i = p.indexOf('=');
    return [p.slice(0, i), p.slice(i + 1)] as [string, string];
  });
const join = (ps: [string, string][]) => ps.map(([k, v]) => `${k}=${v}`).join('&');

describe('verifyApiRequest', () => {
  it('accepts what the SDKs sign (control for the properties below)', () => {
    fc.assert(
      fc.property(signedArb, (s) => {
        expect(verify(s)).toEqual({ ok: true });
      }),
      { numRuns: RUNS },
    );
  });

  it('never throws, whatever the method, paths, query, body and clock', () => {
    fc.assert(
      fc.property(
        appArb,
        fc.oneof(methodArb, text(10)),
        fc.array(fc.oneof(pathArb, text(60)), { minLength: 1, maxLength: 3 }),
        fc.oneof(
          text(300),
          fc
            .array(fc.tuple(fc.constantFrom('auth_key', 'auth_timestamp', 'auth_signature', 'auth_version', 'body_md5', 'AUTH_KEY', 'info', ''), text(70)), {
              maxLength: 8,
            })
            .map((ps) => ps.map(([k, v]) => `${k}=${v}`).join('&')),
        ),
        fc.option(
          fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
          { nil: undefined },
        ),
        fc.oneof(fc.constant(NOW_S * 1000), fc.integer(), fc.double()),
        (app, method, paths, query, rawBody, nowMs) => {
          const err = thrown(() => verifyApiRequest({ app, method, paths, params: parseQueryString(query), rawBody, nowMs }));
          expect(err).toBeUndefined();
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('never accepts a signature that was not made with the secret (random hex, another secret, the key as secret)', () => {
    fc.assert(
      fc.property(signedArb, secretArb, hex(64), fc.nat({ max: 2 }), (s, other, randomSig, how) => {
        fc.pre(other !== s.app.secret);
        const sigOf = (secret: string) => {
          const ps = pairs(s.query).filter(([k]) => k !== 'auth_signature');
          const params = parseQueryString(join(ps));
          const keys = [...params.keys()].sort();
          const toSign = `${s.method}\n${s.path}\n${keys.map((k) => `${k}=${params.get(k)}`).join('&')}`;
          return createHmac('sha256', secret).update(toSign).digest('hex');
        };
        const forged = how === 0 ? randomSig : how === 1 ? sigOf(other) : sigOf(s.app.key);
        fc.pre(forged !== sigOf(s.app.secret));
        const query = join(pairs(s.query).map(([k, v]) => [k, k === 'auth_signature' ? forged : v]));
        expect(verify(s, { query }).ok).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('refuses every mutation of a valid request (method, path, params, body, timestamp, signature, key, secret)', () => {
    const mutation = fc.constantFrom(
      'method',
      'path-append',
      'path-change',
      'param-change',
      'param-add',
      'param-remove',
      'body-flip',
      'body-append',
      'body-drop',
      'timestamp',
      'signature-flip',
      'signature-upper',
      'key',
      'secret',
    );
    fc.assert(
      fc.property(signedArb, mutation, fc.nat(), fc.string({ minLength: 1, maxLength: 5 }).filter(wellFormed), (s, m, n, extra) => {
        const ps = pairs(s.query);
        const over: Partial<Signed> & { rawBody?: Buffer | undefined } = {};
        switch (m) {
          case 'method':
            over.method = s.method === 'GET' ? 'POST' : 'GET';
            break;
          case 'path-append':
            over.path = s.path + (extra === '/' ? 'x' : extra);
            break;
          case 'path-change': {
            const i = n % s.path.length;
            const c = s.path[i] === 'a' ? 'b' : 'a';
            over.path = s.path.slice(0, i) + c + s.path.slice(i + 1);
            break;
          }
          case 'param-change': {
            const i = n % ps.length;
            const [k, v] = ps[i]!;
            const decoded = parseQueryString(`x=${v}`).get('x')!;
            const nv = encodeURIComponent(decoded + extra);
            if (k === 'auth_signature') ps[i] = [k, v.slice(0, -1) + (v.endsWith('0') ? '1' : '0')];
            else ps[i] = [k, nv];
            over.query = join(ps);
            break;
          }
          case 'param-add': {
            const names = new Set(ps.map(([k]) => k));
            const k = ['info', 'filter_by_prefix', 'socket_id', 'x', 'zz_extra'].find((x) => !names.has(x))!;
            over.query = join([...ps, [k, encodeURIComponent(extra)]]);
            break;
          }
          case 'param-remove': {
            const candidates = ps.filter(([k]) => k !== 'auth_signature');
            const victim = candidates[n % candidates.length]![0];
            over.query = join(ps.filter(([k]) => k !== victim));
            break;
          }
          case 'body-flip': {
            if (s.body === undefined || s.body === '') over.rawBody = Buffer.from(extra);
            else {
              const b = Buffer.from(s.body);
              b[n % b.length] = b[n % b.length]! ^ 0x01;
              over.rawBody = b;
            }
            break;
          }
          case 'body-append':
            over.rawBody = Buffer.concat([Buffer.from(s.body ?? ''), Buffer.from(extra)]);
            break;
          case 'body-drop':
            fc.pre(s.body !== undefined && s.body !== '');
            over.rawBody = undefined;
            break;
          case 'timestamp':
            over.query = join(ps.map(([k, v]) => [k, k === 'auth_timestamp' ? String(Number(v) + (n % 2 ? 1 : -1)) : v]));
            break;
          case 'signature-flip':
            over.query = join(
              ps.map(([k, v]) => [k, k === 'auth_signature' ? v.slice(0, n % 64) + (v[n % 64] === 'f' ? 'e' : 'f') + v.slice((n % 64) + 1) : v]),
            );
            break;
          case 'signature-upper':
            fc.pre(/[a-f]/.test(ps.find(([k]) => k === 'auth_signature')![1]));
            over.query = join(ps.map(([k, v]) => [k, k === 'auth_signature' ? v.toUpperCase() : v]));
            break;
          case 'key':
            over.app = { key: s.app.key + 'x', secret: s.app.secret };
            break;
          case 'secret':
            over.app = { key: s.app.key, secret: s.app.secret + 'x' };
            break;
        }
        const r = verify(s, over);
        expect(r.ok, `${m}: ${JSON.stringify(over)}`).toBe(false);
        if (!r.ok) expect([400, 401]).toContain(r.status);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('accepts a valid signature exactly within ±600 s of the server clock', () => {
    fc.assert(
      fc.property(appArb, methodArb, pathArb, fc.integer({ min: -3 * API_TIMESTAMP_WINDOW_S, max: 3 * API_TIMESTAMP_WINDOW_S }), (app, method, path, skew) => {
        const query = signApiRequest({ key: app.key, secret: app.secret, method, path, timestamp: NOW_S + skew });
        const r = verifyApiRequest({ app, method, paths: [path], params: parseQueryString(query), rawBody: undefined, nowMs: NOW_S * 1000 });
        expect(r.ok).toBe(Math.abs(skew) <= API_TIMESTAMP_WINDOW_S);
      }),
      { numRuns: RUNS },
    );
    // The edges, explicitly.
    const app = { key: 'k', secret: 'secretsecret' };
    for (const [skew, ok] of [
      [-600, true],
      [600, true],
      [-601, false],
      [601, false],
    ] as const) {
      const query = signApiRequest({ ...app, method: 'GET', path: '/apps/1/channels', timestamp: NOW_S + skew });
      expect(
        verifyApiRequest({ app, method: 'GET', paths: ['/apps/1/channels'], params: parseQueryString(query), rawBody: undefined, nowMs: NOW_S * 1000 }).ok,
      ).toBe(ok);
    }
  });

  it('body_md5 is checked over the exact bytes: a body with no or a wrong body_md5 is refused', () => {
    fc.assert(
      fc.property(appArb, fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.boolean(), (app, bytes, omit) => {
        const body = Buffer.from(bytes);
        const params: Record<string, string> = omit
          ? {}
          : {
              body_md5: createHash('md5')
                .update(Buffer.concat([body, Buffer.from('x')]))
                .digest('hex'),
            };
        const query = signApiRequest({ key: app.key, secret: app.secret, method: 'POST', path: '/apps/1/events', params, timestamp: NOW_S });
        const r = verifyApiRequest({ app, method: 'POST', paths: ['/apps/1/events'], params: parseQueryString(query), rawBody: body, nowMs: NOW_S * 1000 });
        expect(r).toMatchObject({ ok: false, status: 401 });
      }),
      { numRuns: RUNS },
    );
  });
});
