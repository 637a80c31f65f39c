import { createHash, randomBytes } from 'node:crypto';
import Pusher from 'pusher';
import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  connectPusherJs,
  expectOpen,
  type Frame,
  marker,
  type PusherClient,
  RawClient,
  sdkFor,
  startAuthServer,
  startTestGateway,
  subscribeAndWait,
  type TestGateway,
  waitForState,
} from '@herald/test-support';

/** Integration tests: public, private, encrypted and cache channels, client events, per-connection limits. */

const SUCCEEDED = 'pusher_internal:subscription_succeeded';
const SUB_ERROR = 'pusher:subscription_error';
const ERROR = 'pusher:error';

type ErrorData = { code: number | null; message: string };
type SubErrorData = { type: string; error: string; status: number };

const onChannel = (c: RawClient, channel: string) => c.frames.filter((f) => f.channel === channel);
const errors = (c: RawClient) => c.events(ERROR).map((f) => f.data as ErrorData);

/** The official SDK with an encryption master key: it can authorize and trigger on private-encrypted- channels. */
const encryptingSdk = (t: TestGateway) => sdkFor(t.app, t, { encryptionMasterKeyBase64: randomBytes(32).toString('base64') });

/** Subscribes a raw client to a private (or private-encrypted) channel with a valid signature. */
function subscribePrivate(t: TestGateway, c: RawClient, channel: string, sdk: Pusher = t.sdk) {
  const { auth } = sdk.authorizeChannel(c.socketId, channel);
  return c.subscribe(channel, { auth });
}

/** Subscribes a raw client to a presence channel with a valid signature over `member`. */
function subscribePresence(t: TestGateway, c: RawClient, channel: string, member: { user_id: string; user_info?: unknown }) {
  const a = t.sdk.authorizeChannel(c.socketId, channel, member as never);
  return c.subscribe(channel, { auth: a.auth, channel_data: a.channel_data });
}

async function connected(t: TestGateway, opts: Parameters<typeof connectPusherJs>[1] = {}): Promise<PusherClient> {
  const client = connectPusherJs(t, opts);
  await waitForState(client, 'connected');
  return client;
}

describe('public channels', () => {
  it('pusher-js subscribes and receives an SDK-triggered event', async () => {
    await using t = await startTestGateway();
    const client = await connected(t);
    try {
      const ch = await subscribeAndWait(client, 'news');
      const got: unknown[] = [];
      ch.bind('headline', (d: unknown) => got.push(d));
      await t.sdk.trigger('news', 'headline', { title: 'Herald ships', n: 1 });
      await expect.poll(() => got).toEqual([{ title: 'Herald ships', n: 1 }]);
    } finally {
      client.disconnect();
    }
  });

  it('passes event data byte for byte, including non-JSON strings', async () => {
    await using t = await startTestGateway();
    await using raw = await RawClient.established(t);
    expect((await raw.subscribe('bytes')).event).toBe(SUCCEEDED);
    const client = await connected(t);
    try {
      const ch = await subscribeAndWait(client, 'bytes');
      const viaJs: unknown[] = [];
      ch.bind('plain', (d: unknown) => viaJs.push(d));
      const payloads = ['hello', '{"b": 2,  "a":[1, 2 ]}', '{"t":"\\u00e9 é 🚀 \\"q\\""}', ' 42 ', ''];
      for (const p of payloads) await t.sdk.trigger('bytes', 'plain', p);
      const obj = { z: 1, a: [true, null], s: 'x/y' };
      await t.sdk.trigger('bytes', 'obj', obj);
      await expect.poll(() => raw.events('obj').length).toBe(1);
      expect(raw.events('plain').map((f) => f.data)).toEqual(payloads);
      // The SDK JSON-encodes objects once; the server must not touch that string.
      expect(raw.events('obj')[0]!.data).toBe(JSON.stringify(obj));
      // pusher-js hands a non-JSON payload to the app as the raw string.
      await expect.poll(() => viaJs.length).toBe(payloads.length);
      expect(viaJs[0]).toBe('hello');
    } finally {
      client.disconnect();
    }
  });

  it('an event triggered to two channels a socket has both gives two frames', async () => {
    await using t = await startTestGateway();
    await using raw = await RawClient.established(t);
    await raw.subscribe('room-a');
    await raw.subscribe('room-b');
    await t.sdk.trigger(['room-a', 'room-b'], 'both', 'x');
    await marker(t, 'room-a', [raw]);
    await marker(t, 'room-b', [raw]);
    const got = raw.events('both');
    expect(got.map((f) => f.channel).sort()).toEqual(['room-a', 'room-b']);
    expect(got.every((f) => f.data === 'x')).toBe(true);
  });

  it('socket_id on a trigger excludes that socket only', async () => {
    await using t = await startTestGateway();
    const excluded = await connected(t);
    const other = await connected(t);
    try {
      const got: Record<string, string[]> = { excluded: [], other: [] };
      for (const [name, c] of [
        ['excluded', excluded],
        ['other', other],
      ] as const) {
        const ch = await subscribeAndWait(c, 'excl');
        ch.bind_global((ev: string) => {
          if (!ev.startsWith('pusher:')) got[name]!.push(ev);
        });
      }
      const socketId = excluded.connection.socket_id;
      expect(socketId).toMatch(/^\d+\.\d+$/);
      await t.sdk.trigger('excl', 'not-for-you', { a: 1 }, { socket_id: socketId });
      await t.sdk.trigger('excl', 'for-everyone', { a: 2 });
      await expect.poll(() => got.excluded).toEqual(['for-everyone']);
      await expect.poll(() => got.other).toEqual(['not-for-you', 'for-everyone']);
    } finally {
      excluded.disconnect();
      other.disconnect();
    }
  });
});

describe('private channels', () => {
  it('pusher-js subscribes through the auth endpoint and receives events', async () => {
    await using t = await startTestGateway();
    await using auth = await startAuthServer(t.sdk);
    const client = await connected(t, { authEndpoint: auth.authEndpoint });
    try {
      const ch = await subscribeAndWait(client, 'private-orders');
      expect(auth.requests.map((r) => r.get('channel_name'))).toEqual(['private-orders']);
      expect(auth.requests[0]!.get('socket_id')).toBe(client.connection.socket_id);
      const got: unknown[] = [];
      ch.bind('paid', (d: unknown) => got.push(d));
      await t.sdk.trigger('private-orders', 'paid', { id: 7 });
      await expect.poll(() => got).toEqual([{ id: 7 }]);
    } finally {
      client.disconnect();
    }
  });

  const badAuth: [string, (t: TestGateway, socketId: string, channel: string) => Record<string, unknown>][] = [
    ['a wrong signature', (t) => ({ auth: `${t.app.key}:${'ab'.repeat(32)}` })],
    ['a signature for another channel', (t, s) => ({ auth: t.sdk.authorizeChannel(s, 'private-other').auth })],
    ['missing auth', () => ({ auth: undefined })],
    ['an empty auth', () => ({ auth: '' })],
    ['a wrong key', (t, s, ch) => ({ auth: `not-the-key:${t.sdk.authorizeChannel(s, ch).auth.split(':')[1]}` })],
    ['a malformed auth value', () => ({ auth: 'no-colon-here' })],
  ];

  it.each(badAuth)('%s gives subscription_error (AuthError, 401) and pusher:error code null; the socket stays open', async (_, make) => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    await using other = await RawClient.established(t);
    await subscribePrivate(t, other, 'private-vault');
    const f = await c.subscribe('private-vault', make(t, c.socketId, 'private-vault'));
    expect(f.event).toBe(SUB_ERROR);
    expect(f.channel).toBe('private-vault');
    const d = f.data as SubErrorData;
    expect(d).toMatchObject({ type: 'AuthError', status: 401 });
    expect(typeof d.error).toBe('string');
    const err = await c.waitFor((x) => x.event === ERROR);
    expect((err.data as ErrorData).code).toBeNull();
    expect(typeof (err.data as ErrorData).message).toBe('string');
    // Not subscribed: an event on the channel does not reach it, while the legitimate subscriber gets it.
    await t.sdk.trigger('private-vault', 'secret', 's');
    await other.waitFor((x) => x.event === 'secret');
    // The socket stays open and usable.
    expect((await c.subscribe('public-after-failure')).event).toBe(SUCCEEDED);
    await marker(t, 'public-after-failure', [c]);
    expect(c.events('secret')).toEqual([]);
    await expectOpen(c);
  });

  it('pusher-js reports the server refusal as pusher:subscription_error when the app signs with the wrong secret', async () => {
    await using t = await startTestGateway();
    const wrong = sdkFor({ ...t.app, secret: 'wrong-secret-123456' }, t);
    await using auth = await startAuthServer(wrong);
    const client = await connected(t, { authEndpoint: auth.authEndpoint });
    try {
      const errs: unknown[] = [];
      const ch = client.subscribe('private-denied');
      ch.bind('pusher:subscription_error', (e: unknown) => errs.push(e));
      await expect.poll(() => errs).toHaveLength(1);
      expect(errs[0]).toMatchObject({ type: 'AuthError', status: 401 });
      expect(client.connection.state).toBe('connected');
      await subscribeAndWait(client, 'public-still-works');
    } finally {
      client.disconnect();
    }
  });

  it("replaying another socket's auth fails", async () => {
    await using t = await startTestGateway();
    await using owner = await RawClient.established(t);
    await using thief = await RawClient.established(t);
    const { auth } = t.sdk.authorizeChannel(owner.socketId, 'private-mine');
    const stolen = await thief.subscribe('private-mine', { auth });
    expect(stolen.event).toBe(SUB_ERROR);
    expect(stolen.data).toMatchObject({ type: 'AuthError', status: 401 });
    expect((await owner.subscribe('private-mine', { auth })).event).toBe(SUCCEEDED);
    await expectOpen(thief);
  });
});

describe('private-encrypted channels', () => {
  it('pusher-js decrypts an event the SDK encrypted; the server relays the ciphertext untouched', async () => {
    await using t = await startTestGateway();
    const masterKey = randomBytes(32);
    const sdk = sdkFor(t.app, t, { encryptionMasterKeyBase64: masterKey.toString('base64') });
    await using auth = await startAuthServer(sdk);
    const channel = 'private-encrypted-dm';
    await using raw = await RawClient.established(t);
    expect((await subscribePrivate(t, raw, channel, sdk)).event).toBe(SUCCEEDED);
    const client = await connected(t, { authEndpoint: auth.authEndpoint });
    try {
      const ch = await subscribeAndWait(client, channel);
      const got: unknown[] = [];
      ch.bind('whisper', (d: unknown) => got.push(d));
      const secret = { text: 'meet at noon', n: 3, nested: { ok: true } };
      await sdk.trigger(channel, 'whisper', secret);
      await expect.poll(() => got).toEqual([secret]);

      // What travelled through the server: an opaque {nonce, ciphertext} string that decrypts to the data.
      const frame = await raw.waitFor((f) => f.event === 'whisper');
      expect(typeof frame.data).toBe('string');
      expect(frame.data as string).not.toContain('noon');
      const box = JSON.parse(frame.data as string) as { nonce: string; ciphertext: string };
      const key = createHash('sha256')
        .update(Buffer.concat([Buffer.from(channel), masterKey]))
        .digest();
      const plain = nacl.secretbox.open(Buffer.from(box.ciphertext, 'base64'), Buffer.from(box.nonce, 'base64'), key);
      expect(plain).not.toBeNull();
      expect(JSON.parse(Buffer.from(plain!).toString('utf8'))).toEqual(secret);
    } finally {
      client.disconnect();
    }
  });
});

describe('cache channels', () => {
  it('cache- with no event: pusher:cache_miss right after subscription_succeeded', async () => {
    await using t = await startTestGateway();
    await using raw = await RawClient.established(t);
    expect((await raw.subscribe('cache-prices')).event).toBe(SUCCEEDED);
    await raw.waitFor((f) => f.event === 'pusher:cache_miss');
    const frames = onChannel(raw, 'cache-prices');
    expect(frames.map((f) => f.event)).toEqual([SUCCEEDED, 'pusher:cache_miss']);
    const client = await connected(t);
    try {
      const misses: unknown[] = [];
      const ch = client.subscribe('cache-prices-2');
      ch.bind('pusher:cache_miss', (d: unknown) => misses.push(d));
      await expect.poll(() => misses.length).toBe(1);
    } finally {
      client.disconnect();
    }
  });

  it('a new subscriber gets the last API event right after subscription_succeeded, and only that one', async () => {
    await using t = await startTestGateway();
    await t.sdk.trigger('cache-quotes', 'quote', { px: 1 });
    await t.sdk.trigger('cache-quotes', 'quote', 'latest-raw-string');
    const client = await connected(t);
    try {
      // pusher-js delivers the cached event like any other channel event.
      const got: unknown[] = [];
      const ch = client.subscribe('cache-quotes');
      ch.bind('quote', (d: unknown) => got.push(d));
      await expect.poll(() => got).toEqual(['latest-raw-string']);
    } finally {
      client.disconnect();
    }
    await using raw = await RawClient.established(t);
    await raw.subscribe('cache-quotes');
    await raw.waitFor((f) => f.event === 'quote');
    await marker(t, 'cache-quotes', [raw]);
    const frames = onChannel(raw, 'cache-quotes');
    expect(frames.map((f) => f.event)).toEqual([SUCCEEDED, 'quote', expect.stringMatching(/^marker-/)]);
    expect(frames[1]).toEqual({ event: 'quote', channel: 'cache-quotes', data: 'latest-raw-string' });
  });

  it('client events are not cached', async () => {
    await using t = await startTestGateway();
    const channel = 'private-cache-chat';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePrivate(t, a, channel);
    await subscribePrivate(t, b, channel);
    a.send({ event: 'client-said', channel, data: { x: 1 } });
    await b.waitFor((f) => f.event === 'client-said');
    await using late = await RawClient.established(t);
    await subscribePrivate(t, late, channel);
    await late.waitFor((f) => f.channel === channel && f.event !== SUCCEEDED);
    expect(onChannel(late, channel).map((f) => f.event)).toEqual([SUCCEEDED, 'pusher:cache_miss']);

    // A client event after an API event does not replace the cached API event either.
    await t.sdk.trigger(channel, 'api-said', { y: 2 });
    a.send({ event: 'client-said', channel, data: { x: 2 } });
    await expect.poll(() => b.events('client-said').length).toBe(2);
    await using later = await RawClient.established(t);
    await subscribePrivate(t, later, channel);
    await later.waitFor((f) => f.channel === channel && f.event !== SUCCEEDED);
    expect(onChannel(later, channel).map((f) => [f.event, f.data])).toEqual([
      [SUCCEEDED, expect.anything()],
      ['api-said', '{"y":2}'],
    ]);
  });

  it.each(['private-cache-', 'presence-cache-', 'private-encrypted-cache-'])('%s channels are cached too', async (prefix) => {
    await using t = await startTestGateway();
    // An SDK with a master key, so that it can authorize and encrypt for private-encrypted-cache- too.
    const sdk = encryptingSdk(t);
    const channel = `${prefix}state`;
    const join = (c: RawClient, user: string) =>
      prefix.startsWith('presence-') ? subscribePresence(t, c, channel, { user_id: user }) : subscribePrivate(t, c, channel, sdk);
    await using first = await RawClient.established(t);
    expect((await join(first, 'u1')).event).toBe(SUCCEEDED);
    await first.waitFor((f) => f.event === 'pusher:cache_miss');
    expect(onChannel(first, channel).map((f) => f.event)).toEqual([SUCCEEDED, 'pusher:cache_miss']);
    await sdk.trigger(channel, 'snapshot', '{"v":1}');
    const live = await first.waitFor((f) => f.event === 'snapshot');
    if (!prefix.includes('encrypted')) expect(live.data).toBe('{"v":1}');
    await using second = await RawClient.established(t);
    expect((await join(second, 'u2')).event).toBe(SUCCEEDED);
    const cached = await second.waitFor((f) => f.event === 'snapshot');
    // Exactly the string that was published (for encrypted channels: the same opaque ciphertext).
    expect(cached.data).toBe(live.data);
    await marker(t, channel, [second], sdk);
    const frames = onChannel(second, channel).filter((f) => !f.event.startsWith('pusher_internal:member'));
    expect(frames.map((f) => f.event)).toEqual([SUCCEEDED, 'snapshot', expect.stringMatching(/^marker-/)]);
  });
});

describe('client events', () => {
  it('private channel: relayed to the other subscriber with data as a JSON string, never echoed to the sender', async () => {
    await using t = await startTestGateway();
    const channel = 'private-chat';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePrivate(t, a, channel);
    await subscribePrivate(t, b, channel);
    const obj = { typing: true, who: 'a', list: [1, 'two'] };
    a.send({ event: 'client-typing', channel, data: obj });
    a.send({ event: 'client-text', channel, data: 'just a string' });
    const typing = await b.waitFor((f) => f.event === 'client-typing');
    expect(typeof typing.data).toBe('string');
    expect(JSON.parse(typing.data as string)).toEqual(obj);
    expect(typing.channel).toBe(channel);
    expect('user_id' in typing).toBe(false);
    const text = await b.waitFor((f) => f.event === 'client-text');
    expect(text.data).toBe('just a string');
    await marker(t, channel, [a, b]);
    expect(a.frames.filter((f) => f.event.startsWith('client-'))).toEqual([]);
    expect(errors(a)).toEqual([]);
  });

  it('presence channel: the relayed frame carries the sender user_id', async () => {
    await using t = await startTestGateway();
    const channel = 'presence-room';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePresence(t, a, channel, { user_id: 'alice' });
    await subscribePresence(t, b, channel, { user_id: 'bob' });
    a.send({ event: 'client-wave', channel, data: { hi: 1 } });
    const got = await b.waitFor((f) => f.event === 'client-wave');
    expect(got).toEqual({ event: 'client-wave', channel, data: '{"hi":1}', user_id: 'alice' });
    await marker(t, channel, [a]);
    expect(a.events('client-wave')).toEqual([]);
  });

  it('public channel: rejected with pusher:error code null, not relayed, socket stays open', async () => {
    await using t = await startTestGateway();
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await a.subscribe('lobby');
    await b.subscribe('lobby');
    a.send({ event: 'client-shout', channel: 'lobby', data: { x: 1 } });
    const err = await a.waitFor((f) => f.event === ERROR);
    expect((err.data as ErrorData).code).toBeNull();
    expect((err.data as ErrorData).message).toMatch(/private and presence/);
    await marker(t, 'lobby', [a, b]);
    expect(b.events('client-shout')).toEqual([]);
    await expectOpen(a);
  });

  it.each(['private-encrypted-room', 'private-encrypted-cache-room'])(
    '%s: rejected as on a public channel (not relayed, socket open), so one sender cannot send every subscriber to the auth endpoint',
    async (channel) => {
      await using t = await startTestGateway();
      const sdk = encryptingSdk(t);
      await using a = await RawClient.established(t);
      await using b = await RawClient.established(t);
      await subscribePrivate(t, a, channel, sdk);
      await subscribePrivate(t, b, channel, sdk);
      a.send({ event: 'client-forged', channel, data: { ciphertext: 'not-really', nonce: 'x' } });
      const err = await a.waitFor((f) => f.event === ERROR);
      expect(err.data).toEqual({ code: null, message: 'Client event rejected - only supported on private and presence channels' });
      await marker(t, channel, [a, b], sdk);
      expect(b.events('client-forged')).toEqual([]);
      await expectOpen(a);
    },
  );

  it('a channel the sender has not joined: pusher:error, not relayed', async () => {
    await using t = await startTestGateway();
    const channel = 'private-not-mine';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePrivate(t, b, channel);
    a.send({ event: 'client-sneak', channel, data: {} });
    const err = await a.waitFor((f) => f.event === ERROR);
    expect((err.data as ErrorData).code).toBeNull();
    await marker(t, channel, [b]);
    expect(b.events('client-sneak')).toEqual([]);
    await expectOpen(a);
  });

  it('more than 10 per second: pusher:error 4301, socket stays open, events work again a second later', async () => {
    await using t = await startTestGateway();
    const channel = 'private-burst';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePrivate(t, a, channel);
    await subscribePrivate(t, b, channel);
    const start = Date.now();
    for (let i = 0; i < 11; i++) a.send({ event: 'client-n', channel, data: { i } });
    const err = await a.waitFor((f) => f.event === ERROR);
    expect((err.data as ErrorData).code).toBe(4301);
    await marker(t, channel, [b]);
    expect(b.events('client-n').map((f) => JSON.parse(f.data as string).i)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(errors(a)).toHaveLength(1);
    await expectOpen(a);
    // Keep trying: refused until the one-second window has passed, then relayed again.
    await expect
      .poll(
        () => {
          a.send({ event: 'client-later', channel, data: { at: Date.now() } });
          return b.events('client-later').length;
        },
        { interval: 100 },
      )
      .toBeGreaterThan(0);
    expect(Date.now() - start).toBeGreaterThanOrEqual(900); // not before the one-second window has passed
    expect(a.closeCode).toBeUndefined();
  });

  it('pusher-js channel.trigger works end to end', async () => {
    await using t = await startTestGateway();
    await using auth = await startAuthServer(t.sdk);
    const sender = await connected(t, { authEndpoint: auth.authEndpoint });
    const receiver = await connected(t, { authEndpoint: auth.authEndpoint });
    try {
      const sch = await subscribeAndWait(sender, 'private-js');
      const rch = await subscribeAndWait(receiver, 'private-js');
      const got: unknown[] = [];
      const echoed: unknown[] = [];
      rch.bind('client-ping', (d: unknown) => got.push(d));
      sch.bind('client-ping', (d: unknown) => echoed.push(d));
      expect(sch.trigger('client-ping', { n: 1, s: 'ok' })).toBe(true);
      await expect.poll(() => got).toEqual([{ n: 1, s: 'ok' }]);
      expect(echoed).toEqual([]);
    } finally {
      sender.disconnect();
      receiver.disconnect();
    }
  });

  it("an app with clientEvents: false refuses them with Pusher's message", async () => {
    await using t = await startTestGateway({ apps: [{ clientEvents: false }] });
    const channel = 'private-quiet';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePrivate(t, a, channel);
    await subscribePrivate(t, b, channel);
    a.send({ event: 'client-hello', channel, data: {} });
    const err = await a.waitFor((f) => f.event === ERROR);
    expect(err.data).toEqual({
      code: null,
      message: 'To send client events, you must enable this feature in the Settings page of your dashboard.',
    });
    await marker(t, channel, [b]);
    expect(b.events('client-hello')).toEqual([]);
    await expectOpen(a);
  });
});

describe('subscriptions per connection', () => {
  it('maxChannelsPerConnection 3: the 4th subscribe gets LimitReached and the socket stays open', async () => {
    await using t = await startTestGateway({ apps: [{ maxChannelsPerConnection: 3 }] });
    await using c = await RawClient.established(t);
    for (const ch of ['one', 'two', 'three']) expect((await c.subscribe(ch)).event).toBe(SUCCEEDED);
    const f = await c.subscribe('four');
    expect(f.event).toBe(SUB_ERROR);
    expect(f.channel).toBe('four');
    expect(f.data).toMatchObject({ type: 'LimitReached' });
    expect(errors(c).map((e) => e.code)).toEqual([null]);
    await expectOpen(c);
    // Not subscribed to `four`; leaving one channel frees a slot.
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'one' } });
    c.send({ event: 'pusher:subscribe', data: { auth: '', channel: 'four' } });
    await c.waitFor((x) => x.channel === 'four' && x.event === SUCCEEDED);
    await t.sdk.trigger(['one', 'four'], 'ev', 'x');
    await marker(t, 'two', [c]);
    expect(c.events('ev').map((x) => x.channel)).toEqual(['four']);
  });

  // The gateway joins a signed-in connection to `#server-to-user-<id>` itself. That internal channel
  // must not take one of the app's slots: otherwise the limit depends on whether pusher-js called
  // signin() before or after subscribing (after: 3 app channels + the user channel are accepted).
  it('maxChannelsPerConnection 3: a signed-in connection still gets 3 channels of its own', async () => {
    await using t = await startTestGateway({ apps: [{ maxChannelsPerConnection: 3 }] });
    await using c = await RawClient.established(t);
    c.send({ event: 'pusher:signin', data: t.sdk.authenticateUser(c.socketId, { id: 'limited' }) });
    await c.waitFor((f) => f.event === SUCCEEDED && f.channel === '#server-to-user-limited');
    const results: string[] = [];
    for (const ch of ['one', 'two', 'three', 'four']) results.push((await c.subscribe(ch)).event);
    expect(results).toEqual([SUCCEEDED, SUCCEEDED, SUCCEEDED, SUB_ERROR]);
  });

  it('a repeated subscribe answers subscription_succeeded again and counts once', async () => {
    await using t = await startTestGateway();
    await using c = await RawClient.established(t);
    await c.subscribe('again');
    c.send({ event: 'pusher:subscribe', data: { auth: '', channel: 'again' } });
    await expect.poll(() => c.events(SUCCEEDED).filter((f) => f.channel === 'again').length).toBe(2);
    const info = async () =>
      (await (await t.sdk.get({ path: '/channels/again', params: { info: 'subscription_count' } })).json()) as {
        occupied: boolean;
        subscription_count: number;
      };
    expect(await info()).toEqual({ occupied: true, subscription_count: 1 });
    await t.sdk.trigger('again', 'once', 'x');
    await marker(t, 'again', [c]);
    expect(c.events('once')).toHaveLength(1);
    // One unsubscribe leaves the channel (nothing was counted twice).
    c.send({ event: 'pusher:unsubscribe', data: { channel: 'again' } });
    await expect.poll(info).toEqual({ occupied: false, subscription_count: 0 });
  });
});

describe('subscription_count events', () => {
  it('subscribers hear the count as sockets join and leave (pusher-js emits pusher:subscription_count)', async () => {
    await using t = await startTestGateway({ apps: [{ subscriptionCountEvents: true }] });
    const channel = 'counted';
    const clients: PusherClient[] = [];
    const seen: number[][] = [];
    try {
      const join = async () => {
        const c = await connected(t);
        const i = clients.push(c) - 1;
        seen[i] = [];
        const ch = c.subscribe(channel);
        ch.bind('pusher:subscription_count', (d: { subscription_count: number }) => seen[i]!.push(d.subscription_count));
        await new Promise<void>((r) => ch.bind('pusher:subscription_succeeded', () => r()));
        return ch;
      };
      const last = (i: number) => seen[i]!.at(-1);
      const chA = await join();
      await expect.poll(() => last(0)).toBe(1);
      await join();
      await expect.poll(() => [last(0), last(1)]).toEqual([2, 2]);
      await using raw = await RawClient.established(t);
      await raw.subscribe(channel);
      await expect.poll(() => [last(0), last(1)]).toEqual([3, 3]);
      const rawCount = await raw.waitFor((f) => f.event === 'pusher_internal:subscription_count');
      expect(rawCount).toEqual({ event: 'pusher_internal:subscription_count', channel, data: '{"subscription_count":3}' });
      clients[1]!.disconnect();
      await expect.poll(() => last(0)).toBe(2);
      await expect
        .poll(() => raw.events('pusher_internal:subscription_count').map((f) => f.data))
        .toEqual(['{"subscription_count":3}', '{"subscription_count":2}']);
      expect(seen[0]).toEqual([1, 2, 3, 2]);
      expect(chA.subscriptionCount).toBe(2);
      // pusher:unsubscribe counts as leaving too.
      raw.send({ event: 'pusher:unsubscribe', data: { channel } });
      await expect.poll(() => last(0)).toBe(1);
      expect(seen[0]).toEqual([1, 2, 3, 2, 1]);
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('presence channels never get subscription_count, even with the switch on', async () => {
    await using t = await startTestGateway({ apps: [{ subscriptionCountEvents: true }] });
    const channel = 'presence-counted';
    await using a = await RawClient.established(t);
    await using b = await RawClient.established(t);
    await subscribePresence(t, a, channel, { user_id: 'a' });
    await subscribePresence(t, b, channel, { user_id: 'b' });
    b.send({ event: 'pusher:unsubscribe', data: { channel } });
    await a.waitFor((f) => f.event === 'pusher_internal:member_removed');
    await marker(t, channel, [a]);
    expect(a.events('pusher_internal:subscription_count')).toEqual([]);
    // ...while a public channel of the same app does get them.
    await a.subscribe('public-counted');
    await a.waitFor((f) => f.event === 'pusher_internal:subscription_count' && f.channel === 'public-counted');
  });

  it('apps without the switch never send subscription_count', async () => {
    await using t = await startTestGateway();
    await using a = await RawClient.established(t);
    await a.subscribe('uncounted');
    await using b = await RawClient.established(t);
    await b.subscribe('uncounted');
    {
      await using c = await RawClient.established(t);
      await c.subscribe('uncounted');
    }
    const info = async () =>
      (await (await t.sdk.get({ path: '/channels/uncounted', params: { info: 'subscription_count' } })).json()) as { subscription_count: number };
    await expect.poll(async () => (await info()).subscription_count).toBe(2);
    await marker(t, 'uncounted', [a, b]);
    const all: Frame[] = [...a.frames, ...b.frames];
    expect(all.filter((f) => f.event.includes('subscription_count'))).toEqual([]);
  });
});
