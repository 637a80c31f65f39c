/**
 * Hostile and malformed client input (docs/reference/protocol.md (#frames, #subscribe, #channel-kinds)): every case checks
 * the documented reply (or silence), what happens to the offending socket, and that a
 * well-behaved subscriber of a public channel on the same gateway still gets an API trigger
 * afterwards.
 *
 * "Nothing happened" is proven with a later marker on the same socket: a client ping for frames
 * the server handles synchronously (parse errors), a subscribe to a fresh public channel for
 * frames that go through the per-socket handler queue (subscribe, unsubscribe, client events).
 */
import { describe, expect, it } from 'vitest';
import { connectPusherJs, expectOpen, type Frame, RawClient, startTestGateway, subscribeAndWait, type TestGateway, waitForState } from '@herald/test-support';

type GatewayOpts = Parameters<typeof startTestGateway>[0];

/** Waits for a frame received at or after index `mark`; fails at once if the socket closes first. */
async function waitAfter(c: RawClient, mark: number, pred: (f: Frame) => boolean, timeoutMs = 15_000): Promise<Frame> {
  const found = c.waitFor((f) => c.frames.indexOf(f) >= mark && pred(f), timeoutMs);
  const closed = c.closed.then((code): never => {
    throw new Error(`socket closed with ${code} instead; frames since mark: ${JSON.stringify(c.frames.slice(mark)).slice(0, 500)}`);
  });
  return Promise.race([found, closed]);
}

/** Sends `frame` then a ping; returns what the server sent in between (handled synchronously). */
async function framesBeforePong(c: RawClient, send: () => void): Promise<Frame[]> {
  const mark = c.frames.length;
  send();
  c.send({ event: 'pusher:ping', data: {} });
  const pong = await waitAfter(c, mark, (f) => f.event === 'pusher:pong');
  return c.frames.slice(mark, c.frames.indexOf(pong));
}

let markers = 0;
/** Sends `frame` then subscribes to a fresh public channel; returns what came before its success. */
async function framesBeforeMarker(c: RawClient, send: () => void): Promise<Frame[]> {
  const mark = c.frames.length;
  send();
  const channel = `marker-${++markers}`;
  c.send({ event: 'pusher:subscribe', data: { auth: '', channel } });
  const ok = await waitAfter(c, mark, (f) => f.channel === channel && f.event === 'pusher_internal:subscription_succeeded');
  return c.frames.slice(mark, c.frames.indexOf(ok));
}

const softError = (message?: string | RegExp) => ({
  event: 'pusher:error',
  data: { code: null, message: message === undefined ? expect.any(String) : typeof message === 'string' ? message : expect.stringMatching(message) },
});

const subscriptionFailure = (channel: string, type: string, status?: number) => [
  { event: 'pusher:subscription_error', channel, data: { type, error: expect.any(String), status: status ?? expect.any(Number) } },
  softError(),
];

/**
 * A gateway, the socket under test, and a bystander subscribed to the public channel `bystander`
 * whose `undisturbed()` proves an API trigger still reaches it.
 */
async function setup(opts?: GatewayOpts) {
  const t = await startTestGateway(opts);
  let bystander: RawClient | undefined;
  let c: RawClient | undefined;
  try {
    bystander = await RawClient.established(t);
    await bystander.subscribe('bystander');
    c = await RawClient.established(t);
  } catch (err) {
    await bystander?.[Symbol.asyncDispose]();
    await t.close();
    throw err;
  }
  const by = bystander;
  let n = 0;
  return {
    t,
    c,
    bystander: by,
    async undisturbed() {
      const id = ++n;
      await t.sdk.trigger('bystander', 'check', { id });
      await waitAfter(by, 0, (f) => f.event === 'check' && f.channel === 'bystander' && f.data === JSON.stringify({ id }));
      await expectOpen(by);
    },
    async [Symbol.asyncDispose]() {
      await c[Symbol.asyncDispose]();
      await by[Symbol.asyncDispose]();
      await t.close();
    },
  };
}

const api = async <T>(t: TestGateway, path: string, params?: Record<string, string>): Promise<T> => {
  const res = await t.sdk.get({ path, ...(params ? { params } : {}) });
  return (await res.json()) as T;
};

describe('frames that are not valid protocol JSON', () => {
  it.each([
    ['truncated object', '{"event":"pusher:ping"'],
    ['single quotes', "{'event':'pusher:ping'}"],
    ['plain text', 'hello'],
    ['empty frame', ''],
    ['whitespace', ' \n '],
    ['trailing garbage', '{"event":"pusher:ping"} x'],
    ['NaN', 'NaN'],
  ])('invalid JSON (%s): pusher:error code null "Received invalid JSON", socket stays open', async (_name, text) => {
    await using s = await setup();
    expect(await framesBeforePong(s.c, () => s.c.send(text))).toEqual([softError('Received invalid JSON')]);
    await expectOpen(s.c);
    await s.undisturbed();
  });

  it.each([
    ['an array', '[]'],
    ['an array holding a frame', '[{"event":"pusher:ping"}]'],
    ['a number', '42'],
    ['a string', '"x"'],
    ['null', 'null'],
    ['a boolean', 'true'],
    ['an empty object', '{}'],
    ['an object without event', '{"data":{},"channel":"x"}'],
    ['event a number', '{"event":42}'],
    ['event null', '{"event":null}'],
    ['event an object', '{"event":{"name":"pusher:ping"}}'],
    ['event an array', '{"event":["pusher:ping"]}'],
  ])('JSON that is not a frame (%s): same error, socket stays open', async (_name, text) => {
    await using s = await setup();
    expect(await framesBeforePong(s.c, () => s.c.send(text))).toEqual([softError('Received invalid JSON')]);
    await expectOpen(s.c);
    await s.undisturbed();
  });

  it('text frame with invalid UTF-8: the server closes that socket (RFC 6455: 1007), others unaffected', async () => {
    await using s = await setup();
    s.c.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
    expect([1007, 1006]).toContain(await s.c.closed);
    await s.undisturbed();
  });
});

describe('events a client may not send', () => {
  it.each(['pusher:foo', 'pusher:subscription_succeeded', 'pusher:connection_established', 'pusher:error'])(
    'unknown %s event: ignored (no reply, no error)',
    async (event) => {
      await using s = await setup();
      expect(await framesBeforePong(s.c, () => s.c.send({ event, data: {} }))).toEqual([]);
      expect(await framesBeforeMarker(s.c, () => s.c.send({ event, channel: 'x', data: 'x' }))).toEqual([]);
      await expectOpen(s.c);
      await s.undisturbed();
    },
  );

  it.each(['pusher_internal:subscription_succeeded', 'pusher_internal:member_added', 'pusher_internal:anything'])(
    '%s from a client: pusher:error code null, socket stays open, nothing is relayed',
    async (event) => {
      await using s = await setup();
      const seen = s.bystander.frames.length;
      const frames = await framesBeforePong(s.c, () => s.c.send({ event, channel: 'bystander', data: '{"presence":{"ids":[],"hash":{},"count":0}}' }));
      expect(frames).toEqual([softError(/pusher_internal/)]);
      await expectOpen(s.c);
      await s.undisturbed();
      expect(s.bystander.frames.slice(seen).filter((f) => f.event === event)).toEqual([]);
    },
  );

  it.each(['my-event', 'Client-x', 'clientx', 'pusher', 'pusher_foo', ''])(
    'event %j (neither pusher: nor client-): pusher:error code null, socket stays open',
    async (event) => {
      await using s = await setup();
      expect(await framesBeforePong(s.c, () => s.c.send({ event, channel: 'bystander', data: {} }))).toEqual([softError()]);
      await expectOpen(s.c);
      await s.undisturbed();
      expect(s.bystander.frames.filter((f) => f.event === event)).toEqual([]);
    },
  );
});

describe('type-confused pusher:subscribe frames', () => {
  it.each([
    ['data a number', { event: 'pusher:subscribe', data: 42 }],
    ['data a plain string', { event: 'pusher:subscribe', data: 'bystander' }],
    ['data an array', { event: 'pusher:subscribe', data: ['bystander'] }],
    ['data null', { event: 'pusher:subscribe', data: null }],
    ['data missing', { event: 'pusher:subscribe' }],
    ['channel a number', { event: 'pusher:subscribe', data: { auth: '', channel: 42 } }],
    ['channel an object', { event: 'pusher:subscribe', data: { auth: '', channel: { name: 'bystander' } } }],
    ['channel an array', { event: 'pusher:subscribe', data: { auth: '', channel: ['bystander'] } }],
    ['channel null', { event: 'pusher:subscribe', data: { auth: '', channel: null } }],
    ['channel missing', { event: 'pusher:subscribe', data: { auth: '' } }],
  ])('%s: InvalidChannel subscription_error + pusher:error, socket stays open', async (_name, frame) => {
    await using s = await setup();
    expect(await framesBeforeMarker(s.c, () => s.c.send(frame))).toEqual(subscriptionFailure('', 'InvalidChannel'));
    await expectOpen(s.c);
    await s.undisturbed();
  });

  it.each([
    ['auth a number', 'private-x', { auth: 12345 }],
    ['auth an object', 'private-x', { auth: { key: 'k' } }],
    ['auth missing', 'private-x', {}],
    ['auth without signature', 'private-x', { auth: 'key-only' }],
    ['channel_data an object on a presence channel', 'presence-x', { auth: 'k:sig', channel_data: { user_id: '1' } }],
    ['channel_data a number on a presence channel', 'presence-x', { auth: 'k:sig', channel_data: 1 }],
    ['no auth on a presence channel', 'presence-x', { channel_data: '{"user_id":"1"}' }],
  ])('%s: AuthError subscription_error + pusher:error, socket stays open', async (_name, channel, extra) => {
    await using s = await setup();
    const frames = await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:subscribe', data: { channel, ...extra } }));
    expect(frames).toEqual(subscriptionFailure(channel, 'AuthError'));
    await expectOpen(s.c);
    await s.undisturbed();
    expect(await api(s.t, `/channels/${channel}`)).toEqual({ occupied: false });
  });

  it('a double-encoded data string holding an object is tolerated', async () => {
    await using s = await setup();
    expect(await s.c.subscribe('dbl')).toEqual({ event: 'pusher_internal:subscription_succeeded', channel: 'dbl', data: '{}' });
    await using d = await RawClient.established(s.t);
    d.send({ event: 'pusher:subscribe', data: JSON.stringify({ auth: '', channel: 'dbl-2' }) });
    await d.waitFor((f) => f.event === 'pusher_internal:subscription_succeeded' && f.channel === 'dbl-2');
    await s.undisturbed();
  });

  it('type-confused unsubscribe / signin / client events: errors or silence, never a close', async () => {
    await using s = await setup();
    for (const data of [42, 'x', null, [], { channel: 42 }, { channel: {} }]) {
      expect(await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:unsubscribe', data }))).toEqual([]);
    }
    for (const data of [42, 'x', null, [], { auth: 1, user_data: {} }, { auth: 'a:b', user_data: 42 }]) {
      const frames = await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:signin', data }));
      expect(frames).toEqual([{ event: 'pusher:error', data: { code: 4009, message: expect.any(String) } }]);
    }
    for (const channel of [42, null, {}, ['private-x'], undefined, 'bystander', 'private-not-joined']) {
      const frames = await framesBeforeMarker(s.c, () => s.c.send({ event: 'client-x', channel, data: { a: 1 } }));
      expect(frames).toEqual([softError(/^Client event rejected/)]);
    }
    await expectOpen(s.c);
    await s.undisturbed();
    expect(s.bystander.events('client-x')).toEqual([]);
  });

  it('a client event with deeply nested data (within maxPayloadLength) is refused with pusher:error, socket kept', async () => {
    await using s = await setup();
    const channel = 'private-deep';
    await using peer = await RawClient.established(s.t);
    for (const c of [s.c, peer]) {
      const { auth } = s.t.sdk.authorizeChannel(c.socketId, channel);
      expect((await c.subscribe(channel, { auth })).event).toBe('pusher_internal:subscription_succeeded');
    }
    const depth = 20_000;
    const text = `{"event":"client-deep","channel":"${channel}","data":${'['.repeat(depth)}${']'.repeat(depth)}}`;
    expect(text.length).toBeLessThan(64 * 1024);
    const frames = await framesBeforeMarker(s.c, () => s.c.send(text));
    expect(frames).toEqual([softError(/^Client event rejected/)]);
    await expectOpen(s.c);
    // The peer got nothing from it: its next frame is a normal relay.
    s.c.send({ event: 'client-after', channel, data: { ok: true } });
    await peer.waitFor((f) => f.event === 'client-after');
    expect(peer.events('client-deep')).toEqual([]);
    await s.undisturbed();
  });
});

describe('frame size and type', () => {
  it('a frame of exactly maxPayloadLength is served; one byte more closes that socket only', async () => {
    await using s = await setup({ maxPayloadLength: 1024 });
    const frame = (size: number) => {
      const head = '{"event":"pusher:ping","data":{"pad":"';
      const tail = '"}}';
      return head + 'x'.repeat(size - head.length - tail.length) + tail;
    };
    expect(Buffer.byteLength(frame(1024))).toBe(1024);
    expect(await framesBeforePong(s.c, () => s.c.send(frame(1024)))).toEqual([]);
    await using big = await RawClient.established(s.t);
    big.send(frame(1025));
    expect([1009, 1006]).toContain(await big.closed);
    await expectOpen(s.c);
    await s.undisturbed();
  });

  it('an oversized (2 KB over a 1 KiB limit) frame closes the socket (1009/1006); others unaffected', async () => {
    await using s = await setup({ maxPayloadLength: 1024 });
    await s.c.subscribe('victim-chan');
    s.c.send({ event: 'pusher:subscribe', data: { auth: '', channel: 'x'.repeat(2048) } });
    expect([1009, 1006]).toContain(await s.c.closed);
    await s.undisturbed();
    // The server ran its close handling for that socket: its subscription is gone.
    await expect.poll(async () => (await api<{ channels: object }>(s.t, '/channels')).channels).toEqual({ bystander: {} });
  });

  it('an oversized frame over the default 64 KiB limit closes the socket', async () => {
    await using s = await setup();
    s.c.send({ event: 'client-x', channel: 'private-x', data: 'y'.repeat(70 * 1024) });
    expect([1009, 1006]).toContain(await s.c.closed);
    await s.undisturbed();
  });

  it('a binary frame is ignored (even one holding a valid ping), socket stays open', async () => {
    await using s = await setup();
    const mark = s.c.frames.length;
    s.c.ws.send(Buffer.from('{"event":"pusher:ping","data":{}}'), { binary: true });
    s.c.ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    s.c.ws.send(Buffer.from('{"event":"pusher:subscribe","data":{"channel":"bin"}}'), { binary: true });
    // An invalid-JSON text frame as marker: its error is sent synchronously, after anything the
    // binary frames would have caused.
    s.c.send('marker');
    const err = await waitAfter(s.c, mark, (f) => f.event === 'pusher:error');
    expect(s.c.frames.slice(mark, s.c.frames.indexOf(err) + 1)).toEqual([softError('Received invalid JSON')]);
    expect(await framesBeforeMarker(s.c, () => undefined)).toEqual([]);
    expect(s.c.rawFrames.length).toBe(s.c.frames.length);
    await expectOpen(s.c);
    expect(await api(s.t, '/channels/bin')).toEqual({ occupied: false });
    await s.undisturbed();
  });
});

describe('subscription bookkeeping', () => {
  it('subscribing twice to the same channel: succeeded again, counted once', async () => {
    await using s = await setup();
    const ok = { event: 'pusher_internal:subscription_succeeded', channel: 'x', data: '{}' };
    expect(await s.c.subscribe('x')).toEqual(ok);
    const frames = await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:subscribe', data: { auth: '', channel: 'x' } }));
    expect(frames).toEqual([ok]);
    expect(await api(s.t, '/channels/x', { info: 'subscription_count' })).toEqual({ occupied: true, subscription_count: 1 });
    // One subscription, so one delivery.
    await s.t.sdk.trigger('x', 'once', {});
    await s.undisturbed();
    await s.c.waitFor((f) => f.event === 'once');
    expect(await framesBeforeMarker(s.c, () => undefined)).toEqual([]);
    expect(s.c.events('once')).toHaveLength(1);
    // One unsubscribe is enough to leave it.
    s.c.send({ event: 'pusher:unsubscribe', data: { channel: 'x' } });
    await expect.poll(() => api(s.t, '/channels/x', { info: 'subscription_count' })).toEqual({ occupied: false, subscription_count: 0 });
  });

  it('unsubscribing from a channel never joined: silence, socket open', async () => {
    await using s = await setup();
    expect(await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:unsubscribe', data: { channel: 'never' } }))).toEqual([]);
    expect(await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:unsubscribe', data: { channel: 'bystander' } }))).toEqual([]);
    await expectOpen(s.c);
    // Unsubscribing from a channel only the bystander joined must not take the bystander out.
    expect(await api(s.t, '/channels/bystander', { info: 'subscription_count' })).toEqual({ occupied: true, subscription_count: 1 });
    await s.undisturbed();
  });

  it.each([
    ['201 characters', 'a'.repeat(201)],
    ['a space', 'a b'],
    ['a colon', 'a:b'],
    ['a non-ASCII letter', 'é'],
    ['an emoji', 'chan-😀'],
    ['the empty string', ''],
    ['a # name', '#foo'],
    ['#server-to-user- with a control character in the id', '#server-to-user-a\tb'],
    ['a trailing newline', 'abc\n'],
    ['a NUL', 'a\u0000b'],
    ['a slash', 'a/b'],
  ])('invalid channel name (%s): InvalidChannel subscription_error + pusher:error, socket open', async (_name, channel) => {
    await using s = await setup();
    const frames = await framesBeforeMarker(s.c, () => s.c.send({ event: 'pusher:subscribe', data: { auth: '', channel } }));
    expect(frames).toEqual(subscriptionFailure(channel, 'InvalidChannel'));
    await expectOpen(s.c);
    await s.undisturbed();
    const { channels } = await api<{ channels: Record<string, unknown> }>(s.t, '/channels');
    expect(Object.keys(channels).filter((n) => !n.startsWith('marker-'))).toEqual(['bystander']);
  });

  it('a 200-character name with every allowed character class is accepted', async () => {
    await using s = await setup();
    const channel = '-_=@,.;aZ09'.repeat(18).padEnd(200, 'z');
    expect(channel).toHaveLength(200);
    expect((await s.c.subscribe(channel)).event).toBe('pusher_internal:subscription_succeeded');
    await s.undisturbed();
  });
});

/** Deterministic PRNG (mulberry32), so a failing burst can be replayed. */
function rng(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function garbageFrames(seed: number, n: number): string[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const str = (max: number) =>
    Array.from({ length: Math.floor(r() * max) }, () => String.fromCharCode(r() < 0.8 ? 32 + Math.floor(r() * 95) : Math.floor(r() * 0xffff))).join('');
  const events = [
    'pusher:subscribe',
    'pusher:unsubscribe',
    'pusher:signin',
    'pusher:ping',
    'pusher:pong',
    'pusher:foo',
    'pusher_internal:subscription_succeeded',
    'client-x',
    'client-',
    'my-event',
    '',
    'pusher:',
  ];
  const channels = [
    'pub-1',
    'pub-2',
    'pub-3',
    'private-a',
    'presence-a',
    'private-encrypted-a',
    'cache-a',
    '#server-to-user-1',
    '',
    'a b',
    'x'.repeat(201),
    'é',
    'bystander',
  ];
  const value = (depth: number): unknown => {
    const k = Math.floor(r() * (depth > 3 ? 5 : 8));
    switch (k) {
      case 0:
        return null;
      case 1:
        return r() < 0.5;
      case 2:
        return Math.floor(r() * 1e6) - 5e5;
      case 3:
        return str(20);
      case 4:
        return pick(channels);
      case 5:
        return Array.from({ length: Math.floor(r() * 4) }, () => value(depth + 1));
      default: {
        const o: Record<string, unknown> = {};
        for (let i = Math.floor(r() * 4); i > 0; i--) o[pick(['channel', 'auth', 'channel_data', 'user_data', 'event', 'data', str(5)])] = value(depth + 1);
        return o;
      }
    }
  };
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const kind = r();
    if (kind < 0.25) {
      out.push(str(200));
    } else if (kind < 0.35) {
      const ok = JSON.stringify({ event: pick(events), data: value(0) });
      out.push(ok.slice(0, Math.floor(r() * ok.length)));
    } else if (kind < 0.45) {
      out.push(JSON.stringify(value(0)));
    } else {
      const frame: Record<string, unknown> = { event: r() < 0.9 ? pick(events) : value(2) };
      if (r() < 0.8) frame.data = r() < 0.6 ? { channel: pick(channels), auth: value(3), channel_data: value(3) } : value(0);
      if (r() < 0.5) frame.channel = r() < 0.8 ? pick(channels) : value(2);
      out.push(JSON.stringify(frame));
    }
  }
  return out;
}

describe('abuse', () => {
  it('a 1000-frame burst of garbage and random JSON: the socket still pongs, the server still serves', async () => {
    await using s = await setup();
    const frames = garbageFrames(0x5eed, 1000);
    for (const f of frames) s.c.send(f);
    await expectOpen(s.c);
    // The handler queue is not stuck either.
    await framesBeforeMarker(s.c, () => undefined);

    const p = connectPusherJs(s.t);
    try {
      await waitForState(p, 'connected');
      const ch = await subscribeAndWait(p, 'after-burst');
      const got: unknown[] = [];
      ch.bind('evt', (d: unknown) => got.push(d));
      await s.t.sdk.trigger('after-burst', 'evt', { ok: 1 });
      await expect.poll(() => got).toEqual([{ ok: 1 }]);
    } finally {
      p.disconnect();
    }
    await s.undisturbed();
    // Nothing the garbage could have produced leaked to the bystander.
    expect(s.bystander.frames.map((f) => f.event)).toEqual(
      expect.arrayContaining(['pusher:connection_established', 'pusher_internal:subscription_succeeded', 'check']),
    );
    expect(
      s.bystander.frames.filter((f) => !['pusher:connection_established', 'pusher_internal:subscription_succeeded', 'check', 'pusher:pong'].includes(f.event)),
    ).toEqual([]);
  });

  it('50 sockets terminated right after sending a presence subscribe leave no member and no channel behind', async () => {
    await using s = await setup();
    const channel = 'presence-x';
    // A presence member that stays: every member_added it sees must be followed by a member_removed.
    const { auth: obsAuth, channel_data: obsData } = s.t.sdk.authorizeChannel(s.c.socketId, channel, { user_id: 'observer' });
    expect((await s.c.subscribe(channel, { auth: obsAuth, channel_data: obsData })).event).toBe('pusher_internal:subscription_succeeded');

    const victims = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const v = await RawClient.established(s.t);
        const { auth, channel_data } = s.t.sdk.authorizeChannel(v.socketId, channel, { user_id: `u${i}`, user_info: { i } });
        // Vary the moment of the cut: right away, or after a few of our own turns of the event loop.
        for (let k = 0; k < i % 5; k++) await new Promise((r) => setImmediate(r));
        v.send({ event: 'pusher:subscribe', data: { auth, channel, channel_data } });
        v.ws.terminate();
        return v;
      }),
    );
    await Promise.all(victims.map((v) => v.closed));

    await expect.poll(() => api(s.t, `/channels/${channel}/users`)).toEqual({ users: [{ id: 'observer' }] });
    const ids = (name: string) =>
      s.c
        .events(name)
        .map((f) => (JSON.parse(f.data as string) as { user_id: string }).user_id)
        .sort();
    await expect.poll(() => ids('pusher_internal:member_removed')).toEqual(ids('pusher_internal:member_added'));
    expect(await api(s.t, '/channels', {})).toEqual({ channels: { bystander: {}, [channel]: {} } });
    expect(await api(s.t, `/channels/${channel}`, { info: 'user_count,subscription_count' })).toEqual({
      occupied: true,
      user_count: 1,
      subscription_count: 1,
    });
    await expectOpen(s.c);
    await s.undisturbed();

    // Once the observer and the bystander leave too, nothing at all is left.
    s.c.close();
    s.bystander.close();
    await Promise.all([s.c.closed, s.bystander.closed]);
    await expect.poll(() => api(s.t, `/channels/${channel}/users`)).toEqual({ users: [] });
    await expect.poll(() => api(s.t, '/channels')).toEqual({ channels: {} });
  });
});
