import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createFakeHttpStream, createFakePlatform, framesLine } from '../test/fake-platform.js';
import type { PushErrorEvent } from './frames.js';
import { Push } from './index.js';
import type { PushOptions } from './push.js';
import { FIRST_TRANSPORT_RETRY_MS } from './transport-selector.js';

// push.js falling back from the WebSocket to the HTTP transports, over fake sockets and a fake
// HTTP client, with fake timers (Math.random is 0.5: a back-off of n ms waits n/2).

const KEY = 'app-key';
const QUERY = '?protocol=7&client=herald-js&version=0.1.0&flash=false';
const established = (socketId: string, activityTimeout = 120) => ({
  event: 'pusher:connection_established',
  data: JSON.stringify({ socket_id: socketId, activity_timeout: activityTimeout }),
});

let pushes: Push[] = [];
function setup(extra: Partial<PushOptions> = {}, streaming = true) {
  const fake = createFakePlatform();
  const http = createFakeHttpStream(streaming);
  fake.platform.httpStream = http.client;
  const push = new Push({ url: 'ws://push.test:3131', app_key: KEY, auth: '/auth', platform: fake.platform, ...extra });
  const errors: PushErrorEvent[] = [];
  push.connection.on('error', (e: PushErrorEvent) => errors.push(e));
  pushes.push(push);
  return { fake, http, push, errors };
}

/** Both WebSocket attempts fail before opening (a proxy refusing the upgrade): 500 ms back-off, then 125 ms jitter. */
async function refuseWebSocketTwice(fake: ReturnType<typeof createFakePlatform>) {
  fake.socket.error();
  await vi.advanceTimersByTimeAsync(500);
  fake.socket.error();
  await vi.advanceTimersByTimeAsync(125);
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

describe('HTTP fallback', () => {
  it('falls back to xhr_streaming on the same host and port after two failed WebSocket opens', async () => {
    const { fake, http, push, errors } = setup();
    const reconnecting: unknown[] = [];
    push.connection.on('reconnecting', (r: unknown) => reconnecting.push(r));
    expect(push.connection.transport).toBe('ws');
    await refuseWebSocketTwice(fake);
    expect(fake.sockets).toHaveLength(2);
    expect(reconnecting).toEqual([
      { delayMs: 500, code: 1006, transport: 'ws' },
      { delayMs: 125, code: 1006, transport: 'xhr_streaming' },
    ]);
    expect(errors.map((e) => [e.type, e.message])).toEqual([
      ['WebSocketError', 'WebSocket error'],
      ['WebSocketError', 'WebSocket error'],
    ]);
    const stream = http.last('xhr_streaming');
    const [prefix, server, session, path] = stream.req.url.split('/').slice(-4);
    expect(stream.req.url.startsWith(`http://push.test:3131/pusher/app/${KEY}/`)).toBe(true);
    expect([prefix, server, session, path]).toEqual([
      KEY,
      expect.stringMatching(/^\d{1,3}$/),
      expect.stringMatching(/^[0-9a-v]{16}$/),
      `xhr_streaming${QUERY}`,
    ]);
    expect(push.connection.state).toBe('connecting');
    expect(push.connection.transport).toBe('xhr_streaming');

    stream.answer(`o\n${framesLine(established('7.7'))}`);
    expect(push.connection.state).toBe('connected');
    expect(push.connection.socket_id).toBe('7.7');

    const news = push.subscribe('news');
    const got: unknown[] = [];
    news.on('update', (d: unknown) => got.push(d));
    expect(http.sent()).toEqual([{ event: 'pusher:subscribe', data: { auth: '', channel: 'news' } }]);
    http.last('xhr_send').answer('', 204).end();
    stream.more(
      framesLine({ event: 'pusher_internal:subscription_succeeded', channel: 'news', data: '{}' }, { event: 'update', channel: 'news', data: '{"n":1}' }),
    );
    expect(news.subscribed).toBe(true);
    expect(got).toEqual([{ n: 1 }]);
  });

  it('derives https from wss, and keeps a path prefix', () => {
    const { fake, http } = setup({ url: 'wss://example.com/realtime/', transports: ['xhr_polling'] });
    expect(fake.sockets).toHaveLength(0);
    expect(http.last('xhr').req.url).toMatch(new RegExp(`^https://example\\.com/realtime/pusher/app/${KEY}/\\d+/[0-9a-v]{16}/xhr\\?protocol=7&`));
  });

  it('reconnects straight over the transport that worked, and resubscribes', async () => {
    const { fake, http, push } = setup({ reconnect: { minDelayMs: 1000, maxDelayMs: 1000 } });
    push.subscribe('news');
    await refuseWebSocketTwice(fake);
    http.last('xhr_streaming').answer(`o\n${framesLine(established('1.1'))}`);
    http.last('xhr_send').answer('', 204).end();
    http.last('xhr_streaming').more('c[4200,"Gateway stopping"]\n');
    expect(push.connection.state).toBe('disconnected');
    await vi.advanceTimersByTimeAsync(125); // 4200: reconnect now
    expect(fake.sockets).toHaveLength(2); // no new WebSocket
    const second = http.last('xhr_streaming');
    expect(http.of('xhr_streaming')).toHaveLength(2);
    expect(second.req.url.split('/').slice(-3, -1)).not.toEqual(http.of('xhr_streaming')[0]!.req.url.split('/').slice(-3, -1)); // a new session
    second.answer(`o\n${framesLine(established('1.2'))}`);
    expect(push.connection.state).toBe('connected');
    expect(http.sent()).toEqual([
      { event: 'pusher:subscribe', data: { auth: '', channel: 'news' } },
      { event: 'pusher:subscribe', data: { auth: '', channel: 'news' } },
    ]);
  });

  it(`tries the WebSocket first again on a reconnect ${FIRST_TRANSPORT_RETRY_MS / 60_000} minutes after falling back`, async () => {
    const { fake, http, push } = setup({ heartbeat: 60 * 60_000 });
    await refuseWebSocketTwice(fake);
    http.last('xhr_streaming').answer(`o\n${framesLine(established('1.1', 3600))}`);
    await vi.advanceTimersByTimeAsync(FIRST_TRANSPORT_RETRY_MS);
    http.last('xhr_streaming').more('c[4200,"Gateway stopping"]\n');
    await vi.advanceTimersByTimeAsync(125);
    expect(fake.sockets).toHaveLength(3);
    fake.socket.establish('2.1');
    expect(push.connection.transport).toBe('ws');
    expect(push.connection.state).toBe('connected');
  });

  it('moves from a stream that never delivers (a buffering proxy) to long polling at the handshake timeout', async () => {
    const { fake, http, push } = setup({ pingTimeout: 3000 });
    await refuseWebSocketTwice(fake);
    const stream = http.last('xhr_streaming').answer('');
    await vi.advanceTimersByTimeAsync(3000);
    expect(stream.aborted).toBe(true);
    await vi.advanceTimersByTimeAsync(125);
    expect(push.connection.transport).toBe('xhr_polling');
    http
      .last('xhr')
      .answer(`o\n${framesLine(established('3.1'))}`)
      .end();
    expect(push.connection.state).toBe('connected');
    expect(http.of('xhr')).toHaveLength(2); // the next poll is out
  });

  it('goes back to the WebSocket when the HTTP transport gets no answer either (the server is down)', async () => {
    const { fake, http, push, errors } = setup();
    await refuseWebSocketTwice(fake);
    http.last('xhr_streaming').error();
    expect(errors.at(-1)).toMatchObject({ type: 'TransportError', message: 'xhr_streaming request failed' });
    await vi.advanceTimersByTimeAsync(1000); // back-off: third failure, 0.5 × 2000
    expect(push.connection.transport).toBe('ws');
    expect(fake.sockets).toHaveLength(3);
  });

  it('does not fall back from a server that refused the connection (4000-4099)', async () => {
    const { fake, http, push, errors } = setup();
    fake.socket.open();
    fake.socket.serverClose(4001, 'App key not found');
    await vi.advanceTimersByTimeAsync(60_000);
    expect(push.connection.state).toBe('disconnected');
    expect(http.exchanges).toHaveLength(0);
    expect(errors.map((e) => e.type)).toEqual(['Refused']);
  });

  it('leaves its channels before a disconnect over HTTP, so presence does not wait for the session to expire', async () => {
    const { fake, http, push } = setup({ authorizer: () => Promise.resolve({ auth: 'k:s', channel_data: '{"user_id":"1"}' }) });
    await refuseWebSocketTwice(fake);
    const stream = http.last('xhr_streaming').answer(`o\n${framesLine(established('1.1'))}`);
    push.subscribe('presence-room');
    push.subscribe('news');
    await vi.advanceTimersByTimeAsync(0);
    http.last('xhr_send').answer('', 204).end();
    stream.more(
      framesLine(
        { event: 'pusher_internal:subscription_succeeded', channel: 'news', data: '{}' },
        { event: 'pusher_internal:subscription_succeeded', channel: 'presence-room', data: '{"presence":{"ids":["1"],"hash":{"1":null},"count":1}}' },
      ),
    );
    push.disconnect();
    expect(stream.aborted).toBe(true);
    expect(http.sent().filter((f) => f.event === 'pusher:unsubscribe')).toEqual([
      { event: 'pusher:unsubscribe', data: { channel: 'presence-room' } },
      { event: 'pusher:unsubscribe', data: { channel: 'news' } },
    ]);
  });

  it('uses only the listed transports, and only those the platform can run', async () => {
    const ws = setup({ transports: ['ws'] });
    await refuseWebSocketTwice(ws.fake);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(ws.http.exchanges).toHaveLength(0);

    // A platform that cannot stream (uni-app) goes from the WebSocket to polling.
    const polling = setup({}, false);
    await refuseWebSocketTwice(polling.fake);
    expect(polling.push.connection.transport).toBe('xhr_polling');

    const noHttp = createFakePlatform();
    expect(() => new Push({ url: 'ws://x', app_key: KEY, platform: noHttp.platform, transports: ['xhr_streaming', 'xhr_polling'] })).toThrow(
      /none of the transports xhr_streaming, xhr_polling can run here/,
    );
    for (const bad of [[], ['ws', 'ws'], ['sockjs'], 'ws']) {
      expect(() => new Push({ url: 'ws://x', app_key: KEY, platform: noHttp.platform, transports: bad as never })).toThrow(/transports must be/);
    }
  });
});
