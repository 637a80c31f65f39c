import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakePlatform, json, type FakeSocket } from '../test/fake-platform.js';
import type { StateChange } from './connection.js';
import type { PushErrorEvent } from './frames.js';
import { Push } from './index.js';
import type { PushOptions } from './push.js';

const KEY = 'app-key';
const flush = () => vi.advanceTimersByTimeAsync(0);

let pushes: Push[] = [];
function makePush(fake: ReturnType<typeof createFakePlatform>, extra: Partial<PushOptions> = {}) {
  const push = new Push({ url: 'ws://push.test:3131', app_key: KEY, auth: '/auth', platform: fake.platform, ...extra });
  const errors: PushErrorEvent[] = [];
  push.connection.on('error', (e: PushErrorEvent) => errors.push(e));
  pushes.push(push);
  return { push, errors };
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.spyOn(Math, 'random').mockReturnValue(0.5);
});
afterEach(() => {
  for (const p of pushes) p.disconnect();
  pushes = [];
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe('connection', () => {
  it('connects to <url>/app/<key> with the protocol query and walks the states', () => {
    const fake = createFakePlatform();
    const states: StateChange[] = [];
    const { push } = makePush(fake);
    push.connection.on('state_change', (s: StateChange) => states.push(s));
    const connected = vi.fn();
    push.connection.on('connected', connected);
    expect(fake.socket.url).toBe('ws://push.test:3131/app/app-key?protocol=7&client=herald-js&version=0.1.0&flash=false');
    expect(push.connection.state).toBe('connecting');
    fake.socket.establish('12.34');
    expect(push.connection.state).toBe('connected');
    expect(push.connection.socket_id).toBe('12.34');
    expect(states).toEqual([{ previous: 'connecting', current: 'connected' }]);
    expect(connected).toHaveBeenCalledTimes(1);
    expect(Push.instances).toContain(push);
  });

  it('strips trailing slashes from url', () => {
    const fake = createFakePlatform();
    makePush(fake, { url: 'wss://example.com/' });
    expect(fake.socket.url.startsWith('wss://example.com/app/app-key?')).toBe(true);
  });

  it('requires url and app_key', () => {
    const fake = createFakePlatform();
    expect(() => new Push({ url: '', app_key: KEY, platform: fake.platform })).toThrow(/url/);
    expect(() => new Push({ url: 'ws://x', app_key: '', platform: fake.platform })).toThrow(/app_key/);
  });

  it('answers a server ping with a pong', () => {
    const fake = createFakePlatform();
    makePush(fake);
    fake.socket.establish();
    fake.socket.receive({ event: 'pusher:ping', data: '{}' });
    expect(fake.socket.events('pusher:pong')).toEqual([{ event: 'pusher:pong', data: {} }]);
  });

  it('reports pusher:error as an error event and stays connected', () => {
    const fake = createFakePlatform();
    const { push, errors } = makePush(fake);
    fake.socket.establish();
    expect(() => fake.socket.receive({ event: 'pusher:error', data: { code: null, message: 'Client event rejected' } })).not.toThrow();
    expect(errors).toEqual([{ type: 'PusherError', code: null, message: 'Client event rejected', data: { code: null, message: 'Client event rejected' } }]);
    expect(push.connection.state).toBe('connected');
  });

  it('reports a frame that is not JSON instead of throwing', () => {
    const fake = createFakePlatform();
    const { errors } = makePush(fake);
    fake.socket.establish();
    fake.socket.receive('not json');
    expect(errors.map((e) => e.type)).toEqual(['InvalidFrame']);
  });

  it('gives up on a handshake that never completes, then retries', async () => {
    const fake = createFakePlatform();
    makePush(fake, { pingTimeout: 2000 });
    fake.socket.open();
    await vi.advanceTimersByTimeAsync(2000);
    expect(fake.sockets[0]!.closedByClient).toBeDefined();
    await vi.advanceTimersByTimeAsync(500); // backoff: 0.5 × 1000
    expect(fake.sockets).toHaveLength(2);
  });
});

describe('heartbeat', () => {
  it('pings every heartbeat ms; a frame within pingTimeout keeps the socket', async () => {
    const fake = createFakePlatform();
    makePush(fake, { heartbeat: 1000, pingTimeout: 500 });
    fake.socket.establish('1.1', 120);
    await vi.advanceTimersByTimeAsync(999);
    expect(fake.socket.events('pusher:ping')).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.socket.events('pusher:ping')).toEqual([{ event: 'pusher:ping', data: {} }]);
    await vi.advanceTimersByTimeAsync(400);
    // Any frame counts, not only a pong.
    fake.socket.receive({ event: 'news', channel: 'x', data: '{}' });
    await vi.advanceTimersByTimeAsync(600);
    expect(fake.socket.events('pusher:ping')).toHaveLength(2);
    fake.socket.receive({ event: 'pusher:pong', data: '{}' });
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.socket.events('pusher:ping')).toHaveLength(3);
    expect(fake.sockets).toHaveLength(1);
    expect(fake.socket.closedByClient).toBeUndefined();
  });

  it('without any frame within pingTimeout after a ping, closes and reconnects at once', async () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake, { heartbeat: 1000, pingTimeout: 500 });
    fake.socket.establish();
    await vi.advanceTimersByTimeAsync(1499);
    expect(fake.sockets[0]!.closedByClient).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.sockets[0]!.closedByClient).toBeDefined();
    expect(push.connection.state).toBe('disconnected');
    // 4201-like: "reconnect now", i.e. within the small jitter (0.5 × 250 ms).
    await vi.advanceTimersByTimeAsync(125);
    expect(fake.sockets).toHaveLength(2);
    expect(push.connection.state).toBe('connecting');
  });

  it("pings sooner when the server's activity_timeout is shorter than heartbeat", async () => {
    const fake = createFakePlatform();
    makePush(fake, { heartbeat: 25_000 });
    fake.socket.establish('1.1', 5);
    await vi.advanceTimersByTimeAsync(5000);
    expect(fake.socket.events('pusher:ping')).toHaveLength(1);
  });
});

describe('reconnect policy', () => {
  it('backs off with jitter after an ordinary close, and resubscribes every channel', async () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const ch = push.subscribe('news');
    fake.socket.establish('1.1');
    fake.socket.succeed('news');
    expect(ch.subscribed).toBe(true);
    const delays: number[] = [];
    push.connection.on('reconnecting', (r: { delayMs: number }) => delays.push(r.delayMs));
    fake.socket.serverClose(1006);
    expect(ch.subscribed).toBe(false);
    expect(push.connection.state).toBe('disconnected');
    expect(push.connection.socket_id).toBeUndefined();
    await vi.advanceTimersByTimeAsync(499);
    expect(fake.sockets).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(fake.sockets).toHaveLength(2);
    // The second attempt fails too: the ceiling has doubled.
    fake.socket.serverClose(1006);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.sockets).toHaveLength(3);
    expect(delays).toEqual([500, 1000]);
    fake.socket.establish('1.2');
    expect(fake.socket.events('pusher:subscribe')).toEqual([{ event: 'pusher:subscribe', data: { auth: '', channel: 'news' } }]);
    // Connected again: the next failure starts from the first ceiling.
    fake.socket.serverClose(1001);
    expect(delays.at(-1)).toBe(500);
  });

  it('4000-4099: stays disconnected and reports it', async () => {
    const fake = createFakePlatform();
    const { push, errors } = makePush(fake);
    fake.socket.establish();
    fake.socket.serverClose(4001, 'Application does not exist');
    await vi.advanceTimersByTimeAsync(120_000);
    expect(fake.sockets).toHaveLength(1);
    expect(push.connection.state).toBe('disconnected');
    expect(errors).toEqual([{ type: 'Refused', code: 4001, message: 'Application does not exist' }]);
    push.connect();
    expect(fake.sockets).toHaveLength(2);
  });

  it('4100-4199: backs off, never sooner than minDelayMs', async () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake, { reconnect: { minDelayMs: 1000, maxDelayMs: 8000 } });
    const delays: number[] = [];
    push.connection.on('reconnecting', (r: { delayMs: number }) => delays.push(r.delayMs));
    fake.socket.establish();
    fake.socket.serverClose(4100, 'Over capacity');
    expect(delays).toEqual([1000]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(fake.sockets).toHaveLength(2);
  });

  it('4200-4299: reconnects at once (small jitter), without growing the back-off', async () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const delays: number[] = [];
    push.connection.on('reconnecting', (r: { delayMs: number }) => delays.push(r.delayMs));
    fake.socket.establish();
    fake.socket.serverClose(4200, 'Server is shutting down, please reconnect');
    await vi.advanceTimersByTimeAsync(125);
    expect(fake.sockets).toHaveLength(2);
    fake.socket.serverClose(1006);
    expect(delays).toEqual([125, 500]);
  });

  it('a socket error counts as a failure once, even if close follows', async () => {
    const fake = createFakePlatform();
    const { push, errors } = makePush(fake);
    const delays: number[] = [];
    push.connection.on('reconnecting', (r: { delayMs: number }) => delays.push(r.delayMs));
    fake.socket.error();
    fake.sockets[0]!.serverClose(1006);
    expect(delays).toEqual([500]);
    expect(errors.map((e) => e.type)).toEqual(['WebSocketError']);
  });

  it('offline: no attempts at all; back online: reconnects at once', async () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    fake.socket.establish();
    fake.setOnline(false);
    fake.socket.serverClose(1006);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(fake.sockets).toHaveLength(1);
    expect(push.connection.state).toBe('disconnected');
    fake.setOnline(true);
    expect(fake.sockets).toHaveLength(2);
    expect(push.connection.state).toBe('connecting');
  });

  it('going offline during a back-off cancels it; online retries now', async () => {
    const fake = createFakePlatform();
    makePush(fake, { reconnect: { minDelayMs: 20_000, maxDelayMs: 60_000 } });
    fake.socket.serverClose(1006);
    fake.setOnline(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fake.sockets).toHaveLength(1);
    fake.setOnline(true);
    expect(fake.sockets).toHaveLength(2);
  });

  it('disconnect() closes, stops reconnecting and leaves Push.instances; connect() resumes', async () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const ch = push.subscribe('news');
    fake.socket.establish();
    push.disconnect();
    expect(fake.sockets[0]!.closedByClient).toEqual({ code: 1000, reason: 'Client disconnect' });
    expect(push.connection.state).toBe('disconnected');
    expect(Push.instances).not.toContain(push);
    expect(fake.networkListeners()).toBe(0);
    await vi.advanceTimersByTimeAsync(120_000);
    expect(fake.sockets).toHaveLength(1);
    push.connect();
    fake.socket.establish('1.9');
    expect(fake.socket.events('pusher:subscribe')).toHaveLength(1);
    expect(ch.subscribed).toBe(false);
    expect(Push.instances).toContain(push);
  });
});

describe('channels', () => {
  it('subscribe returns the existing channel; channel() and allChannels() work', () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const a = push.subscribe('a');
    expect(push.subscribe('a')).toBe(a);
    const b = push.subscribe('b');
    expect(push.channel('a')).toBe(a);
    expect(push.channel('zz')).toBeUndefined();
    expect(push.allChannels()).toEqual([a, b]);
    expect(a.channelName).toBe('a');
  });

  it('subscribes public channels with an empty auth, and emits subscription_succeeded', () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const ch = push.subscribe('news');
    expect(fake.socket.sent).toEqual([]);
    fake.socket.establish();
    expect(fake.socket.sent).toEqual([{ event: 'pusher:subscribe', data: { auth: '', channel: 'news' } }]);
    const ok = vi.fn();
    ch.on('pusher:subscription_succeeded', ok);
    fake.socket.succeed('news');
    expect(ch.subscribed).toBe(true);
    expect(ok).toHaveBeenCalledTimes(1);
    // A channel subscribed while connected goes out at once.
    push.subscribe('later');
    expect(fake.socket.sent.at(-1)).toEqual({ event: 'pusher:subscribe', data: { auth: '', channel: 'later' } });
  });

  it('a listener of `connected` that subscribes does not subscribe twice', () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    push.connection.on('connected', () => push.subscribe('from-listener'));
    fake.socket.establish();
    expect(fake.socket.events('pusher:subscribe')).toHaveLength(1);
  });

  it('delivers JSON data parsed, other strings raw, with `this` = ctx and the metadata', () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const ch = push.subscribe('news');
    fake.socket.establish();
    const got: unknown[] = [];
    const ctx = { tag: 'ctx' };
    ch.on(
      'message',
      function (this: unknown, data: unknown, meta: unknown) {
        got.push([this, data, meta]);
      },
      ctx,
    );
    fake.socket.receive({ event: 'message', channel: 'news', data: '{"text":"hi"}' });
    fake.socket.receive({ event: 'message', channel: 'news', data: 'plain text, not JSON' });
    fake.socket.receive({ event: 'message', channel: 'news', data: { already: 'object' } });
    fake.socket.receive({ event: 'message', channel: 'news', data: '"x"', user_id: 'u1' });
    fake.socket.receive({ event: 'message', channel: 'other', data: '{}' });
    expect(got).toEqual([
      [ctx, { text: 'hi' }, {}],
      [ctx, 'plain text, not JSON', {}],
      [ctx, { already: 'object' }, {}],
      [ctx, 'x', { user_id: 'u1' }],
    ]);
  });

  it('off(), bind/unbind and global listeners', () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const ch = push.subscribe('news');
    fake.socket.establish();
    const a = vi.fn();
    const b = vi.fn();
    const g = vi.fn();
    ch.bind('e', a).on('e', b).bind_global(g);
    ch.unbind('e', a);
    fake.socket.receive({ event: 'e', channel: 'news', data: '1' });
    expect(a).not.toHaveBeenCalled();
    expect(b).toHaveBeenCalledWith(1, {});
    expect(g).toHaveBeenCalledWith('e', 1, {});
    ch.off();
    fake.socket.receive({ event: 'e', channel: 'news', data: '2' });
    expect(b).toHaveBeenCalledTimes(1);
  });

  it('trigger: throws without the client- prefix; queues until subscribed, then flushes in order', () => {
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:sig` }));
    const { push } = makePush(fake);
    const ch = push.subscribe('private-chat');
    expect(() => ch.trigger('message', {})).toThrow("Event 'message' should start with 'client-'");
    expect(ch.trigger('client-a', { n: 1 })).toBe(false);
    expect(ch.trigger('client-b', { n: 2 })).toBe(false);
    fake.socket.establish();
    expect(fake.socket.events('client-a')).toHaveLength(0);
    return flush().then(() => {
      fake.socket.succeed('private-chat');
      expect(fake.socket.sent.filter((f) => f.event.startsWith('client-'))).toEqual([
        { event: 'client-a', channel: 'private-chat', data: { n: 1 } },
        { event: 'client-b', channel: 'private-chat', data: { n: 2 } },
      ]);
      expect(ch.trigger('client-c', 3)).toBe(true);
      expect(ch.queue).toHaveLength(0);
    });
  });

  it('unsubscribe sends pusher:unsubscribe and forgets the channel; unsubscribeAll empties', () => {
    const fake = createFakePlatform();
    const { push } = makePush(fake);
    const a = push.subscribe('a');
    push.subscribe('b');
    fake.socket.establish();
    a.unsubscribe();
    expect(fake.socket.sent.at(-1)).toEqual({ event: 'pusher:unsubscribe', data: { channel: 'a' } });
    expect(push.channel('a')).toBeUndefined();
    push.unsubscribeAll();
    expect(push.allChannels()).toEqual([]);
    expect(fake.socket.events('pusher:unsubscribe')).toHaveLength(2);
  });
});

describe('private channels', () => {
  it('POSTs socket_id then channel_name (then params), form-urlencoded, with headers', async () => {
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:abc` }));
    const { push } = makePush(fake, { headers: { 'X-CSRF-Token': 't0k' }, params: () => ({ uid: '7' }) });
    push.subscribe('private-a;b');
    fake.socket.establish('123.456');
    await flush();
    expect(fake.calls).toHaveLength(1);
    const { req } = fake.calls[0]!;
    expect(req).toEqual({
      url: '/auth',
      method: 'POST',
      headers: { 'X-CSRF-Token': 't0k', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'socket_id=123.456&channel_name=private-a%3Bb&uid=7',
    });
    expect(fake.socket.sent).toEqual([{ event: 'pusher:subscribe', data: { auth: `${KEY}:abc`, channel: 'private-a;b' } }]);
  });

  it('re-authorizes with the new socket id after a reconnect', async () => {
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:abc` }));
    const { push } = makePush(fake);
    push.subscribe('private-a');
    fake.socket.establish('1.1');
    await flush();
    fake.socket.serverClose(4200);
    await vi.advanceTimersByTimeAsync(250);
    fake.socket.establish('1.2');
    await flush();
    expect(fake.calls.map((c) => c.body.get('socket_id'))).toEqual(['1.1', '1.2']);
    expect(fake.socket.events('pusher:subscribe')).toHaveLength(1);
  });

  it('drops an auth answer that arrives after the socket it was for is gone', async () => {
    let answer!: (r: { status: number; body: string }) => void;
    const fake = createFakePlatform(() => new Promise((r) => (answer = r)));
    const { push } = makePush(fake);
    push.subscribe('private-a');
    fake.sockets[0]!.establish('1.1');
    await flush();
    fake.sockets[0]!.serverClose(1006);
    answer(json(200, { auth: `${KEY}:old` }));
    await flush();
    expect(fake.sockets[0]!.events('pusher:subscribe')).toHaveLength(0);
  });

  it('an auth failure is a subscription_error on the channel and an error event, never a throw', async () => {
    const fake = createFakePlatform(() => json(403, { error: 'forbidden' }));
    const { push, errors } = makePush(fake);
    const ch = push.subscribe('private-a');
    const failed = vi.fn();
    ch.on('pusher:subscription_error', failed);
    fake.socket.establish();
    await flush();
    expect(failed).toHaveBeenCalledWith({ type: 'AuthError', error: 'Channel auth endpoint /auth answered HTTP 403', status: 403 });
    expect(errors).toMatchObject([{ type: 'AuthError', channel: 'private-a', status: 403 }]);
    expect(fake.socket.events('pusher:subscribe')).toHaveLength(0);
    expect(ch.subscriptionPending).toBe(false);
  });

  it('the authorizer hook replaces the HTTP call', async () => {
    const fake = createFakePlatform();
    const authorizer = vi.fn(async (channel: string, socketId: string) => ({ auth: `${KEY}:${socketId}:${channel}` }));
    const { push } = makePush(fake, { authorizer });
    push.subscribe('private-x');
    fake.socket.establish('5.6');
    await flush();
    expect(fake.calls).toHaveLength(0);
    expect(authorizer).toHaveBeenCalledWith('private-x', '5.6');
    expect(fake.socket.sent).toEqual([{ event: 'pusher:subscribe', data: { auth: `${KEY}:5.6:private-x`, channel: 'private-x' } }]);
  });
});

describe('presence channels', () => {
  it('tracks members, me, member_added and member_removed', async () => {
    const channelData = JSON.stringify({ user_id: 'alice', user_info: { name: 'Alice' } });
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:sig`, channel_data: channelData }));
    const { push } = makePush(fake);
    const room = push.subscribe('presence-room');
    fake.socket.establish();
    await flush();
    expect(fake.socket.sent).toEqual([{ event: 'pusher:subscribe', data: { auth: `${KEY}:sig`, channel_data: channelData, channel: 'presence-room' } }]);
    const succeeded = vi.fn();
    const added = vi.fn();
    const removed = vi.fn();
    room.on('pusher:subscription_succeeded', succeeded).on('pusher:member_added', added).on('pusher:member_removed', removed);
    fake.socket.succeed('presence-room', JSON.stringify({ presence: { ids: ['alice', 'bob'], hash: { alice: { name: 'Alice' }, bob: null }, count: 2 } }));
    expect(succeeded).toHaveBeenCalledWith(room.members);
    expect(room.members.count).toBe(2);
    expect(room.members.me).toEqual({ id: 'alice', info: { name: 'Alice' } });
    expect(room.members.get('bob')).toEqual({ id: 'bob', info: null });
    const each: string[] = [];
    room.members.each((m) => each.push(m.id));
    expect(each).toEqual(['alice', 'bob']);

    fake.socket.receive({ event: 'pusher_internal:member_added', channel: 'presence-room', data: JSON.stringify({ user_id: 42, user_info: { name: 'C' } }) });
    expect(added).toHaveBeenCalledWith({ id: '42', info: { name: 'C' } });
    expect(room.members.count).toBe(3);
    fake.socket.receive({ event: 'pusher_internal:member_removed', channel: 'presence-room', data: JSON.stringify({ user_id: 'bob' }) });
    expect(removed).toHaveBeenCalledWith({ id: 'bob', info: null });
    expect(room.members.count).toBe(2);
    // webman/push also told the leaver about itself: ignored.
    fake.socket.receive({ event: 'pusher_internal:member_removed', channel: 'presence-room', data: JSON.stringify({ user_id: 'alice' }) });
    expect(room.members.count).toBe(2);

    fake.socket.serverClose(1006);
    expect(room.members.count).toBe(0);
    expect(room.members.me).toBeUndefined();
  });
});

describe('encrypted channels', () => {
  // docs/reference/auth.md#worked-examples: the encrypted payload.
  const SECRET = 'g3Au6SZ+UCU+IMfFsFva0rq+Gi4tzSHR6WCcWZbS9sY=';
  const WRONG = `${'A'.repeat(43)}=`;
  const PAYLOAD = JSON.stringify({ nonce: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYX', ciphertext: 'JudJzMunSIiVrODAo+lfpUsGJzgoj596PYEg0Ekt7UbHsg5iiqAaZxI=' });

  async function setup(secrets: string[]) {
    let i = 0;
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:sig`, shared_secret: secrets[Math.min(i++, secrets.length - 1)] }));
    const made = makePush(fake);
    const ch = made.push.subscribe('private-encrypted-foobar');
    const got = vi.fn();
    ch.on('my-event', got);
    fake.socket.establish('1234.1234');
    await flush();
    fake.socket.succeed('private-encrypted-foobar');
    return { ...made, fake, ch, got };
  }

  it('decrypts with the shared_secret and never sends it to the server', async () => {
    const { fake, got } = await setup([SECRET]);
    expect(fake.socket.sent).toEqual([{ event: 'pusher:subscribe', data: { auth: `${KEY}:sig`, channel: 'private-encrypted-foobar' } }]);
    fake.socket.receive({ event: 'my-event', channel: 'private-encrypted-foobar', data: PAYLOAD });
    expect(got).toHaveBeenCalledWith({ message: 'hello world' }, {});
  });

  it('on a decrypt failure re-authorizes once and retries', async () => {
    const { fake, got, errors } = await setup([WRONG, SECRET]);
    fake.socket.receive({ event: 'my-event', channel: 'private-encrypted-foobar', data: PAYLOAD });
    fake.socket.receive({ event: 'my-event', channel: 'private-encrypted-foobar', data: PAYLOAD });
    expect(got).not.toHaveBeenCalled();
    await flush();
    expect(fake.calls).toHaveLength(2);
    expect(got).toHaveBeenCalledTimes(2);
    expect(errors).toEqual([]);
  });

  it('drops the event when the fresh key fails too', async () => {
    const { fake, got, errors } = await setup([WRONG]);
    fake.socket.receive({ event: 'my-event', channel: 'private-encrypted-foobar', data: PAYLOAD });
    await flush();
    expect(got).not.toHaveBeenCalled();
    expect(errors.map((e) => e.type)).toEqual(['DecryptionError']);
    // The next event goes through the same once-only retry.
    fake.socket.receive({ event: 'my-event', channel: 'private-encrypted-foobar', data: PAYLOAD });
    await flush();
    expect(fake.calls).toHaveLength(3);
  });

  it('fails the subscription without a shared_secret, and refuses client events', async () => {
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:sig` }));
    const { push, errors } = makePush(fake);
    const ch = push.subscribe('private-encrypted-x');
    fake.socket.establish();
    await flush();
    expect(fake.socket.events('pusher:subscribe')).toHaveLength(0);
    expect(errors).toMatchObject([{ type: 'AuthError', channel: 'private-encrypted-x' }]);
    expect(() => ch.trigger('client-x', {})).toThrow(/not supported on encrypted channels/);
  });
});

describe('user sign-in', () => {
  it('signs in through userAuthEndpoint, then receives events sent to the user, again after a reconnect', async () => {
    const userData = JSON.stringify({ id: 'u1', user_info: { name: 'U' } });
    const fake = createFakePlatform(() => json(200, { auth: `${KEY}:usig`, user_data: userData }));
    const { push } = makePush(fake, { userAuthEndpoint: '/user-auth' });
    push.signin();
    let s: FakeSocket = fake.socket;
    s.establish('1.1');
    await flush();
    expect(fake.calls[0]!.req.url).toBe('/user-auth');
    expect(fake.calls[0]!.req.body).toBe('socket_id=1.1');
    expect(s.events('pusher:signin')).toEqual([{ event: 'pusher:signin', data: { auth: `${KEY}:usig`, user_data: userData } }]);
    const ok = vi.fn();
    const notice = vi.fn();
    push.user.on('pusher:signin_success', ok).on('notice', notice);
    s.receive({ event: 'pusher:signin_success', data: { user_data: userData } });
    expect(ok).toHaveBeenCalledTimes(1);
    expect(push.user.id).toBe('u1');
    expect(push.user.signedIn).toBe(true);
    expect(s.events('pusher:subscribe')).toEqual([{ event: 'pusher:subscribe', data: { auth: '', channel: '#server-to-user-u1' } }]);
    s.receive({ event: 'notice', channel: '#server-to-user-u1', data: '{"n":1}' });
    expect(notice).toHaveBeenCalledWith({ n: 1 });

    s.serverClose(4200);
    expect(push.user.signedIn).toBe(false);
    await vi.advanceTimersByTimeAsync(250);
    s = fake.socket;
    s.establish('1.2');
    await flush();
    expect(fake.calls.map((c) => c.body.get('socket_id'))).toEqual(['1.1', '1.2']);
    expect(s.events('pusher:signin')).toHaveLength(1);
  });

  it('a failed user auth is a pusher:signin_error on push.user', async () => {
    const fake = createFakePlatform(() => json(500, {}));
    const { push } = makePush(fake);
    const failed = vi.fn();
    push.user.on('pusher:signin_error', failed);
    fake.socket.establish();
    push.signin();
    await flush();
    expect(failed).toHaveBeenCalledWith(expect.objectContaining({ type: 'SigninError', status: 500 }));
    expect(fake.socket.events('pusher:signin')).toHaveLength(0);
  });
});
